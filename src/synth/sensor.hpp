// Sensor models: a Kinect-like structured-light depth camera and a noisy colour camera.
#pragma once

#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

namespace faceid::synth {

// Ideal depth as seen by the depth camera, before the sensor model.
struct IdealDepth {
  int width = 0, height = 0;
  std::vector<float> z;        // Z in millimetres; 0 = no surface within range
  std::vector<float> dropout;  // per-pixel chance of a missing reading (material: hair, lens...)
  std::vector<float> cos_inc;  // |cos| of the angle between the surface normal and the ray
                               // (dropout >= 1 forces a hole: the shadow band)
  std::vector<uint8_t> part;   // what the pixel shows (synth::Part)
  int shadow_widen = 0;        // projector shadows this many pixels wider (the shadow band)
  void reset(int w, int h);
};

// The Kinect model: projector shadows (75 mm baseline), dropouts at depth discontinuities, at
// grazing angles, on dark hair and glasses and at random, noise growing with Z^2, 1/8-pixel
// disparity quantisation and mm rounding. Returns CV_16SC1 with VAP codes: mm, -1 hole,
// 0 too near (< 400 mm), 4095 too far (no surface within range).
cv::Mat simulate_depth(const IdealDepth& ideal, uint64_t key);

// Optics blur and per-channel sensor noise of std-dev `noise_sigma` (8-bit levels), in place.
void simulate_color(cv::Mat& bgr, float noise_sigma, uint64_t key);

}  // namespace faceid::synth
