// Small file-system helpers shared by every writer: nothing is ever left half-written.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace faceid {

// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename.
// On failure (disk full, permission) throws Errc::io naming the path; the old file stays intact.
// `mode`: permission bits of the new file (before the umask), e.g. 0600 for private data; the
// temporary file has them from its creation on.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes,
                       unsigned mode = 0644);

// Reads a whole file. Throws Errc::bad_input naming the path when it cannot be opened.
std::string read_file(const std::filesystem::path& path);

// A temporary path beside `target` (same folder, so rename is atomic): "target.tmp.<pid>.<n>".
std::filesystem::path temp_path_for(const std::filesystem::path& target);

}  // namespace faceid
