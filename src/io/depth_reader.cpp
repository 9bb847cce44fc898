// Readers of the VAP depth (.dat text, 16-bit PNG) and colour (BMP/PNG of any size) files.
#include "faceid/io/depth_io.hpp"

#include <cctype>
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <system_error>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"

namespace faceid {
namespace {

inline bool is_separator(char c) { return c == '\t' || c == ' ' || c == '\r'; }
inline bool ends_token(char c) { return is_separator(c) || c == '\n'; }

[[noreturn]] void fail_at(const std::string& name, int line, size_t col, const std::string& what) {
  throw_bad_input(fmt::format("{}:{}:{}: {}", name, line, col, what));
}

// True when everything from p to end is whitespace (trailing blank lines are not rows).
bool only_whitespace(const char* p, const char* end) {
  for (; p < end; ++p) {
    if (!is_separator(*p) && *p != '\n') return false;
  }
  return true;
}

// Number of lines from p to end that hold something other than whitespace.
int count_nonblank_lines(const char* p, const char* end) {
  int n = 0;
  bool blank = true;
  for (; p < end; ++p) {
    if (*p == '\n') {
      n += blank ? 0 : 1;
      blank = true;
    } else if (!is_separator(*p)) {
      blank = false;
    }
  }
  return n + (blank ? 0 : 1);
}

// The byte size of a file, or a bad_input naming it when it is missing or empty.
void require_nonempty_file(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw_bad_input(fmt::format("{}: cannot open file", path.string()));
  if (size == 0) throw_bad_input(fmt::format("{}: empty file (0 bytes)", path.string()));
}

// The largest image side we decode: a damaged header claiming more (30000 x 30000) would make
// OpenCV allocate gigabytes or print its own assertion to stderr before failing.
constexpr int64_t kMaxImageSide = 16384;

// Reads the size a BMP or PNG header claims and refuses absurd ones, naming the file. Other
// formats (and headers too short to hold a size) are left to the decoder.
void check_image_header(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char h[26] = {};
  in.read(reinterpret_cast<char*>(h), sizeof h);
  const auto got = static_cast<size_t>(in.gcount());
  int64_t width = 0, height = 0;
  const char* format = nullptr;
  auto le32 = [&](size_t at) {
    return static_cast<int32_t>(static_cast<uint32_t>(h[at]) | static_cast<uint32_t>(h[at + 1]) << 8 |
                                static_cast<uint32_t>(h[at + 2]) << 16 |
                                static_cast<uint32_t>(h[at + 3]) << 24);
  };
  auto be32 = [&](size_t at) {
    return static_cast<uint32_t>(h[at]) << 24 | static_cast<uint32_t>(h[at + 1]) << 16 |
           static_cast<uint32_t>(h[at + 2]) << 8 | static_cast<uint32_t>(h[at + 3]);
  };
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (got >= 26 && h[0] == 'B' && h[1] == 'M' && le32(14) >= 40) {  // BITMAPINFOHEADER or later
    format = "BMP";
    width = le32(18);
    height = std::llabs(static_cast<long long>(le32(22)));  // negative: top-down rows
  } else if (got >= 24 && std::equal(kPng, kPng + 8, h)) {
    format = "PNG";
    width = be32(16);
    height = be32(20);
  }
  if (format == nullptr) return;
  if (width <= 0 || height <= 0 || width > kMaxImageSide || height > kMaxImageSide) {
    throw_bad_input(fmt::format(
        "{}: damaged {} header: it claims {} x {} pixels (expected 1 to {} per side)",
        path.string(), format, width, height, kMaxImageSide));
  }
}

// Decodes an image file as stored (cv::IMREAD_UNCHANGED). Every failure is a bad_input naming the
// file: missing, empty, undecodable, and the cv::Exception OpenCV throws for some damaged headers
// (a BMP claiming a width beyond CV_IO_MAX_IMAGE_WIDTH) instead of returning an empty image.
cv::Mat decode_image(const std::filesystem::path& path) {
  require_nonempty_file(path);
  check_image_header(path);
  cv::Mat img;
  try {
    img = cv::imread(path.string(), cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw_bad_input(fmt::format("{}: cannot decode image (OpenCV: {})", path.string(), e.err));
  }
  if (img.empty()) throw_bad_input(fmt::format("{}: cannot decode image", path.string()));
  return img;
}

const char* depth_name(int depth) {
  switch (depth) {
    case CV_8U: return "8-bit";
    case CV_8S: return "8-bit signed";
    case CV_16U: return "16-bit";
    case CV_16S: return "16-bit signed";
    case CV_32S: return "32-bit integer";
    case CV_32F: return "32-bit float";
    default: return "64-bit float";
  }
}

std::string lower_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

}  // namespace

DepthMap parse_depth_dat(std::string_view text, const std::string& name, int width, int height) {
  if (width <= 0 || height <= 0) {
    throw_internal(fmt::format("{}: parse_depth_dat: bad size {}x{}", name, width, height));
  }
  DepthMap out;
  out.mm.create(height, width, CV_16UC1);
  out.valid.create(height, width, CV_8UC1);

  const char* const begin = text.data();
  const char* const end = begin + text.size();
  const char* p = begin;
  int row = 0;   // rows parsed so far
  int line = 1;  // 1-based line number of p
  while (p < end) {
    const char* const line_start = p;
    uint16_t* mm = row < height ? out.mm.ptr<uint16_t>(row) : nullptr;
    uint8_t* valid = row < height ? out.valid.ptr<uint8_t>(row) : nullptr;
    int n = 0;  // values on this line
    const char* first_extra = nullptr;
    for (;;) {
      while (p < end && is_separator(*p)) ++p;
      if (p == end || *p == '\n') break;
      const char* const token = p;
      int v = 0;
      const auto [q, ec] = std::from_chars(token, end, v);
      if (ec != std::errc() || (q < end && !ends_token(*q))) {
        const char* t = token;
        while (t < end && !ends_token(*t)) ++t;
        const std::string_view tok(token, static_cast<size_t>(t - token));
        const size_t col = static_cast<size_t>(token - line_start) + 1;
        if (ec == std::errc::result_out_of_range && q == t) {
          fail_at(name, line, col,
                  fmt::format("value {} outside [{}, {}]", tok, kMinDepthValue, kMaxDepthValue));
        }
        fail_at(name, line, col, fmt::format("not an integer: '{}'", tok));
      }
      if (static_cast<unsigned>(v - kMinDepthValue) >
          static_cast<unsigned>(kMaxDepthValue - kMinDepthValue)) {
        fail_at(name, line, static_cast<size_t>(token - line_start) + 1,
                fmt::format("value {} outside [{}, {}]", v, kMinDepthValue, kMaxDepthValue));
      }
      if (n < width && mm != nullptr) {
        const bool ok = v > 0 && v != kKinectTooFar;
        mm[n] = static_cast<uint16_t>(ok ? v : 0);
        valid[n] = ok ? 255 : 0;
      } else if (n == width) {
        first_extra = token;
      }
      ++n;
      p = q;
    }
    const char* const line_end = p;  // at '\n' or end
    if (p < end) ++p;                // past '\n'
    if (n == 0 && only_whitespace(p, end)) break;  // trailing blank line(s)
    if (row >= height) {
      fail_at(name, line, 1,
              fmt::format("expected {} rows, got {}", height, height + count_nonblank_lines(line_start, end)));
    }
    if (n > width) {
      fail_at(name, line, static_cast<size_t>(first_extra - line_start) + 1,
              fmt::format("expected {} values, got {}", width, n));
    }
    if (n < width) {
      const char* content_end = line_end;
      if (content_end > line_start && content_end[-1] == '\r') --content_end;
      fail_at(name, line, static_cast<size_t>(content_end - line_start) + 1,
              fmt::format("expected {} values, got {}", width, n));
    }
    ++row;
    ++line;
  }
  if (row != height) {
    fail_at(name, row + 1, 1, fmt::format("expected {} rows, got {}", height, row));
  }
  return out;
}

DepthMap read_depth(const std::filesystem::path& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".dat") {
    const std::string text = read_file(path);
    return parse_depth_dat(text, path.string());
  }
  if (ext != ".png") {
    throw_bad_input(fmt::format("{}: unknown depth file type (expected .dat or .png)", path.string()));
  }
  cv::Mat img = decode_image(path);
  if (img.depth() != CV_16U || img.channels() != 1) {
    throw_bad_input(fmt::format("{}: depth PNG must be 16-bit single-channel, got {} {}-channel",
                                path.string(), depth_name(img.depth()), img.channels()));
  }
  if (img.cols != kDepthWidth || img.rows != kDepthHeight) {
    throw_bad_input(fmt::format("{}: depth image is {}x{}, expected {}x{}", path.string(), img.cols,
                                img.rows, kDepthWidth, kDepthHeight));
  }
  DepthMap out;
  out.mm = img;
  cv::compare(img, 0, out.valid, cv::CMP_NE);
  return out;
}

cv::Mat read_color(const std::filesystem::path& path, cv::Size size) {
  cv::Mat img = decode_image(path);
  if (img.depth() == CV_16U) {
    img.convertTo(img, CV_8U, 1.0 / 257.0);
  } else if (img.depth() != CV_8U) {
    throw_bad_input(fmt::format("{}: colour image must be 8- or 16-bit, got {}", path.string(),
                                depth_name(img.depth())));
  }
  cv::Mat bgr;
  switch (img.channels()) {
    case 1: cv::cvtColor(img, bgr, cv::COLOR_GRAY2BGR); break;
    case 3: bgr = img; break;
    case 4: cv::cvtColor(img, bgr, cv::COLOR_BGRA2BGR); break;
    default:
      throw_bad_input(fmt::format("{}: colour image must have 1, 3 or 4 channels, got {}",
                                  path.string(), img.channels()));
  }
  if (bgr.size() == size) return bgr;
  const bool shrinking = bgr.cols >= size.width && bgr.rows >= size.height;
  cv::Mat out;
  cv::resize(bgr, out, size, 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

}  // namespace faceid
