// Training-time augmentation of a preprocessed crop (kChannels x S x S floats, R, G, B, D, as
// preprocess() writes them). Every random draw is a pure function of (seed, epoch, batch index,
// slot in the batch), so a sample is the same whatever thread builds it.
//
// Steps, in order:
// 1. colour jitter in the un-normalised [0, 1] domain (kColorMean/kColorStd undone and redone):
//    contrast around the crop's mean grey, brightness, a gain per channel, all in
//    [1 - color_jitter, 1 + color_jitter], clamped to [0, 1];
// 2. one geometric warp of all channels together: horizontal flip (flip_prob), zoom by
//    s in [1 - max_scale, 1 + max_scale] about the centre, shift by up to max_shift * S pixels.
//    Colour is bilinear, depth nearest-neighbour (invalid 0 stays invalid, no mixing across
//    edges); what comes from outside the crop is 0 (the mean colour; invalid depth);
// 3. depth noise on valid pixels (value != 0), std depth_noise_mm / depth_range_mm in normalised
//    units, approximately Gaussian (a sum of 4 uniforms, which is fast and platform-exact).
//    A valid pixel whose normalised depth is exactly 0 (exactly at the head's median depth) cannot
//    be told from an invalid one in the crop and gets no noise; that is accepted;
// 4. with probability hole_prob, 1-3 ellipses or rectangles (each side up to 15% of S) of the
//    depth channel set invalid (0).
#pragma once

#include <cstdint>

#include "faceid/core/config.hpp"

namespace faceid {

// The random choices for one sample; AugmentDraw{} is the identity.
struct AugmentDraw {
  struct Hole {
    bool ellipse = false;
    float cx = 0, cy = 0;  // centre, pixels
    float rx = 0, ry = 0;  // half sizes, pixels
  };
  bool flip = false;
  float scale = 1.0f;                 // zoom factor about the crop centre (> 1 zooms in)
  float shift_x = 0.0f;               // pixels, + moves the content right
  float shift_y = 0.0f;               // pixels, + moves the content down
  float brightness = 1.0f;
  float contrast = 1.0f;
  float gain[3] = {1.0f, 1.0f, 1.0f};  // R, G, B
  float depth_noise = 0.0f;           // std of the depth noise, normalised units
  uint64_t noise_seed = 0;
  int holes = 0;                      // number of used entries of hole
  Hole hole[3];
};

class Augmenter {
 public:
  // The identity (validation, inference).
  Augmenter() = default;
  // config.enabled = false gives the identity. depth_range_mm converts depth_noise_mm into
  // normalised units; seed is the run seed (train.seed).
  Augmenter(const AugmentConfig& config, const PreprocessConfig& preprocess, int64_t seed);

  bool enabled() const { return enabled_; }

  // The draw of one sample of side `size`: a function of (seed, epoch, batch_index, slot) only.
  AugmentDraw draw(int size, int64_t epoch, int64_t batch_index, int64_t slot) const;

  // Augments one crop: src and dst hold kChannels * size * size floats and must not overlap.
  // Thread-safe. Disabled: dst is a copy of src.
  void apply(const float* src, float* dst, int size, int64_t epoch, int64_t batch_index,
             int64_t slot) const;

  // Applies an explicit draw (tests, previews).
  static void apply(const float* src, float* dst, int size, const AugmentDraw& draw);

 private:
  AugmentConfig config_;
  double depth_range_mm_ = 150.0;
  int64_t seed_ = 0;
  bool enabled_ = false;
};

}  // namespace faceid
