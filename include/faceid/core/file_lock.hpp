// An advisory inter-process lock (flock(2) on a lock file), held for the lifetime of the object.
// Used to make every read-modify-write of the template store one transaction.
#pragma once

#include <filesystem>
#include <string>

namespace faceid {

class FileLock {
 public:
  enum class Mode { shared, exclusive };

  // Opens `lock_file` (created with mode 0600 when missing; the file is never removed: removing a
  // lock file that others may have open would let two holders in) and locks it in `mode`, waiting
  // up to `timeout_s` seconds. When it stays held: Errc::io "`what` is busy: another process has
  // held LOCK_FILE for more than N s; try again". Errc::io also when the file cannot be opened.
  FileLock(const std::filesystem::path& lock_file, Mode mode, double timeout_s,
           const std::string& what);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace faceid
