// libFuzzer target: the VAP .dat depth parser (parse_depth_dat), in memory.
//
// Input: byte 0 picks the expected size (0xff: the real 640x480; otherwise a small
// (1 + b % 8) x (1 + b / 8 % 8) grid so that short inputs can parse completely), the rest is the
// .dat text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "faceid/io/depth_io.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int b = data[0];
  const int width = b == 0xff ? faceid::kDepthWidth : 1 + b % 8;
  const int height = b == 0xff ? faceid::kDepthHeight : 1 + b / 8 % 8;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  faceid::fuzz::expect_only_faceid_errors([&] {
    const faceid::DepthMap d = faceid::parse_depth_dat(text, "fuzz.dat", width, height);
    // A parsed map has the asked size, and valid marks exactly the non-zero distances.
    if (d.mm.cols != width || d.mm.rows != height || d.mm.type() != CV_16UC1) __builtin_trap();
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        if ((d.mm.at<uint16_t>(y, x) != 0) != (d.valid.at<uint8_t>(y, x) == 255)) __builtin_trap();
      }
    }
  });
  return 0;
}
