#include "faceid/runtime/pad.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

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
  std::vector<uint8_t> central;  // 1 inside the central window (the middle 40% x 50% of the crop)
  std::vector<int> cell;         // index of the point's sample in the grid of grid_w columns
  int grid_w = 0, grid_h = 0;
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
  pts.grid_w = (w.x1 - w.x0 + step - 1) / step;
  pts.grid_h = (w.y1 - w.y0 + step - 1) / step;
  for (int y = w.y0; y < w.y1; y += step) {
    for (int x = w.x0; x < w.x1; x += step) {
      const float v = d[static_cast<size_t>(y) * s + x];
      if (!valid_depth(v)) continue;
      const float z = v * range;
      if (std::fabs(z) >= std::min(kMaxOffsetMm, 0.98f * range)) continue;
      pts.x.push_back((static_cast<float>(x) - c) * mm_per_px);
      pts.y.push_back((static_cast<float>(y) - c) * mm_per_px);
      pts.z.push_back(z);
      pts.central.push_back(x >= 0.3 * s && x < 0.7 * s && y >= 0.25 * s && y < 0.75 * s ? 1 : 0);
      pts.cell.push_back((y - w.y0) / step * pts.grid_w + (x - w.x0) / step);
    }
  }
  return pts;
}

template <int N>
double fit_rms(const DepthPoints& p, Eigen::Matrix<double, N, 1>* coef, const std::vector<uint8_t>* use = nullptr) {
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
  size_t used = 0;
  for (size_t i = 0; i < n; ++i) {
    if (use && !(*use)[i]) continue;
    ++used;
    const auto r = row(i);
    ata.noalias() += r * r.transpose();
    atb.noalias() += r * static_cast<double>(p.z[i]);
  }
  const Eigen::Matrix<double, N, 1> sol = ata.ldlt().solve(atb);
  double ss = 0;
  for (size_t i = 0; i < n; ++i) {
    if (use && !(*use)[i]) continue;
    const double e = static_cast<double>(p.z[i]) - row(i).dot(sol);
    ss += e * e;
  }
  if (coef) *coef = sol;
  return std::sqrt(ss / static_cast<double>(std::max<size_t>(used, 1)));
}

double quadric_at(const Eigen::Matrix<double, 6, 1>& q, float xmm, float ymm) {
  const double x = xmm / 100.0, y = ymm / 100.0;
  return q(0) + q(1) * x + q(2) * y + q(3) * x * x + q(4) * y * y + q(5) * x * y;
}

// The relief that hands, fingers and the attacker's body around a held sheet do not fake: a
// quadric fitted robustly (refitted three times on the points within 2.5 robust sigmas, at least
// 1.5 mm, of the last fit: it settles on the dominant smooth surface, the sheet, and leaves the
// fingers over its edge out), then the 75th percentile of the central window's absolute residuals
// against it. A face's nose, eye sockets and mouth fill well over a quarter of the central window
// and are no quadric; a held photo or screen is one, and fingers reaching into the window stay
// under a quarter of it. (The RMS instead let 4 of 26 held photos through, on fingers alone.)
double robust_central_relief(const DepthPoints& p) {
  const size_t n = p.z.size();
  std::vector<uint8_t> use(n, 1);
  Eigen::Matrix<double, 6, 1> q;
  std::vector<double> r(n), a;
  for (int round = 0; round < 4; ++round) {
    size_t kept = 0;
    for (uint8_t u : use) kept += u;
    if (kept < static_cast<size_t>(kMinPoints)) break;
    fit_rms<6>(p, &q, &use);
    if (round == 3) break;
    a.clear();
    for (size_t i = 0; i < n; ++i) {
      r[i] = static_cast<double>(p.z[i]) - quadric_at(q, p.x[i], p.y[i]);
      a.push_back(std::fabs(r[i]));
    }
    std::nth_element(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n / 2), a.end());
    const double cut = std::max(1.5, 2.5 * 1.4826 * a[n / 2]);
    for (size_t i = 0; i < n; ++i) use[i] = std::fabs(r[i]) <= cut ? 1 : 0;
  }
  // Residuals on the sample grid, averaged over each central sample's 3 x 3 neighbourhood: the
  // sensor's per-pixel noise drops about threefold, a nose or an eye socket (centimetres wide)
  // stays. Without it a flat print at 0.8 m reached 2.5 mm on noise alone.
  std::vector<float> grid(static_cast<size_t>(p.grid_w) * p.grid_h, std::numeric_limits<float>::quiet_NaN());
  for (size_t i = 0; i < n; ++i) {
    grid[static_cast<size_t>(p.cell[i])] = static_cast<float>(p.z[i] - quadric_at(q, p.x[i], p.y[i]));
  }
  std::vector<double> central;
  for (size_t i = 0; i < n; ++i) {
    if (!p.central[i]) continue;
    const int gx = p.cell[i] % p.grid_w, gy = p.cell[i] / p.grid_w;
    double sum = 0;
    int count = 0;
    for (int dy = -1; dy <= 1; ++dy) {
      for (int dx = -1; dx <= 1; ++dx) {
        const int x = gx + dx, y = gy + dy;
        if (x < 0 || y < 0 || x >= p.grid_w || y >= p.grid_h) continue;
        const float r = grid[static_cast<size_t>(y) * p.grid_w + x];
        if (std::isnan(r)) continue;
        sum += r;
        ++count;
      }
    }
    central.push_back(std::fabs(sum / count));
  }
  if (central.size() < static_cast<size_t>(kMinPoints) / 2) return 0.0;
  const size_t k = std::min(central.size() - 1, static_cast<size_t>(0.75 * static_cast<double>(central.size())));
  std::nth_element(central.begin(), central.begin() + static_cast<std::ptrdiff_t>(k), central.end());
  return central[k];
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
  g.relief_mm = robust_central_relief(p);
  return g;
}

// Luminance of a crop (the sum of its normalised colour channels).
std::vector<float> luminance(const FaceCrop& crop) {
  const size_t n = static_cast<size_t>(crop.size) * crop.size;
  std::vector<float> l(n);
  const float *r = crop.channel(0), *g = crop.channel(1), *b = crop.channel(2);
  for (size_t i = 0; i < n; ++i) l[i] = r[i] + g[i] + b[i];
  return l;
}

// Regions of a crop for the motion evidence (fractions of the side): the eye band and the mouth;
// the rest of the face window is the reference.
bool in_rect(int x, int y, int s, double x0, double x1, double y0, double y1) {
  return x >= x0 * s && x < x1 * s && y >= y0 * s && y < y1 * s;
}

BurstMotion pair_motion(const std::vector<float>& a, const std::vector<float>& b, int s) {
  const Window w = face_window(s);
  constexpr int kShift = 2;
  auto change = [&](int dx, int dy) {
    double sum = 0;
    for (int y = w.y0; y < w.y1; ++y) {
      for (int x = w.x0; x < w.x1; ++x) {
        sum += std::fabs(a[static_cast<size_t>(y) * s + x] - b[static_cast<size_t>(y + dy) * s + x + dx]);
      }
    }
    return sum;
  };
  int best_dx = 0, best_dy = 0;
  double best = change(0, 0);
  for (int dy = -kShift; dy <= kShift; ++dy) {
    for (int dx = -kShift; dx <= kShift; ++dx) {
      if (w.y0 + dy < 0 || w.y1 + dy > s || w.x0 + dx < 0 || w.x1 + dx > s) continue;
      const double c = change(dx, dy);
      if (c < best) best = c, best_dx = dx, best_dy = dy;
    }
  }
  double sum[3] = {0, 0, 0};
  int count[3] = {0, 0, 0};
  for (int y = w.y0; y < w.y1; ++y) {
    for (int x = w.x0; x < w.x1; ++x) {
      const double d = std::fabs(a[static_cast<size_t>(y) * s + x] -
                                 b[static_cast<size_t>(y + best_dy) * s + x + best_dx]);
      const int region = in_rect(x, y, s, 0.2, 0.8, 0.28, 0.48)    ? 0   // eyes
                         : in_rect(x, y, s, 0.3, 0.7, 0.62, 0.85) ? 1   // mouth
                                                                   : 2;  // the rest
      sum[region] += d;
      ++count[region];
    }
  }
  BurstMotion m;
  m.eyes = count[0] ? sum[0] / count[0] : 0;
  m.mouth = count[1] ? sum[1] / count[1] : 0;
  m.rest = count[2] ? sum[2] / count[2] : 0;
  m.nonrigid = std::max(m.eyes, m.mouth) / std::max(m.rest, 1e-6);
  return m;
}

}  // namespace

BurstMotion burst_motion(const std::vector<const FaceCrop*>& frames) {
  BurstMotion best;
  for (size_t i = 1; i < frames.size(); ++i) {
    const FaceCrop& a = *frames[i - 1];
    const FaceCrop& b = *frames[i];
    if (a.size != b.size || a.size < 8) {
      throw_internal(fmt::format("burst_motion: crops of sides {} and {}", a.size, b.size));
    }
    const BurstMotion m = pair_motion(luminance(a), luminance(b), a.size);
    if (i == 1 || m.nonrigid > best.nonrigid) best = m;
  }
  return best;
}

std::vector<int> burst_scored_frames(int k) {
  std::vector<int> out;
  const int n = std::min(k, kBurstScoredFrames);
  for (int i = 0; i < n; ++i) out.push_back(n == 1 ? 0 : static_cast<int>(std::lround(double(i) * (k - 1) / (n - 1))));
  return out;
}

DepthGeometry fit_depth_geometry(const FaceCrop& crop, const PreprocessConfig& preprocess) {
  return fit_points(depth_points(crop, preprocess));
}

bool geometric_pass(const DepthGeometry& geometry, double min_relief_mm) {
  return geometry.points > 0 && geometry.relief_mm >= min_relief_mm;
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
  min_relief_mm_ = model_.min_relief_mm();  // the gate its threshold was calibrated behind
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

BurstDecision LivenessDetector::assess_burst(const std::vector<const FaceCrop*>& frames) const {
  if (frames.empty()) throw_bad_input("liveness: a burst attempt needs at least one frame");
  BurstDecision b;
  b.scored = burst_scored_frames(static_cast<int>(frames.size()));
  std::vector<const FaceCrop*> scored;
  for (int i : b.scored) scored.push_back(frames[static_cast<size_t>(i)]);
  b.frames = assess(scored);
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto it = std::find(b.scored.begin(), b.scored.end(), static_cast<int>(i));
    const bool pass = it != b.scored.end()
                          ? b.frames[static_cast<size_t>(it - b.scored.begin())].geometric_pass
                          : geometric_pass(fit_depth_geometry(*frames[i], preprocess_), min_relief_mm_);
    b.geometric_passes += pass ? 1 : 0;
  }
  b.geometric_pass = 2 * b.geometric_passes >= static_cast<int>(frames.size());
  for (const auto& d : b.frames) b.learned += d.learned;
  b.learned /= static_cast<double>(b.frames.size());
  b.score = b.geometric_pass ? b.learned : 0.0;
  b.motion = burst_motion(frames);
  b.live = b.score >= threshold_;
  return b;
}

}  // namespace faceid
