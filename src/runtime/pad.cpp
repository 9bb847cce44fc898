#include "faceid/runtime/pad.hpp"

#include <algorithm>
#include <cmath>

#include <Eigen/Dense>
#include <fmt/format.h>

#include "faceid/core/error.hpp"

namespace faceid {

namespace {

constexpr int kMinPoints = 30;
constexpr float kMaxOffsetMm = 120.0f;  // depth farther than this from the head's is background
bool valid_depth(float d) { return d != 0.0f || std::signbit(d); }

// The face window of a crop: central 60% of the columns, 70% of the rows.
struct Window {
  int x0, x1, y0, y1;
};
Window face_window(int s) {
  return {static_cast<int>(0.2 * s), static_cast<int>(0.8 * s), static_cast<int>(0.15 * s),
          static_cast<int>(0.85 * s)};
}

struct DepthPoints {
  std::vector<float> x, y, z;  // millimetres, x right and y down from the crop centre
};

DepthPoints depth_points(const FaceCrop& crop, const PreprocessConfig& pp) {
  DepthPoints pts;
  const int s = crop.size;
  if (s <= 0 || crop.chw.size() != static_cast<size_t>(kChannels) * s * s) {
    throw_internal(fmt::format("pad: crop of size {} holds {} floats", s, crop.chw.size()));
  }
  const Window w = face_window(s);
  // Millimetres per crop pixel: the crop's side in frame pixels at the head's depth.
  const float mm_per_px = crop.box.width / static_cast<float>(s) * crop.head_z_mm / kDepthFx;
  const float range = static_cast<float>(pp.depth_range_mm);
  const float* d = crop.channel(3);
  const float c = 0.5f * static_cast<float>(s - 1);
  // Larger crops are sampled every `step` pixels: the density of a 64-px crop, enough for six
  // coefficients, and the fit's cost stays flat in the input side.
  const int step = std::max(1, s / 64);
  for (int y = w.y0; y < w.y1; y += step) {
    for (int x = w.x0; x < w.x1; x += step) {
      const float v = d[static_cast<size_t>(y) * s + x];
      if (!valid_depth(v)) continue;
      const float z = v * range;
      if (std::fabs(z) >= std::min(kMaxOffsetMm, 0.98f * range)) continue;
      pts.x.push_back((static_cast<float>(x) - c) * mm_per_px);
      pts.y.push_back((static_cast<float>(y) - c) * mm_per_px);
      pts.z.push_back(z);
    }
  }
  return pts;
}

template <int N>
double fit_rms(const DepthPoints& p, Eigen::Matrix<double, N, 1>* coef) {
  Eigen::Matrix<double, N, N> ata = Eigen::Matrix<double, N, N>::Zero();
  Eigen::Matrix<double, N, 1> atb = Eigen::Matrix<double, N, 1>::Zero();
  const size_t n = p.z.size();
  auto row = [&](size_t i) {
    Eigen::Matrix<double, N, 1> r;
    const double x = p.x[i] / 100.0, y = p.y[i] / 100.0;  // decimetres: a well-conditioned system
    r(0) = 1;
    r(1) = x;
    r(2) = y;
    if constexpr (N == 6) {
      r(3) = x * x;
      r(4) = y * y;
      r(5) = x * y;
    }
    return r;
  };
  for (size_t i = 0; i < n; ++i) {
    const auto r = row(i);
    ata.noalias() += r * r.transpose();
    atb.noalias() += r * static_cast<double>(p.z[i]);
  }
  const Eigen::Matrix<double, N, 1> sol = ata.ldlt().solve(atb);
  double ss = 0;
  for (size_t i = 0; i < n; ++i) {
    const double e = static_cast<double>(p.z[i]) - row(i).dot(sol);
    ss += e * e;
  }
  if (coef) *coef = sol;
  return std::sqrt(ss / static_cast<double>(n));
}

DepthGeometry fit_points(const DepthPoints& p) {
  DepthGeometry g;
  if (static_cast<int>(p.z.size()) < kMinPoints) return g;
  g.points = static_cast<int>(p.z.size());
  g.plane_rms_mm = fit_rms<3>(p, nullptr);
  Eigen::Matrix<double, 6, 1> q;
  g.quadric_rms_mm = fit_rms<6>(p, &q);
  // z = ... + q3 (x/100)^2: the x^2 coefficient per mm is q3 / 1e4; a face bulging towards the
  // camera has smaller z at the centre, so its quadratic terms are positive.
  g.curv_xx = q(3) / 1e4;
  g.curv_yy = q(4) / 1e4;
  g.curv_xy = q(5) / 1e4;
  return g;
}

}  // namespace

DepthGeometry fit_depth_geometry(const FaceCrop& crop, const PreprocessConfig& preprocess) {
  return fit_points(depth_points(crop, preprocess));
}

bool geometric_pass(const DepthGeometry& geometry, double min_relief_mm) {
  return geometry.points > 0 && geometry.quadric_rms_mm >= min_relief_mm;
}

double liveness_score(double learned, const DepthGeometry& geometry, double min_relief_mm) {
  return geometric_pass(geometry, min_relief_mm) ? learned : 0.0;
}

LivenessDetector::LivenessDetector(PadModel model, const PadConfig& pad, const PreprocessConfig& preprocess)
    : model_(std::move(model)), preprocess_(preprocess) {
  if (model_.preprocess_fingerprint() != preprocess_fingerprint(preprocess)) {
    throw_bad_input(fmt::format(
        "pad.model '{}': the liveness model was trained on another preprocessing (fingerprint {} vs "
        "{}); retrain it with train_pad on this checkpoint's config",
        pad.model, model_.preprocess_fingerprint(), preprocess_fingerprint(preprocess)));
  }
  threshold_ = pad.threshold >= 0 ? pad.threshold : model_.calibrated_threshold();
  min_relief_mm_ = pad.min_relief_mm;
}

LivenessDetector::LivenessDetector(const PadConfig& pad, const PreprocessConfig& preprocess)
    : LivenessDetector(
          [&] {
            if (pad.model.empty()) throw_bad_input("pad.model: no liveness model given (train one with train_pad)");
            return PadModel::load(pad.model);
          }(),
          pad, preprocess) {}

std::vector<PadDecision> LivenessDetector::assess(const std::vector<const FaceCrop*>& crops) const {
  const std::vector<double> learned = model_.learned_scores(crops);
  std::vector<PadDecision> out(crops.size());
  for (size_t i = 0; i < crops.size(); ++i) {
    PadDecision& d = out[i];
    d.geometry = fit_depth_geometry(*crops[i], preprocess_);
    d.geometric_pass = geometric_pass(d.geometry, min_relief_mm_);
    d.learned = learned[i];
    d.score = d.geometric_pass ? d.learned : 0.0;
    d.live = d.score >= threshold_;
  }
  return out;
}

}  // namespace faceid
