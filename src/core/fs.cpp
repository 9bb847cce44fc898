#include "faceid/core/fs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "faceid/core/error.hpp"

namespace faceid {

std::filesystem::path temp_path_for(const std::filesystem::path& target) {
  static std::atomic<unsigned> counter{0};
  return std::filesystem::path(
      fmt::format("{}.tmp.{}.{}", target.string(), ::getpid(), counter.fetch_add(1)));
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes, unsigned mode) {
  const auto tmp = temp_path_for(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                        static_cast<mode_t>(mode));
  if (fd < 0) {
    throw_io(fmt::format("{}: cannot create: {}", path.string(), std::strerror(errno)));
  }
  auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    throw_io(fmt::format("{}: {}: {}", path.string(), what, std::strerror(err)));
  };
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) fail("fsync failed");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw_io(fmt::format("{}: close failed: {}", path.string(), std::strerror(err)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw_io(fmt::format("{}: rename failed: {}", path.string(), std::strerror(err)));
  }
  // Make the rename itself durable (a power cut could otherwise bring back the old file). Best
  // effort: the new file is already in place, so a failure here is not a failed write.
  const auto parent = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  const int dir_fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

std::string read_file(const std::filesystem::path& path) {
  // A folder opens as an ifstream on Linux and then "reads" garbage sizes: refuse it by name.
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    throw_bad_input(fmt::format("{}: not a regular file ({})", path.string(),
                                std::filesystem::is_directory(status) ? "a folder" : "a special file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_bad_input(fmt::format("{}: cannot open file", path.string()));
  std::string out;
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  if (size > 0) {
    out.resize(static_cast<size_t>(size));
    in.seekg(0);
    in.read(out.data(), size);
    if (!in) throw_io(fmt::format("{}: read failed", path.string()));
  }
  return out;
}

}  // namespace faceid
