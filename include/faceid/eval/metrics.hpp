// Verification metrics from distance scores: ROC, AUC, EER, TAR at fixed FAR, FAR/FRR at a
// threshold. Torch-free.
//
// Conventions (every function here):
//   - a score is a DISTANCE: smaller means "more likely the same person";
//   - a pair is ACCEPTED when distance <= threshold;
//   - FAR(t) = #impostor distances <= t / #impostor,  FRR(t) = #genuine distances > t / #genuine,
//     TAR(t) = 1 - FRR(t);
//   - AUC = P(genuine distance < impostor distance) + 1/2 P(equal), i.e. the ROC area;
//   - EER: FAR and FRR are step functions of t; between consecutive thresholds both are
//     interpolated linearly and the EER is where the interpolants cross. When FAR = FRR holds on a
//     whole interval of thresholds (e.g. perfectly separated lists: both 0), the EER threshold is
//     the middle of that interval;
//   - TAR at a FAR target: the LARGEST threshold whose FAR <= target. With m = floor(target *
//   N_imp)
//     false accepts allowed and s the (m+1)-th smallest impostor distance, that threshold is the
//     largest float below s (every distance < s is accepted); TAR and FAR are reported there;
//   - far_upper_bound_95: one-sided 95% upper bound on the true FAR given the observed false
//     accepts; with zero false accepts it is the rule of 3: 3 / N_imp.
//
// Two engines give the same summary: ExactRoc (sorted lists, O(n log n), for up to ~5e7 pairs) and
// HistogramAccumulator (streaming, bounded memory, for 1e8+ pairs; see its comment for precision).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "faceid/core/error.hpp"

namespace faceid {

// FAR targets reported when the caller gives none.
inline const std::vector<double> kDefaultFarTargets = {1e-2, 1e-3, 1e-4, 1e-5, 1e-6};

struct FarPoint {
  double target = 0;              // requested FAR
  double tar = 0;                 // TAR at `threshold`
  double threshold = 0;           // largest threshold with FAR <= target (accept: distance <= it)
  double far_achieved = 0;        // FAR at `threshold` (<= target)
  double far_upper_bound_95 = 0;  // 95% upper bound on the true FAR (3/N_imp with 0 false accepts)
  uint64_t false_accepts = 0;     // impostor distances <= threshold
  bool exact = true;              // false when threshold/TAR come from histogram bins
};

struct RocSummary {
  double auc = 0;            // P(genuine < impostor) + 1/2 P(tie)
  double eer = 0;            // equal error rate (FAR = FRR), interpolated
  double eer_threshold = 0;  // threshold of the EER
  double genuine_mean = 0;   // mean genuine distance
  double impostor_mean = 0;  // mean impostor distance
  size_t genuine_pairs = 0;
  size_t impostor_pairs = 0;
  std::vector<FarPoint> at_far;  // one per FAR target, in the order given
  double resolution = 0;         // 0 = exact; histogram: bin width (threshold error of AUC/EER)
};

// Error rates at one threshold (accept when distance <= threshold).
struct ErrorRates {
  double threshold = 0;
  double far = 0;
  double frr = 0;
  uint64_t false_accepts = 0;
  uint64_t false_rejects = 0;
  bool exact = true;  // false when counted from histogram bins (the bin holding the threshold
                      // counts as accepted)
};

// One point of a ROC/DET curve.
struct RocPoint {
  double threshold = 0;
  double far = 0;
  double tar = 0;  // FRR = 1 - tar
};

// One-sided 95% upper confidence bound on a rate from `false_accepts` events in `trials` (Poisson
// approximation, valid for small rates): 3/trials (rule of 3) when false_accepts == 0, otherwise
// the Wilson-Hilferty chi-square quantile chi2_0.95(2(k+1))/2 / trials. Capped at 1.
double far_upper_bound_95(uint64_t false_accepts, uint64_t trials);

// The largest threshold whose FAR on `impostor` is <= far (see the conventions above). Throws
// Errc::bad_input when the list is empty or far is outside (0, 1].
double threshold_for_far(std::vector<float> impostor, double far);

// Exact metrics from the full genuine and impostor distance lists (both sorted once here).
// Throws Errc::bad_input when a list is empty or holds a NaN.
class ExactRoc {
 public:
  ExactRoc(std::vector<float> genuine, std::vector<float> impostor);

  double auc() const;
  FarPoint at_far(double target) const;
  ErrorRates at_threshold(double threshold) const;
  RocSummary summary(const std::vector<double>& far_targets = kDefaultFarTargets) const;
  // The ROC staircase, thinned to about `max_points` points spread evenly in log FAR and TAR.
  std::vector<RocPoint> curve(size_t max_points = 2000) const;

  const std::vector<float>& genuine() const { return genuine_; }    // sorted ascending
  const std::vector<float>& impostor() const { return impostor_; }  // sorted ascending

 private:
  std::vector<float> genuine_;
  std::vector<float> impostor_;
};

// Streaming accumulator for huge pair counts (2e8 impostor pairs and more) in bounded memory:
//   - a fixed-bin histogram of genuine and of impostor distances over [0, max_distance] (default
//     2^16 bins over [0, 2], the range of distances between unit vectors; bins are half-open
//     [lo, hi), larger distances land in the last bin and are counted in clamped());
//   - the k smallest impostor distances, exactly (a bounded max-heap, default k = 1000);
//   - every genuine distance, exactly, while there are at most `genuine_cap` of them.
// Precision: AUC and EER come from the bins: the EER threshold is accurate to one bin width and
// pairs within one bin count as ties (1/2 in the AUC). TAR at a FAR target is EXACT when
// floor(target * N_imp) < k (the tail decides the threshold; TAR uses the exact genuine list if
// kept): with 2e8 impostors and k = 1000 that covers FAR <= 5e-6, i.e. 1e-6. Above it the
// threshold is the largest bin edge with FAR <= target (up to one bin width low; FAR is exact at
// that edge). Means are exact.
class HistogramAccumulator {
 public:
  static constexpr size_t kDefaultBins = size_t{1} << 16;
  static constexpr double kDefaultMaxDistance = 2.0;
  static constexpr size_t kDefaultTail = 1000;
  static constexpr size_t kDefaultGenuineCap = size_t{1} << 23;

  explicit HistogramAccumulator(size_t bins = kDefaultBins,
                                double max_distance = kDefaultMaxDistance,
                                size_t impostor_tail = kDefaultTail,
                                size_t genuine_cap = kDefaultGenuineCap);

  void add_genuine(float d) {
    ++genuine_bins_[bin_of(d)];
    genuine_sum_ += d;
    ++genuine_count_;
    if (keep_genuine_) keep_genuine(d);
  }
  void add_impostor(float d) {
    ++impostor_bins_[bin_of(d)];
    impostor_sum_ += d;
    ++impostor_count_;
    if (d < tail_cutoff_) push_tail(d);
  }
  // The hot path of all-pairs: d[k] is genuine when labels[k] == label, impostor otherwise.
  void add_row(const float* d, const int* labels, int label, size_t n);
  void add_genuine(const std::vector<float>& d) {
    for (float x : d) add_genuine(x);
  }
  void add_impostor(const std::vector<float>& d) {
    for (float x : d) add_impostor(x);
  }
  // An empty accumulator with the same bins, range, tail size and genuine cap.
  HistogramAccumulator empty_like() const {
    return HistogramAccumulator(bins(), max_distance_, tail_capacity_, genuine_cap_);
  }
  // Adds another accumulator's counts (same bins and range; throws Errc::internal otherwise).
  void merge(const HistogramAccumulator& other);

  uint64_t genuine_count() const { return genuine_count_; }
  uint64_t impostor_count() const { return impostor_count_; }
  uint64_t clamped() const { return clamped_; }  // distances > max_distance put in the last bin
  size_t bins() const { return genuine_bins_.size(); }
  double max_distance() const { return max_distance_; }
  double bin_width() const { return max_distance_ / static_cast<double>(bins()); }
  const std::vector<uint64_t>& genuine_bins() const { return genuine_bins_; }
  const std::vector<uint64_t>& impostor_bins() const { return impostor_bins_; }
  std::vector<float> impostor_tail() const;  // the k smallest impostor distances, ascending

  double auc() const;
  FarPoint at_far(double target) const;
  ErrorRates at_threshold(double threshold) const;
  RocSummary summary(const std::vector<double>& far_targets = kDefaultFarTargets) const;
  std::vector<RocPoint> curve(size_t max_points = 2000) const;

 private:
  size_t bin_of(float d) {
    if (!(d >= 0.0f)) {
      if (std::isnan(d)) throw_bad_input("distance histogram: NaN distance");
      d = 0.0f;
    }
    const double x = static_cast<double>(d) * inv_width_;
    if (x >= static_cast<double>(last_bin_ + 1)) {
      ++clamped_;
      return last_bin_;
    }
    return static_cast<size_t>(x);
  }
  void keep_genuine(float d);
  void push_tail(float d);
  uint64_t genuine_at_or_below(double threshold, bool* exact) const;
  uint64_t impostor_at_or_below(double threshold, bool* exact) const;
  void require_both() const;

  std::vector<uint64_t> genuine_bins_;
  std::vector<uint64_t> impostor_bins_;
  double max_distance_;
  double inv_width_;
  size_t last_bin_;
  uint64_t genuine_count_ = 0;
  uint64_t impostor_count_ = 0;
  uint64_t clamped_ = 0;
  double genuine_sum_ = 0;
  double impostor_sum_ = 0;
  size_t tail_capacity_;
  std::vector<float> tail_;  // max-heap of the smallest impostor distances
  float tail_cutoff_;        // +inf while the heap has room, else its top
  size_t genuine_cap_;
  bool keep_genuine_;
  std::vector<float> genuine_;
};

// A fixed-width histogram of genuine and impostor distances, as fractions of each class (for
// plots).
struct DistanceHistogram {
  double lo = 0;
  double width = 0;
  std::vector<double> genuine;   // fraction of genuine distances per bin
  std::vector<double> impostor;  // fraction of impostor distances per bin
};

// `bins` bins spanning [min, max] of both lists (throws Errc::bad_input when both are empty).
DistanceHistogram make_distance_histogram(const std::vector<float>& genuine,
                                          const std::vector<float>& impostor, size_t bins = 100);
// Coarsens the accumulator's fine bins to about `bins` bins over the occupied range.
DistanceHistogram make_distance_histogram(const HistogramAccumulator& acc, size_t bins = 100);

// Human-readable multi-line summary (pairs, AUC, EER, means, a TAR@FAR table).
std::string format_roc_summary(const RocSummary& summary);

}  // namespace faceid
