// Helpers of the generator's tests (test_synth.cpp, test_synth_attacks.cpp).
#pragma once

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

#include <opencv2/core.hpp>

namespace faceid::test {

// A fresh temporary folder named after the test and the process, removed when the test ends.
struct SynthTempDir {
  std::filesystem::path path;
  explicit SynthTempDir(const std::string& name) {
    path = std::filesystem::temp_directory_path() / fmt::format("faceid_test_{}_{}", name, ::getpid());
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~SynthTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  SynthTempDir(const SynthTempDir&) = delete;
  SynthTempDir& operator=(const SynthTempDir&) = delete;
};

// Same size, type and every pixel.
inline bool same_mat(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

}  // namespace faceid::test
