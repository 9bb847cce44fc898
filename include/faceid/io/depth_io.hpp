// Depth files: VAP text .dat (480 lines of 640 tab-separated integers, mm) and 16-bit PNG (mm).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <opencv2/core.hpp>

#include "faceid/io/frame.hpp"

namespace faceid {

// Parses a whole .dat buffer with std::from_chars. A line may end with a trailing tab, CRLF may
// occur. Throws Errc::bad_input as "<name>:<line>:<col>: <problem>" (1-based) for: the wrong
// number of rows or values, a non-integer token, a value outside [-1, 10000].
DepthMap parse_depth_dat(std::string_view text, const std::string& name,
                         int width = kDepthWidth, int height = kDepthHeight);

// Reads a depth file by extension (.dat or .png). PNG must be 16-bit single channel, 0 = invalid.
DepthMap read_depth(const std::filesystem::path& path);

// Writers (used by the synthetic generator and tests). `raw` is CV_16SC1 with VAP codes
// (-1 undefined, 0 too near, 4095 too far); PNG maps every invalid code to 0.
std::string format_depth_dat(const cv::Mat& raw);
void write_depth_dat(const std::filesystem::path& path, const cv::Mat& raw);
void write_depth_png(const std::filesystem::path& path, const cv::Mat& raw);

// Reads a colour image of any size with 1, 3 or 4 channels and returns CV_8UC3 BGR resized to
// `size` (INTER_AREA when shrinking). Throws Errc::bad_input naming the file when unreadable.
cv::Mat read_color(const std::filesystem::path& path, cv::Size size = {kDepthWidth, kDepthHeight});

}  // namespace faceid
