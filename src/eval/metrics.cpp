#include "faceid/eval/metrics.hpp"

#include <fmt/format.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>

namespace faceid {
namespace {

// Both engines describe the score distributions as a rising staircase of thresholds t_k (only where
// a count changes) with G_k = #genuine <= t_k and I_k = #impostor <= t_k. AUC, EER and the curve
// are computed once, from any staircase. `for_each(f)` calls f(t, G, I) until f returns false.

template <class ForEach>
double auc_from_steps(const ForEach& for_each, uint64_t ng, uint64_t ni) {
  long double pairs_below = 0;  // genuine-impostor pairs with genuine < impostor (+1/2 ties)
  uint64_t prev_g = 0, prev_i = 0;
  for_each([&](double, uint64_t g, uint64_t i) {
    const long double dg = static_cast<long double>(g - prev_g);
    const long double di = static_cast<long double>(i - prev_i);
    pairs_below += dg * static_cast<long double>(ni - i) + 0.5L * dg * di;
    prev_g = g;
    prev_i = i;
    return true;
  });
  return static_cast<double>(pairs_below /
                             (static_cast<long double>(ng) * static_cast<long double>(ni)));
}

struct Eer {
  double rate = 0;
  double threshold = 0;
};

// `start_threshold`: the threshold below every step, where FAR = 0 and FRR = 1.
template <class ForEach>
Eer eer_from_steps(const ForEach& for_each, uint64_t ng, uint64_t ni, double start_threshold) {
  using U128 = unsigned __int128;
  double prev_t = start_threshold, prev_far = 0.0, prev_frr = 1.0;
  bool on_plateau = false;  // FAR == FRR exactly at the last step: the EER is its value
  double plateau_t = 0;
  Eer out;
  bool found = false;
  for_each([&](double t, uint64_t g, uint64_t i) {
    if (on_plateau) {  // FAR == FRR on [plateau_t, t): take the middle
      out.threshold = 0.5 * (plateau_t + t);
      found = true;
      return false;
    }
    const double far = static_cast<double>(i) / static_cast<double>(ni);
    const double frr = static_cast<double>(ng - g) / static_cast<double>(ng);
    // Compare FAR and FRR exactly: i/ni vs (ng-g)/ng.
    const U128 far_scaled = static_cast<U128>(i) * ng;
    const U128 frr_scaled = static_cast<U128>(ng - g) * ni;
    if (far_scaled == frr_scaled) {
      out.rate = far;
      plateau_t = t;
      on_plateau = true;
      return true;
    }
    if (far_scaled > frr_scaled) {
      const double prev_diff = prev_far - prev_frr;  // < 0
      const double alpha = -prev_diff / ((far - frr) - prev_diff);
      out.rate = prev_far + alpha * (far - prev_far);
      out.threshold = prev_t + alpha * (t - prev_t);
      found = true;
      return false;
    }
    prev_t = t;
    prev_far = far;
    prev_frr = frr;
    return true;
  });
  if (!found && on_plateau) out.threshold = plateau_t;
  return out;
}

template <class ForEach>
std::vector<RocPoint> curve_from_steps(const ForEach& for_each, uint64_t ng, uint64_t ni,
                                       size_t max_points) {
  max_points = std::max<size_t>(max_points, 16);
  const double decades = std::max(1.0, std::log10(static_cast<double>(ni)));
  const double far_ratio = std::pow(10.0, decades / static_cast<double>(max_points / 2));
  const double tar_step = 2.0 / static_cast<double>(max_points);
  std::vector<RocPoint> out;
  RocPoint pending;
  bool has_pending = false;
  for_each([&](double t, uint64_t g, uint64_t i) {
    const RocPoint p{t, static_cast<double>(i) / static_cast<double>(ni),
                     static_cast<double>(g) / static_cast<double>(ng)};
    if (out.empty() || (p.far > out.back().far && p.far >= out.back().far * far_ratio) ||
        p.tar - out.back().tar >= tar_step) {
      out.push_back(p);
      has_pending = false;
    } else {
      pending = p;
      has_pending = true;
    }
    return true;
  });
  if (has_pending) out.push_back(pending);
  return out;
}

void check_target(double target) {
  if (!(target > 0.0 && target <= 1.0)) {
    throw_bad_input(fmt::format("FAR target must be in (0, 1], got {}", target));
  }
}

// False accepts allowed at `target` among n impostors.
uint64_t allowed_false_accepts(double target, uint64_t n) {
  return static_cast<uint64_t>(std::floor(target * static_cast<double>(n) * (1.0 + 1e-12)));
}

// The largest float below s: every distance < s is accepted, s itself is not.
double threshold_below(float s) {
  return static_cast<double>(std::nextafter(s, -std::numeric_limits<float>::infinity()));
}

void check_lists(const std::vector<float>& genuine, const std::vector<float>& impostor) {
  if (genuine.empty() || impostor.empty()) {
    throw_bad_input(fmt::format(
        "ROC needs at least one genuine and one impostor distance (got {} genuine, {} impostor)",
        genuine.size(), impostor.size()));
  }
  auto has_nan = [](const std::vector<float>& v) {
    return std::any_of(v.begin(), v.end(), [](float x) { return std::isnan(x); });
  };
  if (has_nan(genuine) || has_nan(impostor)) throw_bad_input("ROC: NaN in the distance lists");
}

double mean_of(const std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += x;
  return v.empty() ? 0.0 : sum / static_cast<double>(v.size());
}

template <class Roc>
RocSummary summarize(const Roc& roc, const std::vector<double>& far_targets) {
  RocSummary s;
  s.auc = roc.auc();
  for (double target : far_targets) s.at_far.push_back(roc.at_far(target));
  return s;
}

}  // namespace

double far_upper_bound_95(uint64_t false_accepts, uint64_t trials) {
  if (trials == 0) throw_bad_input("FAR upper bound: zero impostor trials");
  const double n = static_cast<double>(trials);
  if (false_accepts == 0) return std::min(1.0, 3.0 / n);
  const double z = 1.6448536269514722;                              // one-sided 95% normal quantile
  const double nu_half = static_cast<double>(false_accepts) + 1.0;  // chi-square dof / 2
  const double c = 1.0 - 1.0 / (9.0 * nu_half) + z / (3.0 * std::sqrt(nu_half));
  return std::min(1.0, nu_half * c * c * c / n);
}

double threshold_for_far(std::vector<float> impostor, double far) {
  check_target(far);
  if (impostor.empty()) throw_bad_input("threshold_for_far: no impostor distances");
  if (std::any_of(impostor.begin(), impostor.end(), [](float x) { return std::isnan(x); })) {
    throw_bad_input("threshold_for_far: NaN in the impostor distances");
  }
  const uint64_t m = allowed_false_accepts(far, impostor.size());
  if (m >= impostor.size()) return *std::max_element(impostor.begin(), impostor.end());
  std::nth_element(impostor.begin(), impostor.begin() + static_cast<std::ptrdiff_t>(m),
                   impostor.end());
  return threshold_below(impostor[m]);
}

// ---- ExactRoc -----------------------------------------------------------------------------------

ExactRoc::ExactRoc(std::vector<float> genuine, std::vector<float> impostor)
    : genuine_(std::move(genuine)), impostor_(std::move(impostor)) {
  check_lists(genuine_, impostor_);
  std::sort(genuine_.begin(), genuine_.end());
  std::sort(impostor_.begin(), impostor_.end());
}

namespace {
struct ExactSteps {
  const std::vector<float>& g;
  const std::vector<float>& i;
  template <class F>
  void operator()(F&& f) const {
    size_t a = 0, b = 0;
    while (a < g.size() || b < i.size()) {
      const float t = a < g.size() ? (b < i.size() ? std::min(g[a], i[b]) : g[a]) : i[b];
      while (a < g.size() && g[a] == t) ++a;
      while (b < i.size() && i[b] == t) ++b;
      if (!f(static_cast<double>(t), a, b)) return;
    }
  }
};
}  // namespace

double ExactRoc::auc() const {
  return auc_from_steps(ExactSteps{genuine_, impostor_}, genuine_.size(), impostor_.size());
}

FarPoint ExactRoc::at_far(double target) const {
  check_target(target);
  FarPoint p;
  p.target = target;
  const uint64_t ni = impostor_.size();
  const uint64_t m = allowed_false_accepts(target, ni);
  if (m >= ni) {
    p.threshold = std::max(genuine_.back(), impostor_.back());
    p.false_accepts = ni;
    p.tar = 1.0;
  } else {
    const float s = impostor_[m];
    p.threshold = threshold_below(s);
    p.false_accepts = static_cast<uint64_t>(
        std::lower_bound(impostor_.begin(), impostor_.end(), s) - impostor_.begin());
    const auto accepted = std::lower_bound(genuine_.begin(), genuine_.end(), s) - genuine_.begin();
    p.tar = static_cast<double>(accepted) / static_cast<double>(genuine_.size());
  }
  p.far_achieved = static_cast<double>(p.false_accepts) / static_cast<double>(ni);
  p.far_upper_bound_95 = far_upper_bound_95(p.false_accepts, ni);
  return p;
}

ErrorRates ExactRoc::at_threshold(double threshold) const {
  ErrorRates r;
  r.threshold = threshold;
  auto count_le = [threshold](const std::vector<float>& v) {
    return static_cast<uint64_t>(
        std::upper_bound(v.begin(), v.end(), threshold,
                         [](double t, float x) { return t < static_cast<double>(x); }) -
        v.begin());
  };
  r.false_accepts = count_le(impostor_);
  r.false_rejects = genuine_.size() - count_le(genuine_);
  r.far = static_cast<double>(r.false_accepts) / static_cast<double>(impostor_.size());
  r.frr = static_cast<double>(r.false_rejects) / static_cast<double>(genuine_.size());
  return r;
}

RocSummary ExactRoc::summary(const std::vector<double>& far_targets) const {
  RocSummary s = summarize(*this, far_targets);
  const Eer eer = eer_from_steps(ExactSteps{genuine_, impostor_}, genuine_.size(), impostor_.size(),
                                 static_cast<double>(std::min(genuine_[0], impostor_[0])));
  s.eer = eer.rate;
  s.eer_threshold = eer.threshold;
  s.genuine_mean = mean_of(genuine_);
  s.impostor_mean = mean_of(impostor_);
  s.genuine_pairs = genuine_.size();
  s.impostor_pairs = impostor_.size();
  s.resolution = 0.0;
  return s;
}

std::vector<RocPoint> ExactRoc::curve(size_t max_points) const {
  return curve_from_steps(ExactSteps{genuine_, impostor_}, genuine_.size(), impostor_.size(),
                          max_points);
}

// ---- HistogramAccumulator -----------------------------------------------------------------------

HistogramAccumulator::HistogramAccumulator(size_t bins, double max_distance, size_t impostor_tail,
                                           size_t genuine_cap)
    : genuine_bins_(bins, 0),
      impostor_bins_(bins, 0),
      max_distance_(max_distance),
      inv_width_(static_cast<double>(bins) / max_distance),
      last_bin_(bins - 1),
      tail_capacity_(impostor_tail),
      tail_cutoff_(impostor_tail > 0 ? std::numeric_limits<float>::infinity()
                                     : -std::numeric_limits<float>::infinity()),
      genuine_cap_(genuine_cap),
      keep_genuine_(genuine_cap > 0) {
  if (bins == 0 || !(max_distance > 0.0) || !std::isfinite(max_distance)) {
    throw_bad_input(
        fmt::format("distance histogram: need bins > 0 and a finite range > 0, got "
                    "{} bins over [0, {}]",
                    bins, max_distance));
  }
  tail_.reserve(impostor_tail);
}

void HistogramAccumulator::add_row(const float* d, const int* labels, int label, size_t n) {
  // Counts and the genuine sum live in registers here; the row sum is vectorised and the (rare)
  // genuine part subtracted from it.
  uint64_t* gb = genuine_bins_.data();
  uint64_t* ib = impostor_bins_.data();
  uint64_t genuine = 0;
  double genuine_sum = 0;
  float cutoff = tail_cutoff_;
  for (size_t k = 0; k < n; ++k) {
    const float x = d[k];
    const size_t b = bin_of(x);
    if (labels[k] == label) {
      ++gb[b];
      ++genuine;
      genuine_sum += x;
      if (keep_genuine_) keep_genuine(x);
    } else {
      ++ib[b];
      if (x < cutoff) {
        push_tail(x);
        cutoff = tail_cutoff_;
      }
    }
  }
  const auto row_sum = static_cast<double>(
      Eigen::Map<const Eigen::ArrayXf>(d, static_cast<Eigen::Index>(n)).sum());
  genuine_count_ += genuine;
  impostor_count_ += n - genuine;
  genuine_sum_ += genuine_sum;
  impostor_sum_ += row_sum - genuine_sum;
}

void HistogramAccumulator::keep_genuine(float d) {
  if (genuine_.size() < genuine_cap_) {
    genuine_.push_back(d);
  } else {
    keep_genuine_ = false;
    std::vector<float>().swap(genuine_);
  }
}

void HistogramAccumulator::push_tail(float d) {
  if (tail_.size() < tail_capacity_) {
    tail_.push_back(d);
    std::push_heap(tail_.begin(), tail_.end());
    if (tail_.size() == tail_capacity_) tail_cutoff_ = tail_.front();
    return;
  }
  std::pop_heap(tail_.begin(), tail_.end());
  tail_.back() = d;
  std::push_heap(tail_.begin(), tail_.end());
  tail_cutoff_ = tail_.front();
}

void HistogramAccumulator::merge(const HistogramAccumulator& other) {
  if (other.bins() != bins() || other.max_distance_ != max_distance_ ||
      other.tail_capacity_ != tail_capacity_) {
    throw_internal("HistogramAccumulator::merge: different bins, range or tail size");
  }
  for (size_t k = 0; k < bins(); ++k) {
    genuine_bins_[k] += other.genuine_bins_[k];
    impostor_bins_[k] += other.impostor_bins_[k];
  }
  genuine_count_ += other.genuine_count_;
  impostor_count_ += other.impostor_count_;
  clamped_ += other.clamped_;
  genuine_sum_ += other.genuine_sum_;
  impostor_sum_ += other.impostor_sum_;
  for (float d : other.tail_) {
    if (d < tail_cutoff_) push_tail(d);
  }
  if (keep_genuine_ && other.keep_genuine_ &&
      genuine_.size() + other.genuine_.size() <= genuine_cap_) {
    genuine_.insert(genuine_.end(), other.genuine_.begin(), other.genuine_.end());
  } else {
    keep_genuine_ = false;
    std::vector<float>().swap(genuine_);
  }
}

std::vector<float> HistogramAccumulator::impostor_tail() const {
  std::vector<float> out = tail_;
  std::sort(out.begin(), out.end());
  return out;
}

void HistogramAccumulator::require_both() const {
  if (genuine_count_ == 0 || impostor_count_ == 0) {
    throw_bad_input(fmt::format(
        "ROC needs at least one genuine and one impostor distance (got {} genuine, {} impostor)",
        genuine_count_, impostor_count_));
  }
}

namespace {
struct HistogramSteps {
  const std::vector<uint64_t>& g;
  const std::vector<uint64_t>& i;
  double width;
  template <class F>
  void operator()(F&& f) const {
    uint64_t cg = 0, ci = 0;
    for (size_t k = 0; k < g.size(); ++k) {
      if (g[k] == 0 && i[k] == 0) continue;
      cg += g[k];
      ci += i[k];
      if (!f(static_cast<double>(k + 1) * width, cg, ci)) return;
    }
  }
};

// Bins 0..k hold the distances <= threshold (the bin holding the threshold counts as accepted).
uint64_t bins_at_or_below(const std::vector<uint64_t>& bins, double threshold, double width) {
  if (threshold < 0.0) return 0;
  const double x = threshold / width;
  const size_t last =
      x >= static_cast<double>(bins.size()) ? bins.size() - 1 : static_cast<size_t>(x);
  uint64_t n = 0;
  for (size_t k = 0; k <= last; ++k) n += bins[k];
  return n;
}
}  // namespace

uint64_t HistogramAccumulator::genuine_at_or_below(double threshold, bool* exact) const {
  if (keep_genuine_) {
    return static_cast<uint64_t>(std::count_if(genuine_.begin(), genuine_.end(), [&](float d) {
      return static_cast<double>(d) <= threshold;
    }));
  }
  *exact = false;
  return bins_at_or_below(genuine_bins_, threshold, bin_width());
}

uint64_t HistogramAccumulator::impostor_at_or_below(double threshold, bool* exact) const {
  const bool tail_has_all = tail_.size() == impostor_count_;
  if (!tail_.empty() && (tail_has_all || threshold < static_cast<double>(tail_.front()))) {
    return static_cast<uint64_t>(std::count_if(
        tail_.begin(), tail_.end(), [&](float d) { return static_cast<double>(d) <= threshold; }));
  }
  *exact = false;
  return bins_at_or_below(impostor_bins_, threshold, bin_width());
}

double HistogramAccumulator::auc() const {
  require_both();
  return auc_from_steps(HistogramSteps{genuine_bins_, impostor_bins_, bin_width()}, genuine_count_,
                        impostor_count_);
}

FarPoint HistogramAccumulator::at_far(double target) const {
  check_target(target);
  require_both();
  FarPoint p;
  p.target = target;
  const uint64_t ni = impostor_count_;
  const uint64_t m = allowed_false_accepts(target, ni);
  const std::vector<float> tail = impostor_tail();
  if (m >= ni) {
    size_t last = bins() - 1;
    while (genuine_bins_[last] == 0 && impostor_bins_[last] == 0) --last;
    p.threshold = clamped_ > 0 ? std::numeric_limits<double>::infinity()
                               : static_cast<double>(last + 1) * bin_width();
    p.false_accepts = ni;
    p.tar = 1.0;
    p.exact = true;
  } else if (m < tail.size()) {  // the tail holds the (m+1)-th smallest impostor distance
    const float s = tail[m];
    p.threshold = threshold_below(s);
    p.false_accepts =
        static_cast<uint64_t>(std::lower_bound(tail.begin(), tail.end(), s) - tail.begin());
    bool exact = true;
    p.tar = static_cast<double>(genuine_at_or_below(p.threshold, &exact)) /
            static_cast<double>(genuine_count_);
    p.exact = exact;
  } else {  // the largest bin edge with at most m impostors below it
    uint64_t below = 0;
    size_t edge = 0;  // threshold just below edge * width
    for (size_t k = 0; k < bins(); ++k) {
      if (below + impostor_bins_[k] > m) break;
      below += impostor_bins_[k];
      edge = k + 1;
    }
    p.threshold = threshold_below(static_cast<float>(static_cast<double>(edge) * bin_width()));
    p.false_accepts = below;
    uint64_t genuine_below = 0;
    if (keep_genuine_) {
      bool exact = true;
      genuine_below = genuine_at_or_below(p.threshold, &exact);
    } else {
      for (size_t k = 0; k < edge; ++k) genuine_below += genuine_bins_[k];
    }
    p.tar = static_cast<double>(genuine_below) / static_cast<double>(genuine_count_);
    p.exact = false;
  }
  p.far_achieved = static_cast<double>(p.false_accepts) / static_cast<double>(ni);
  p.far_upper_bound_95 = far_upper_bound_95(p.false_accepts, ni);
  return p;
}

ErrorRates HistogramAccumulator::at_threshold(double threshold) const {
  require_both();
  ErrorRates r;
  r.threshold = threshold;
  bool exact = true;
  r.false_accepts = impostor_at_or_below(threshold, &exact);
  r.false_rejects = genuine_count_ - genuine_at_or_below(threshold, &exact);
  r.far = static_cast<double>(r.false_accepts) / static_cast<double>(impostor_count_);
  r.frr = static_cast<double>(r.false_rejects) / static_cast<double>(genuine_count_);
  r.exact = exact;
  return r;
}

RocSummary HistogramAccumulator::summary(const std::vector<double>& far_targets) const {
  require_both();
  RocSummary s = summarize(*this, far_targets);
  const Eer eer = eer_from_steps(HistogramSteps{genuine_bins_, impostor_bins_, bin_width()},
                                 genuine_count_, impostor_count_, 0.0);
  s.eer = eer.rate;
  s.eer_threshold = eer.threshold;
  s.genuine_mean = genuine_sum_ / static_cast<double>(genuine_count_);
  s.impostor_mean = impostor_sum_ / static_cast<double>(impostor_count_);
  s.genuine_pairs = genuine_count_;
  s.impostor_pairs = impostor_count_;
  s.resolution = bin_width();
  return s;
}

std::vector<RocPoint> HistogramAccumulator::curve(size_t max_points) const {
  require_both();
  return curve_from_steps(HistogramSteps{genuine_bins_, impostor_bins_, bin_width()},
                          genuine_count_, impostor_count_, max_points);
}

// ---- histograms for plots -----------------------------------------------------------------------

DistanceHistogram make_distance_histogram(const std::vector<float>& genuine,
                                          const std::vector<float>& impostor, size_t bins) {
  if (genuine.empty() && impostor.empty()) {
    throw_bad_input("distance histogram: no distances");
  }
  bins = std::max<size_t>(bins, 1);
  float lo = std::numeric_limits<float>::infinity();
  float hi = -std::numeric_limits<float>::infinity();
  for (const auto* v : {&genuine, &impostor}) {
    for (float d : *v) {
      if (std::isnan(d)) throw_bad_input("distance histogram: NaN distance");
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
  }
  DistanceHistogram h;
  h.lo = lo;
  h.width = hi > lo ? (static_cast<double>(hi) - lo) / static_cast<double>(bins) : 1e-3;
  h.genuine.assign(bins, 0.0);
  h.impostor.assign(bins, 0.0);
  auto fill = [&](const std::vector<float>& v, std::vector<double>& out) {
    if (v.empty()) return;
    const double unit = 1.0 / static_cast<double>(v.size());
    for (float d : v) {
      const auto k = static_cast<size_t>((static_cast<double>(d) - h.lo) / h.width);
      out[std::min(k, bins - 1)] += unit;
    }
  };
  fill(genuine, h.genuine);
  fill(impostor, h.impostor);
  return h;
}

DistanceHistogram make_distance_histogram(const HistogramAccumulator& acc, size_t bins) {
  const auto& g = acc.genuine_bins();
  const auto& i = acc.impostor_bins();
  size_t first = 0, last = acc.bins();
  while (first < acc.bins() && g[first] == 0 && i[first] == 0) ++first;
  if (first == acc.bins()) throw_bad_input("distance histogram: no distances");
  while (g[last - 1] == 0 && i[last - 1] == 0) --last;
  bins = std::max<size_t>(bins, 1);
  const size_t group = std::max<size_t>(1, (last - first + bins - 1) / bins);
  const size_t coarse = (last - first + group - 1) / group;
  DistanceHistogram h;
  h.lo = static_cast<double>(first) * acc.bin_width();
  h.width = static_cast<double>(group) * acc.bin_width();
  h.genuine.assign(coarse, 0.0);
  h.impostor.assign(coarse, 0.0);
  const double gu = acc.genuine_count() ? 1.0 / static_cast<double>(acc.genuine_count()) : 0.0;
  const double iu = acc.impostor_count() ? 1.0 / static_cast<double>(acc.impostor_count()) : 0.0;
  for (size_t k = first; k < last; ++k) {
    const size_t c = (k - first) / group;
    h.genuine[c] += static_cast<double>(g[k]) * gu;
    h.impostor[c] += static_cast<double>(i[k]) * iu;
  }
  return h;
}

std::string format_roc_summary(const RocSummary& s) {
  std::string out = fmt::format(
      "pairs: {} genuine, {} impostor\n"
      "AUC {:.6f}   EER {:.4f}% at threshold {:.5f}{}\n"
      "mean distance: genuine {:.4f}, impostor {:.4f}\n",
      s.genuine_pairs, s.impostor_pairs, s.auc, 100.0 * s.eer, s.eer_threshold,
      s.resolution > 0 ? fmt::format(" (histogram, bin width {:.2g})", s.resolution) : "",
      s.genuine_mean, s.impostor_mean);
  if (!s.at_far.empty()) {
    out += fmt::format("{:>10}  {:>9}  {:>10}  {:>12}  {:>14}  {}\n", "FAR target", "TAR",
                       "threshold", "FAR achieved", "FAR upper 95%", "false accepts");
    for (const FarPoint& p : s.at_far) {
      out += fmt::format("{:>10.0e}  {:>8.4f}%  {:>10.5f}  {:>12.3e}  {:>14.3e}  {}{}\n", p.target,
                         100.0 * p.tar, p.threshold, p.far_achieved, p.far_upper_bound_95,
                         p.false_accepts, p.exact ? "" : "  (bin edge)");
    }
  }
  return out;
}

}  // namespace faceid
