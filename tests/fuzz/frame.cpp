// libFuzzer target: frame loading, a colour image + depth file pair on disk
// (frame_ref_from_depth_path + load_frame: cv::imread of BMP/PNG, the .dat parser, depth PNG).
//
// Input: byte 0 = flags (bit 0: colour is .png instead of .bmp; bit 1: depth is .png instead of
// .dat), bytes 1-4 = u32 LE length of the colour file (clamped), then the colour file bytes,
// then the depth file bytes. Both are written to a scratch person folder every run.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "faceid/io/dataset.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const uint8_t flags = data[0];
  uint64_t color_size = 0;
  for (int i = 0; i < 4; ++i) color_size |= static_cast<uint64_t>(data[1 + i]) << (8 * i);
  const std::string_view rest(reinterpret_cast<const char*>(data) + 5, size - 5);
  if (color_size > rest.size()) color_size = rest.size();

  namespace fs = std::filesystem;
  static const fs::path person = [] {
    const fs::path p = faceid::fuzz::scratch_dir() / "person";
    fs::create_directories(p);
    return p;
  }();
  for (const char* name : {"001_1_c.bmp", "001_1_c.png", "001_1_d.dat", "001_1_d.png"}) {
    std::error_code ec;
    fs::remove(person / name, ec);
  }
  const fs::path color = person / ((flags & 1) != 0 ? "001_1_c.png" : "001_1_c.bmp");
  const fs::path depth = person / ((flags & 2) != 0 ? "001_1_d.png" : "001_1_d.dat");
  faceid::fuzz::write_bytes(color, rest.substr(0, color_size));
  faceid::fuzz::write_bytes(depth, rest.substr(color_size));

  faceid::fuzz::expect_only_faceid_errors([&] {
    const faceid::Frame frame = faceid::load_frame(faceid::frame_ref_from_depth_path(depth));
    // A loaded frame is registered: colour BGR at the depth resolution.
    if (frame.color.type() != CV_8UC3 || frame.color.size() != frame.depth.mm.size() ||
        frame.depth.mm.cols != faceid::kDepthWidth || frame.depth.mm.rows != faceid::kDepthHeight) {
      __builtin_trap();
    }
  });
  return 0;
}
