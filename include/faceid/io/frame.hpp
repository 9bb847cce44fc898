// One RGB-D frame of the VAP RGB-D Face Database layout, and where it came from.
#pragma once

#include <filesystem>
#include <string>

#include <opencv2/core.hpp>

namespace faceid {

constexpr int kDepthWidth = 640;   // depth camera resolution; colour is registered to it
constexpr int kDepthHeight = 480;
constexpr int kMinDepthValue = -1;     // smallest value a .dat may hold (-1 = undefined)
constexpr int kMaxDepthValue = 10000;  // largest value a .dat may hold, in millimetres
constexpr int kKinectTooFar = 4095;    // Kinect's "too far" code: invalid, like -1 and 0

// Where a frame lives on disk, plus its metadata from the file name NNN_K_{c,d}.ext.
struct FrameRef {
  std::string identity;                 // person folder name
  int pose = 0;                         // NNN: pose index (VAP: 1..17)
  int repetition = 0;                   // K: repetition / session (VAP: 1..3)
  std::filesystem::path depth_path;     // NNN_K_d.dat or NNN_K_d.png
  std::filesystem::path color_path;     // NNN_K_c.bmp (or .png)
};

// A decoded depth image. Invalid readings (-1, 0, 4095 in .dat; 0 in PNG) are never distances:
// they are 0 in `mm` and 0 in `valid`.
struct DepthMap {
  cv::Mat mm;     // CV_16UC1, millimetres, 0 where invalid
  cv::Mat valid;  // CV_8UC1, 255 where valid, 0 where invalid
};

// A loaded frame: colour resized to the depth resolution (registered, as in the original).
struct Frame {
  FrameRef ref;
  cv::Mat color;   // CV_8UC3, BGR, kDepthWidth x kDepthHeight
  DepthMap depth;  // kDepthWidth x kDepthHeight
};

}  // namespace faceid
