// PAD (liveness) training: fits PadNet (faceid/runtime/pad_net.hpp) on bona fide vs attack crops
// and calibrates its threshold; the result is the PadModel that unlock loads
// (faceid/runtime/pad.hpp). apps/train_pad.cpp wires it to data sets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "faceid/core/config.hpp"
#include "faceid/preprocess/preprocess.hpp"
#include "faceid/runtime/pad.hpp"

namespace faceid {

// What train_pad needs besides the crops. The augmentation is the embedder's (augment.*).
struct PadTrainOptions {
  int epochs = 12;
  int batch_size = 64;          // half bona fide, half attacks
  double lr = 2e-3;             // Adam, cosine decay to 0 over the epochs
  double weight_decay = 5e-4;
  int width = 16;               // channels of PadNet's first block (then 2x, 4x, 4x)
  int64_t seed = 1;             // initialisation, dropout, batch draws and augmentation
  int threads = 0;              // CPU threads (0 = all cores)
  AugmentConfig augment;
  double target_bpcer = 0.005;  // calibrate the threshold to this BPCER
  bool colour_invariance = false;  // also change the colour of training crops (per-channel gains,
                                   // grey): features that survive a change of mask material
  std::function<void(const std::string&)> log;  // one line per epoch, when set
};

// Bona fide and attack crops of one set of persons (pointers into a FrameStore).
struct PadSamples {
  std::vector<const FaceCrop*> bona_fide;
  std::vector<const FaceCrop*> attacks;
};

// Fewer validation bona fide frames than this: the threshold is calibrated on the fit frames.
inline constexpr size_t kPadMinCalibrationFrames = 20;

// Trains PadNet on `fit` (classes balanced in every batch: each slot draws a crop of its class
// uniformly from faceid::Rng, seeded by options.seed) and keeps the epoch with the lowest APCER
// at BPCER <= 1 % on `validation`, ties broken by the class-balanced loss (the last epoch when
// validation lacks a class). Calibration, on the validation frames (the fit ones when there are
// fewer than kPadMinCalibrationFrames validation bona fide frames): T = the highest threshold with
// BPCER <= options.target_bpcer; the threshold is the middle, in logit space, between T and the
// highest attack score below T (margin_threshold, faceid/eval/pad_metrics.hpp) -- the same
// calibration APCER as T, with a margin on both sides. Scores are gated by the geometric check
// with pad.min_relief_mm, which the model keeps. Errc::bad_input when fit lacks a class or an
// option is out of range.
PadModel train_pad_model(const PadSamples& fit, const PadSamples& validation, const PreprocessConfig& preprocess,
                         const PadConfig& pad, const PadTrainOptions& options);

}  // namespace faceid
