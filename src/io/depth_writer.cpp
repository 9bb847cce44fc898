// Writers of the depth formats: VAP text .dat and 16-bit PNG (readers: depth_reader.cpp).
#include <charconv>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>

#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/io/depth_io.hpp"

namespace faceid {

namespace {

void check_raw(const cv::Mat& raw, const char* what) {
  if (raw.empty() || raw.type() != CV_16SC1) {
    throw_bad_input(fmt::format("{}: expected a non-empty CV_16SC1 depth image, got type {} size {}x{}",
                                what, raw.type(), raw.cols, raw.rows));
  }
}

[[noreturn]] void out_of_range(const char* what, int row, int col, int value) {
  throw_bad_input(fmt::format("{}: row {}, column {}: value {} outside [{}, {}]", what, row + 1, col + 1,
                              value, kMinDepthValue, kMaxDepthValue));
}

}  // namespace

std::string format_depth_dat(const cv::Mat& raw) {
  check_raw(raw, "format_depth_dat");
  // At most 5 characters a value ("10000") plus one separator (tab, or the newline at the end).
  std::string out(static_cast<size_t>(raw.rows) * raw.cols * 6, '\0');
  char* p = out.data();
  char* const end = p + out.size();
  for (int y = 0; y < raw.rows; ++y) {
    const int16_t* row = raw.ptr<int16_t>(y);
    for (int x = 0; x < raw.cols; ++x) {
      const int v = row[x];
      if (v < kMinDepthValue || v > kMaxDepthValue) out_of_range("format_depth_dat", y, x, v);
      p = std::to_chars(p, end, v).ptr;
      *p++ = x + 1 < raw.cols ? '\t' : '\n';
    }
  }
  out.resize(static_cast<size_t>(p - out.data()));
  return out;
}

void write_depth_dat(const std::filesystem::path& path, const cv::Mat& raw) {
  write_file_atomic(path, format_depth_dat(raw));
}

void write_depth_png(const std::filesystem::path& path, const cv::Mat& raw) {
  check_raw(raw, "write_depth_png");
  cv::Mat mm(raw.size(), CV_16UC1);
  for (int y = 0; y < raw.rows; ++y) {
    const int16_t* src = raw.ptr<int16_t>(y);
    uint16_t* dst = mm.ptr<uint16_t>(y);
    for (int x = 0; x < raw.cols; ++x) {
      const int v = src[x];
      if (v < kMinDepthValue || v > kMaxDepthValue) out_of_range(path.string().c_str(), y, x, v);
      dst[x] = (v <= 0 || v == kKinectTooFar) ? 0 : static_cast<uint16_t>(v);
    }
  }
  std::vector<uchar> png;
  if (!cv::imencode(".png", mm, png, {cv::IMWRITE_PNG_COMPRESSION, 1})) {
    throw_internal(fmt::format("{}: PNG encoding failed", path.string()));
  }
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
}

}  // namespace faceid
