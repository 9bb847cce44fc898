// The ONE preprocessing path of training, embed, enroll and unlock: find the head in depth, crop
// colour and depth identically, normalise into a 4 x S x S float image (R, G, B, D).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "faceid/core/config.hpp"
#include "faceid/io/frame.hpp"

namespace faceid {

// Colour normalisation constants (ImageNet's, documented in docs/data.md): channel c of the
// network input is (rgb[c] / 255 - kColorMean[c]) / kColorStd[c].
constexpr float kColorMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kColorStd[3] = {0.229f, 0.224f, 0.225f};
constexpr int kChannels = 4;  // R, G, B, D
// The version of the preprocessing algorithm (docs/data.md): checkpoints record it, and a model
// trained on crops of another version is refused (it would embed crops it never saw).
constexpr int kPreprocessVersion = 2;

// A preprocessed face: what the network sees.
struct FaceCrop {
  int size = 0;             // side S in pixels
  std::vector<float> chw;   // kChannels * S * S floats, channel-major: R, G, B, D
  cv::Rect2f box;           // the crop window in 640x480 frame pixels
  float head_z_mm = 0.0f;   // median depth of the head, millimetres
  float valid_fraction = 0.0f;  // fraction of valid depth pixels inside the crop

  const float* channel(int c) const { return chw.data() + static_cast<size_t>(c) * size * size; }
  float* channel(int c) { return chw.data() + static_cast<size_t>(c) * size * size; }
};

// The head as found in the depth image (frame pixels, edge coordinates: pixel i spans [i, i+1)).
struct HeadLocation {
  cv::Point2f center;      // crop centre: the face centre (between the eyes), then face_shift
  float z_mm = 0.0f;       // median depth of the head
  float side_px = 0.0f;    // side of the square crop in frame pixels (crop_mm at z_mm)
  float width_mm = 0.0f;   // the head's width at z_mm
  cv::Rect2f head_box;     // crown to chin (one head height), ear to ear
  int blob_pixels = 0;     // pixels of the depth-continuous surface the head tops
};

// Either a crop or the reason no face was found: "no face" is an expected outcome, not an error.
struct PreprocessResult {
  bool ok = false;
  FaceCrop crop;
  std::string no_face_reason;  // set when !ok, e.g. "no blob of valid depth >= 800 px"
};

// Kinect-like depth intrinsics of the 640x480 depth camera, used to turn crop_mm into pixels.
constexpr float kDepthFx = 525.0f;
constexpr float kDepthFy = 525.0f;
constexpr float kDepthCx = 319.5f;
constexpr float kDepthCy = 239.5f;

// Finds the user's head: among the depth-continuous surfaces, the nearest whose top is shaped like
// a head (head-wide at its own depth, head-tall, filled, inside the image). Torsos, walls, hands
// and furniture fail that test; when nothing passes, returns false and says why (never a guess).
bool locate_head(const DepthMap& depth, const PreprocessConfig& config, HeadLocation& out,
                 std::string& reason);

// The whole path. Throws only on programming errors (wrong Mat types); no face is a result.
PreprocessResult preprocess(const Frame& frame, const PreprocessConfig& config);

// A stable hash of every field that changes preprocessing output (cache keys).
uint64_t preprocess_fingerprint(const PreprocessConfig& config);

// Renders a crop for humans: colour (de-normalised) beside depth (grey ramp, invalid = red),
// CV_8UC3 BGR of size (2*S) x S. Used by inspect_data's contact sheet.
cv::Mat render_crop_preview(const FaceCrop& crop);

}  // namespace faceid
