// Presentation-attack detection (liveness) on the preprocessed face crop, the same crop the
// embedder sees. Two parts, both needed to pass:
//   geometric  the depth of the face region fitted with a quadric z = f(x, y) in millimetres: a
//              photo or a screen, flat or bent, fits it to within the sensor noise; a face does
//              not (nose, eye sockets, mouth). Passes when the RMS residual >= pad.min_relief_mm.
//   learned    a logistic regression, trained by train_pad on bona fide vs attack frames, over
//              geometric, depth-histogram and colour features (pad_features).
//   score      = learned probability when the geometric check passes, else 0;
//   live       = score >= threshold (pad.threshold, or the model's calibrated one when < 0).
// Torch-free.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "faceid/config.hpp"
#include "faceid/preprocess/preprocess.hpp"

namespace faceid {

// The quadric fit of the valid depth in the face window of a crop.
struct DepthGeometry {
  int points = 0;              // valid depth pixels used
  double plane_rms_mm = 0;     // RMS residual of the least-squares plane
  double quadric_rms_mm = 0;   // RMS residual of the least-squares quadric (the relief)
  double curv_xx = 0;          // quadric coefficients of x^2, y^2 and xy, 1/mm (x right, y down,
  double curv_yy = 0;          // z away from the camera: a face bulging towards the camera has
  double curv_xy = 0;          // positive x^2 and y^2 terms)
};

// Fits plane and quadric to the crop's valid depth within the face window (the central 60% x
// 70% of the crop, within +-120 mm of the head depth). Fewer than 30 points: all zeros.
DepthGeometry fit_depth_geometry(const FaceCrop& crop, const PreprocessConfig& preprocess);

constexpr int kPadGrid = 4;  // the face window's colour layout: kPadGrid x kPadGrid cells
constexpr int kPadFeatureCount = 26 + 3 * kPadGrid * kPadGrid;
using PadFeatures = std::array<float, kPadFeatureCount>;

// The learned part's inputs, from the crop alone; pad_feature_name(i) names feature i.
PadFeatures pad_features(const FaceCrop& crop, const PreprocessConfig& preprocess);
const char* pad_feature_name(int i);

// What train_pad needs besides the features.
struct PadTrainOptions {
  int iterations = 50;        // at most this many Newton steps (it stops when converged)
  double l2 = 0.05;           // weight decay (the loss is a class-balanced mean); strong, as
                               // persons are few and the model must generalise to new ones
  double target_bpcer = 0.01; // calibrate the threshold to this BPCER on the calibration frames
};

// Logistic regression on standardised PadFeatures z and their squares z^2 (a quadratic decision
// surface: e.g. "too uniform" and "too varied" colour can both be attacks), plus the threshold calibrated at training and
// the preprocessing it was trained with (a model only applies to crops made the same way).
class PadModel {
 public:
  static constexpr int kFormatVersion = 2;

  PadModel() = default;

  // Fits on bona fide (label 1) and attack (label 0) features, classes weighted equally, then
  // sets the threshold so that the BPCER of the bona fide frames, training and calibration
  // together, is <= target_bpcer. Errc::bad_input when a class is empty.
  static PadModel train(const std::vector<PadFeatures>& bona_fide, const std::vector<PadFeatures>& attacks,
                        const std::vector<PadFeatures>& calibration_bona_fide,
                        const PreprocessConfig& preprocess, const PadConfig& pad,
                        const PadTrainOptions& options);

  // The learned probability of bona fide, in [0, 1].
  double learned_score(const PadFeatures& features) const;

  // Text (YAML) file, written atomically. load: Errc::bad_input naming the file when it is
  // missing, of another version or malformed.
  void save(const std::filesystem::path& path) const;
  static PadModel load(const std::filesystem::path& path);

  double calibrated_threshold() const { return threshold_; }
  double min_relief_mm() const { return min_relief_mm_; }
  uint64_t preprocess_fingerprint() const { return preprocess_fingerprint_; }
  const std::array<double, kPadFeatureCount>& weights() const { return weights_; }
  const std::array<double, kPadFeatureCount>& square_weights() const { return weights2_; }

 private:
  std::array<double, kPadFeatureCount> mean_{}, scale_{}, weights_{}, weights2_{};
  double bias_ = 0;
  double threshold_ = 0.5;
  double min_relief_mm_ = 0;   // the geometric gate the threshold was calibrated with
  uint64_t preprocess_fingerprint_ = 0;
};

// The liveness score from features: the learned probability when the geometric check passes
// (features[1], the quadric relief, >= min_relief_mm), else 0.
double liveness_score(const PadModel& model, const PadFeatures& features, double min_relief_mm);

struct PadDecision {
  DepthGeometry geometry;
  bool geometric_pass = false;  // geometry.quadric_rms_mm >= min_relief_mm
  double learned = 0;           // PadModel::learned_score
  double score = 0;             // learned when geometric_pass, else 0
  bool live = false;            // score >= threshold
};

// The liveness check of unlock: a model with the configured threshold and relief.
class LivenessDetector {
 public:
  // threshold: pad.threshold, or the model's calibrated one when pad.threshold < 0. Errc::bad_input
  // when the model was trained on another preprocessing.
  LivenessDetector(PadModel model, const PadConfig& pad, const PreprocessConfig& preprocess);
  // Loads pad.model (Errc::bad_input when pad.model is empty or unreadable).
  LivenessDetector(const PadConfig& pad, const PreprocessConfig& preprocess);

  PadDecision assess(const FaceCrop& crop) const;
  double score(const PadFeatures& features) const { return liveness_score(model_, features, min_relief_mm_); }
  double threshold() const { return threshold_; }
  double min_relief_mm() const { return min_relief_mm_; }
  const PadModel& model() const { return model_; }

 private:
  PadModel model_;
  PreprocessConfig preprocess_;
  double threshold_ = 0.5;
  double min_relief_mm_ = 0;
};

}  // namespace faceid
