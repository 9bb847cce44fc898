// Dumping a FrameStore's crops as .npy + labels.csv for the PyTorch reference.
#include <cstring>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "faceid/bench/bench.hpp"
#include "faceid/data/frame_store.hpp"
#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"

namespace faceid {

std::string npy_float32_header(const std::vector<int64_t>& shape) {
  // Python's tuple syntax: "(3,)" for one axis, "(3, 4)" for more.
  std::string dims = fmt::format("{}", fmt::join(shape, ", "));
  if (shape.size() == 1) dims += ',';
  std::string dict =
      fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", dims);
  // magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64.
  const size_t total = (10 + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - 10 - dict.size() - 1, ' ');
  dict += '\n';
  std::string header("\x93NUMPY\x01\x00", 8);
  header += static_cast<char>(dict.size() & 0xFF);
  header += static_cast<char>(dict.size() >> 8);
  return header + dict;
}

void dump_crops(const FrameStore& store, const std::filesystem::path& dir) {
  if (store.empty()) throw_bad_input(fmt::format("{}: no usable frame to dump", dir.string()));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw_io(fmt::format("{}: cannot create folder: {}", dir.string(), ec.message()));

  const int64_t s = store.crop_size();
  const size_t floats = store.crop_floats();
  std::string npy =
      npy_float32_header({static_cast<int64_t>(store.size()), kChannels, s, s});
  const size_t offset = npy.size();
  npy.resize(offset + store.size() * floats * sizeof(float));
  std::vector<float> scratch;
  std::string labels = "index,person,identity,pose,repetition,depth_file\n";
  for (size_t i = 0; i < store.size(); ++i) {
    std::memcpy(&npy[offset + i * floats * sizeof(float)], store.crop_data(i, scratch),
                floats * sizeof(float));
    const StoredFrame& f = store.frame(i);
    labels += fmt::format("{},{},{},{},{},{}\n", i, f.person, f.ref.identity, f.ref.pose,
                          f.ref.repetition, f.ref.depth_path.filename().string());
  }
  write_file_atomic(dir / "crops.npy", npy);
  write_file_atomic(dir / "labels.csv", labels);
}

}  // namespace faceid
