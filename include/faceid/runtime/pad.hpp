// Presentation-attack detection (liveness) on the preprocessed face crop, the same crop the
// embedder sees. Two parts, both needed to pass:
//   geometric  the depth of the face region fitted with a quadric z = f(x, y) in millimetres: a
//              photo or a screen, flat or bent, fits it to within the sensor noise; a face does
//              not (nose, eye sockets, mouth). The fit is robust (the hands holding a sheet, the
//              fingers over its edge are left out) and the relief is measured in the central
//              window: passes when its 75th-percentile residual >= pad.min_relief_mm.
//   learned    PadNet (faceid/runtime/pad_net.hpp), a small CNN on the whole 4-channel crop
//              (colour + depth), trained by train_pad (faceid/train/pad_train.hpp) on bona fide
//              vs attack frames: what a mask gets wrong (one material colour, no lips or brows,
//              eye holes) is spatial, not a global statistic.
//   score      = learned probability when the geometric check passes, else 0;
//   live       = score >= threshold (pad.threshold, or the model's calibrated one when < 0).
// A burst attempt (K frames of one presentation, assess_burst) is scored on up to
// kBurstScoredFrames of its frames (PadNet dominates the cost), the geometric check on all of
// them, and reports the rigid-versus-living evidence across its frames (burst_motion).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "faceid/core/config.hpp"
#include "faceid/preprocess/preprocess.hpp"

namespace faceid {

// The quadric fit of the valid depth in the face window of a crop.
struct DepthGeometry {
  int points = 0;              // valid depth pixels used
  double plane_rms_mm = 0;     // RMS residual of the least-squares plane
  double quadric_rms_mm = 0;   // RMS residual of the least-squares quadric
  double relief_mm = 0;        // the relief the check uses: 75th percentile of the absolute
                               // residuals of the central window (middle 40% x 50% of the crop)
                               // against a robust quadric of the
                               // face window (refitted on its inliers: hands and fingers around a
                               // held sheet do not count)
  double curv_xx = 0;          // quadric coefficients of x^2, y^2 and xy, 1/mm (x right, y down,
  double curv_yy = 0;          // z away from the camera: a face bulging towards the camera has
  double curv_xy = 0;          // positive x^2 and y^2 terms)
};

// Fits plane and quadric to the crop's valid depth within the face window (the central 60% x
// 70% of the crop, within +-120 mm of the head depth; every (side / 64)-th pixel in each
// direction on crops of 128 px and more). Fewer than 30 points: all zeros.
DepthGeometry fit_depth_geometry(const FaceCrop& crop, const PreprocessConfig& preprocess);

class PadNet;  // the network: faceid/runtime/pad_net.hpp (LibTorch)

// What a PadModel holds besides PadNet's weights.
struct PadModelInfo {
  int input_size = 0;                     // side of the crops it scores (preprocess.input_size)
  uint64_t preprocess_fingerprint = 0;    // preprocess_fingerprint() of the preprocessing it was
                                          // trained on
  double threshold = 0.5;                 // the calibrated threshold, in [0, 1]
  double min_relief_mm = 0;               // the geometric gate it was calibrated with
  std::map<std::string, double> metrics;  // the training summary, stored in the file
};

// The learned part: PadNet's weights, the threshold calibrated at training, the geometric gate it
// was calibrated with and the preprocessing it was trained on (a model only applies to crops made
// the same way). Immutable once trained or loaded; copies share the network.
class PadModel {
 public:
  static constexpr int kFormatVersion = 3;  // 3: sealed Record with PadNet; 2 and 1 were YAML
  static constexpr char kMagic[] = "FACEIDPD";

  PadModel();
  ~PadModel();
  PadModel(const PadModel&);
  PadModel& operator=(const PadModel&);

  // A trained network with what it was trained on (what faceid/train/pad_train.hpp's
  // train_pad_model returns). Puts `net` in eval mode and shares it: the caller must not train it
  // further. Errc::internal when `net` is empty or info.threshold is outside [0, 1].
  PadModel(PadNet net, PadModelInfo info);

  // A freshly initialised PadNet (seeded_pad_net(width, seed): the network training starts
  // from), threshold 0.5, for crops of this preprocessing; benchmarks time it. Errc::bad_input
  // when width is outside PadNet's range.
  static PadModel initial(const PreprocessConfig& preprocess, const PadConfig& pad, int width = 16,
                          int64_t seed = 1);

  // The learned probability of bona fide, in [0, 1], of each crop (batched, no gradients).
  std::vector<double> learned_scores(const std::vector<const FaceCrop*>& crops) const;

  // A sealed file (magic FACEIDPD, version, size, FNV-1a 64; a Record inside), written
  // atomically. load: Errc::bad_input naming the file when it is missing, of another format or
  // version, corrupt, or its weights do not fit PadNet.
  void save(const std::filesystem::path& path) const;
  static PadModel load(const std::filesystem::path& path);

  double calibrated_threshold() const;
  double min_relief_mm() const;
  uint64_t preprocess_fingerprint() const;
  int width() const;
  int64_t parameter_count() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// The geometric check: enough valid depth and relief_mm >= min_relief_mm.
bool geometric_pass(const DepthGeometry& geometry, double min_relief_mm);
// The liveness score: the learned probability when the geometric check passes, else 0.
double liveness_score(double learned, const DepthGeometry& geometry, double min_relief_mm);

// Rigid-versus-living evidence across the frames of one burst, on the crops' colour: for each
// pair of consecutive frames, the luminance of the second is shifted by the integer offset (within
// +-2 px) that best matches the first over the face window (the crops are already centred on the
// head, so this takes up a small rigid motion), and the mean absolute change is measured in three
// regions: the eye band, the mouth, and the rest of the face window. A rigid object moving a
// little changes the three alike; a blink changes the eyes, speech or an expression the mouth.
struct BurstMotion {
  double nonrigid = 0;   // max over pairs of max(eyes, mouth) / rest (0 with fewer than 2 frames)
  double eyes = 0;       // the mean absolute changes of that pair (crop colour units)
  double mouth = 0;
  double rest = 0;
};
BurstMotion burst_motion(const std::vector<const FaceCrop*>& frames);

struct PadDecision {
  DepthGeometry geometry;
  bool geometric_pass = false;  // geometry.relief_mm >= min_relief_mm
  double learned = 0;           // PadModel::learned_scores
  double score = 0;             // learned when geometric_pass, else 0
  bool live = false;            // score >= threshold
};

// PadNet scores at most this many frames of a burst, evenly spread (first and last for 2): the
// network is ~1.4 ms per crop on one core and the per-attempt budget is 3 ms.
inline constexpr int kBurstScoredFrames = 2;

// The liveness verdict on a burst: the frames' decisions, their mean learned score, the geometric
// check of every frame (at least half must pass: a hand passing in front of one frame of two does
// not refuse the attempt), the motion evidence.
struct BurstDecision {
  std::vector<PadDecision> frames;  // the scored frames' decisions, in burst order
  std::vector<int> scored;          // their indices in the burst
  int geometric_passes = 0;         // frames of the whole burst passing the geometric check
  bool geometric_pass = false;      // 2 * geometric_passes >= burst frames
  double learned = 0;               // mean learned score of the scored frames
  double score = 0;                 // learned when geometric_pass, else 0
  BurstMotion motion;               // reported; not part of the verdict (docs/pad.md, bursts)
  bool live = false;                // score >= threshold
};

// The indices of the frames of a K-frame burst that PadNet scores: min(K, kBurstScoredFrames)
// evenly spread, first and last included.
std::vector<int> burst_scored_frames(int k);

// The liveness check of unlock: a model with the configured threshold and relief.
class LivenessDetector {
 public:
  // threshold: pad.threshold, or the model's calibrated one when pad.threshold < 0; the geometric
  // gate: the model's min_relief_mm (its threshold was calibrated behind it). Errc::bad_input when
  // the model was trained on another preprocessing.
  LivenessDetector(PadModel model, const PadConfig& pad, const PreprocessConfig& preprocess);
  // Loads pad.model (Errc::bad_input when pad.model is empty or unreadable).
  LivenessDetector(const PadConfig& pad, const PreprocessConfig& preprocess);

  PadDecision assess(const FaceCrop& crop) const { return assess({&crop}).front(); }
  std::vector<PadDecision> assess(const std::vector<const FaceCrop*>& crops) const;
  // One burst attempt (the frames of one presentation, in time order). Errc::bad_input when empty.
  BurstDecision assess_burst(const std::vector<const FaceCrop*>& frames) const;
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
