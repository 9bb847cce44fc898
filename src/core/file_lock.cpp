#include "faceid/core/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "faceid/core/error.hpp"

namespace faceid {

FileLock::FileLock(const std::filesystem::path& lock_file, Mode mode, double timeout_s,
                   const std::string& what) {
  fd_ = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0 && mode == Mode::shared) fd_ = ::open(lock_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    throw_io(fmt::format("{}: cannot open the lock file {}: {}", what, lock_file.string(),
                         std::strerror(errno)));
  }
  const int op = (mode == Mode::shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration<double>(timeout_s > 0 ? timeout_s : 0);
  auto pause = std::chrono::milliseconds(1);
  while (::flock(fd_, op) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    if (err != EWOULDBLOCK || std::chrono::steady_clock::now() >= deadline) {
      ::close(fd_);
      fd_ = -1;
      if (err != EWOULDBLOCK) {
        throw_io(fmt::format("{}: cannot lock {}: {}", what, lock_file.string(),
                             std::strerror(err)));
      }
      throw_io(fmt::format("{} is busy: another process has held {} for more than {:g} s; "
                           "try again",
                           what, lock_file.string(), timeout_s));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

}  // namespace faceid
