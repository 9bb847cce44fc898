// Fixtures of the io / preprocess / inspect_data tests: temp folders, a tiny .dat formatter (the
// real writer belongs to another part), a hand-made 32-bit BMP writer and a synthetic RGB-D scene
// (flat wall, torso, neck, ellipsoid head) whose geometry the tests know exactly.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "faceid/io/frame.hpp"

namespace faceid_test {

namespace fs = std::filesystem;

// A fresh folder under the system temp dir, removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / fmt::format("faceid_io_test_{}_{}", ::getpid(), counter++);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

inline void write_bytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// VAP .dat text of a CV_16SC1 image: tab-separated rows. Variants exercise the reader.
inline std::string dat_text(const cv::Mat& raw, bool trailing_tab = false, const char* eol = "\n",
                            bool final_newline = true) {
  std::string out;
  out.reserve(static_cast<size_t>(raw.total()) * 6);
  char buf[16];
  for (int y = 0; y < raw.rows; ++y) {
    const int16_t* row = raw.ptr<int16_t>(y);
    for (int x = 0; x < raw.cols; ++x) {
      const int n = std::snprintf(buf, sizeof buf, "%d", row[x]);
      out.append(buf, static_cast<size_t>(n));
      if (x + 1 < raw.cols || trailing_tab) out += '\t';
    }
    if (y + 1 < raw.rows || final_newline) out += eol;
  }
  return out;
}

// A 32-bit BI_RGB bottom-up BMP, like the VAP colour files (OpenCV writes 24-bit).
inline void write_bmp32(const fs::path& path, const cv::Mat& bgra) {
  const uint32_t w = static_cast<uint32_t>(bgra.cols);
  const uint32_t h = static_cast<uint32_t>(bgra.rows);
  const uint32_t data_size = w * h * 4;
  std::string bytes(54 + data_size, '\0');
  auto put16 = [&](size_t at, uint16_t v) { std::memcpy(&bytes[at], &v, 2); };
  auto put32 = [&](size_t at, uint32_t v) { std::memcpy(&bytes[at], &v, 4); };
  bytes[0] = 'B';
  bytes[1] = 'M';
  put32(2, 54 + data_size);
  put32(10, 54);
  put32(14, 40);  // BITMAPINFOHEADER
  put32(18, w);
  put32(22, h);
  put16(26, 1);
  put16(28, 32);
  put32(30, 0);  // BI_RGB
  put32(34, data_size);
  for (uint32_t y = 0; y < h; ++y) {
    std::memcpy(&bytes[54 + static_cast<size_t>(y) * w * 4], bgra.ptr(static_cast<int>(h - 1 - y)),
                w * 4);
  }
  write_bytes(path, bytes);
}

// The synthetic scene: a head whose front is at `front_mm`, centred at pixel (cx, cy), a neck
// 100 mm and a torso box 150 mm behind that front, and a wall at max(1500, front + 600) mm. The head is an ellipsoid (semi-axes 80 mm
// wide, 110 mm tall, 90 mm deep) or, with flat_head, an ellipse at exactly front_mm.
struct Scene {
  int cx = 320;
  int cy = 200;
  int front_mm = 800;
  bool flat_head = false;
};

// Pixel radii of the head: its size at the ellipsoid's middle depth (front + 45 mm).
inline float head_scale_mm(const Scene& s) {
  return static_cast<float>(s.front_mm) + (s.flat_head ? 0.0f : 45.0f);
}
inline float head_rx(const Scene& s) { return 80.0f * 525.0f / head_scale_mm(s); }
inline float head_ry(const Scene& s) { return 110.0f * 525.0f / head_scale_mm(s); }

// Depth in mm (0 = invalid) and colour (BGR) of the scene, 640x480.
inline faceid::Frame make_scene(const Scene& s) {
  faceid::Frame f;
  cv::Mat mm(faceid::kDepthHeight, faceid::kDepthWidth, CV_16UC1,
             cv::Scalar(std::max(1500, s.front_mm + 600)));
  cv::Mat color(mm.size(), CV_8UC3, cv::Scalar(90, 90, 90));
  const float rx = head_rx(s);
  const float ry = head_ry(s);
  const int chin = s.cy + static_cast<int>(ry);
  const cv::Rect torso(s.cx - 110, chin + 15, 221, faceid::kDepthHeight);
  const cv::Rect neck(s.cx - 25, chin - 5, 51, 20);
  const cv::Rect frame_rect(0, 0, mm.cols, mm.rows);
  mm(torso & frame_rect).setTo(s.front_mm + 150);
  color(torso & frame_rect).setTo(cv::Scalar(160, 60, 40));
  mm(neck & frame_rect).setTo(s.front_mm + 100);
  color(neck & frame_rect).setTo(cv::Scalar(120, 150, 200));
  for (int y = 0; y < mm.rows; ++y) {
    for (int x = 0; x < mm.cols; ++x) {
      const float du = (static_cast<float>(x - s.cx)) / rx;
      const float dv = (static_cast<float>(y - s.cy)) / ry;
      const float q = du * du + dv * dv;
      if (q >= 1.0f) continue;
      const float z = s.flat_head ? static_cast<float>(s.front_mm)
                                  : static_cast<float>(s.front_mm) + 90.0f * (1.0f - std::sqrt(1.0f - q));
      mm.at<uint16_t>(y, x) = static_cast<uint16_t>(std::lround(z));
      color.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(110 + x % 50),
                                            static_cast<uint8_t>(140 + y % 50), 200);
    }
  }
  f.color = color;
  f.depth.mm = mm;
  cv::compare(mm, 0, f.depth.valid, cv::CMP_NE);
  return f;
}

// The VAP codes of a depth map: invalid pixels become -1 (as a .dat would hold them).
inline cv::Mat raw_codes(const cv::Mat& mm) {
  cv::Mat raw;
  mm.convertTo(raw, CV_16SC1);
  raw.setTo(-1, mm == 0);
  return raw;
}

// Writes one VAP frame (NNN_K_c.png colour + NNN_K_d.dat depth) of a scene into `folder`.
inline void write_scene_frame(const fs::path& folder, int pose, int rep, const faceid::Frame& f) {
  fs::create_directories(folder);
  const std::string prefix = fmt::format("{:03d}_{}", pose, rep);
  cv::imwrite((folder / (prefix + "_c.png")).string(), f.color);
  write_bytes(folder / (prefix + "_d.dat"), dat_text(raw_codes(f.depth.mm)));
}

}  // namespace faceid_test
