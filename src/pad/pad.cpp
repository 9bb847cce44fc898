#include "faceid/pad/pad.hpp"

#include <algorithm>
#include <cmath>

#include <Eigen/Dense>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "faceid/error.hpp"
#include "faceid/fs.hpp"
#include "faceid/pad/pad_metrics.hpp"

namespace faceid {

namespace {

constexpr int kMinPoints = 30;
constexpr float kMaxOffsetMm = 120.0f;  // depth farther than this from the head's is background
constexpr int kHistBins = 8;
constexpr float kHistHalfRangeMm = 60.0f;

constexpr int kScalarFeatures = 26;
constexpr const char* kScalarNames[kScalarFeatures] = {
    "plane_rms_mm", "quadric_rms_mm", "curv_xx", "curv_yy", "curv_xy", "valid_fraction",
    "depth_spread_mm", "hist_0", "hist_1", "hist_2", "hist_3", "hist_4", "hist_5", "hist_6",
    "hist_7", "luma_mean", "luma_std", "red_green_mean", "blue_shift_mean", "red_green_std",
    "saturation_mean", "high_frequency", "chroma_r_std", "chroma_g_std", "dark_fraction",
    "eye_band_dark_fraction"};
static_assert(kScalarFeatures + 3 * kPadGrid * kPadGrid == kPadFeatureCount);

// Feature names: the scalars, then luma_<row><col>, chroma_<row><col> and relief_<row><col> of
// the grid.
const std::vector<std::string>& feature_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n(kScalarNames, kScalarNames + kScalarFeatures);
    for (const char* kind : {"luma", "chroma", "relief"}) {
      for (int r = 0; r < kPadGrid; ++r) {
        for (int c = 0; c < kPadGrid; ++c) n.push_back(fmt::format("{}_{}{}", kind, r, c));
      }
    }
    return n;
  }();
  return names;
}

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
  std::vector<int> cell;       // the grid cell of each point
  int window_pixels = 0;
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
  for (int y = w.y0; y < w.y1; ++y) {
    for (int x = w.x0; x < w.x1; ++x) {
      ++pts.window_pixels;
      const float v = d[static_cast<size_t>(y) * s + x];
      if (!valid_depth(v)) continue;
      const float z = v * range;
      if (std::fabs(z) >= std::min(kMaxOffsetMm, 0.98f * range)) continue;
      pts.x.push_back((static_cast<float>(x) - c) * mm_per_px);
      pts.y.push_back((static_cast<float>(y) - c) * mm_per_px);
      pts.z.push_back(z);
      pts.cell.push_back(std::min(kPadGrid - 1, (y - w.y0) * kPadGrid / (w.y1 - w.y0)) * kPadGrid +
                         std::min(kPadGrid - 1, (x - w.x0) * kPadGrid / (w.x1 - w.x0)));
    }
  }
  return pts;
}

template <int N>
double fit_rms(const DepthPoints& p, Eigen::Matrix<double, N, 1>* coef, std::vector<float>* residuals = nullptr) {
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
  if (residuals) residuals->resize(n);
  for (size_t i = 0; i < n; ++i) {
    const double e = static_cast<double>(p.z[i]) - row(i).dot(sol);
    ss += e * e;
    if (residuals) (*residuals)[i] = static_cast<float>(e);
  }
  if (coef) *coef = sol;
  return std::sqrt(ss / static_cast<double>(n));
}

DepthGeometry fit_points(const DepthPoints& p, std::vector<float>* residuals = nullptr) {
  DepthGeometry g;
  if (static_cast<int>(p.z.size()) < kMinPoints) return g;
  g.points = static_cast<int>(p.z.size());
  g.plane_rms_mm = fit_rms<3>(p, nullptr);
  Eigen::Matrix<double, 6, 1> q;
  g.quadric_rms_mm = fit_rms<6>(p, &q, residuals);
  // z = ... + q3 (x/100)^2: the x^2 coefficient per mm is q3 / 1e4; a face bulging towards the
  // camera has smaller z at the centre, so its quadratic terms are positive.
  g.curv_xx = q(3) / 1e4;
  g.curv_yy = q(4) / 1e4;
  g.curv_xy = q(5) / 1e4;
  return g;
}

float percentile(std::vector<float> v, double q) {
  if (v.empty()) return 0.0f;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

double sigmoid(double t) { return 1.0 / (1.0 + std::exp(-t)); }

}  // namespace

DepthGeometry fit_depth_geometry(const FaceCrop& crop, const PreprocessConfig& preprocess) {
  return fit_points(depth_points(crop, preprocess));
}

const char* pad_feature_name(int i) {
  if (i < 0 || i >= kPadFeatureCount) {
    throw_bad_input(fmt::format("pad feature index {} outside 0..{}", i, kPadFeatureCount - 1));
  }
  return feature_names()[static_cast<size_t>(i)].c_str();
}

namespace {

PadFeatures features_with_geometry(const FaceCrop& crop, const PreprocessConfig& preprocess,
                                   DepthGeometry& g) {
  PadFeatures f{};
  const DepthPoints pts = depth_points(crop, preprocess);
  std::vector<float> residuals;
  g = fit_points(pts, &residuals);
  // The relief layout: the mean residual over the quadric per grid cell (nose, eye sockets; a
  // mask's eye holes lie deeper).
  {
    constexpr int kCells = kPadGrid * kPadGrid;
    double sum[kCells] = {};
    int count[kCells] = {};
    for (size_t i = 0; i < residuals.size(); ++i) {
      sum[pts.cell[i]] += residuals[i];
      ++count[pts.cell[i]];
    }
    for (int cell = 0; cell < kCells; ++cell) {
      if (count[cell] > 0) f[kScalarFeatures + 2 * kCells + cell] = static_cast<float>(sum[cell] / count[cell]);
    }
  }
  f[0] = static_cast<float>(g.plane_rms_mm);
  f[1] = static_cast<float>(g.quadric_rms_mm);
  f[2] = static_cast<float>(g.curv_xx * 1e3);
  f[3] = static_cast<float>(g.curv_yy * 1e3);
  f[4] = static_cast<float>(g.curv_xy * 1e3);
  f[5] = pts.window_pixels > 0 ? static_cast<float>(pts.z.size()) / static_cast<float>(pts.window_pixels) : 0.0f;
  if (!pts.z.empty()) {
    f[6] = percentile(pts.z, 0.9) - percentile(pts.z, 0.1);
    const float median = percentile(pts.z, 0.5);
    const float bin_mm = 2 * kHistHalfRangeMm / kHistBins;
    for (float z : pts.z) {
      const int b = std::clamp(static_cast<int>(std::floor((z - median + kHistHalfRangeMm) / bin_mm)), 0,
                               kHistBins - 1);
      f[7 + b] += 1.0f;
    }
    for (int b = 0; b < kHistBins; ++b) f[7 + b] /= static_cast<float>(pts.z.size());
  }
  // Colour statistics of the face window (display RGB in [0, 1]).
  const int s = crop.size;
  const Window w = face_window(s);
  const float* ch[3] = {crop.channel(0), crop.channel(1), crop.channel(2)};
  // Display RGB in [0, 1] of crop pixel i (the preprocessing's normalisation undone).
  const auto rgb_at = [&](size_t i, float rgb[3]) {
    for (int c = 0; c < 3; ++c) rgb[c] = ch[c][i] * kColorStd[c] + kColorMean[c];
  };
  std::vector<float> luma(static_cast<size_t>(s) * s, 0.0f);
  double sum_l = 0, sum_l2 = 0, sum_rg = 0, sum_rg2 = 0, sum_blue = 0, sum_sat = 0;
  int n = 0;
  for (int y = w.y0; y < w.y1; ++y) {
    for (int x = w.x0; x < w.x1; ++x) {
      const size_t i = static_cast<size_t>(y) * s + x;
      float rgb[3];
      rgb_at(i, rgb);
      const float l = 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
      luma[i] = l;
      const float rg = rgb[0] - rgb[1];
      sum_l += l;
      sum_l2 += static_cast<double>(l) * l;
      sum_rg += rg;
      sum_rg2 += static_cast<double>(rg) * rg;
      sum_blue += rgb[2] - 0.5f * (rgb[0] + rgb[1]);
      sum_sat += std::max({rgb[0], rgb[1], rgb[2]}) - std::min({rgb[0], rgb[1], rgb[2]});
      ++n;
    }
  }
  if (n > 0) {
    const double mean_l = sum_l / n, mean_rg = sum_rg / n;
    const double std_l = std::sqrt(std::max(0.0, sum_l2 / n - mean_l * mean_l));
    f[15] = static_cast<float>(mean_l);
    f[16] = static_cast<float>(std_l);
    f[17] = static_cast<float>(mean_rg);
    f[18] = static_cast<float>(sum_blue / n);
    f[19] = static_cast<float>(std::sqrt(std::max(0.0, sum_rg2 / n - mean_rg * mean_rg)));
    f[20] = static_cast<float>(sum_sat / n);
    // Fine texture (print dots, moire, sensor noise on an emissive surface): the mean absolute
    // 4-neighbour Laplacian of the luma, relative to its contrast.
    double lap = 0;
    int m = 0;
    for (int y = std::max(w.y0, 1); y < std::min(w.y1, s - 1); ++y) {
      for (int x = std::max(w.x0, 1); x < std::min(w.x1, s - 1); ++x) {
        const size_t i = static_cast<size_t>(y) * s + x;
        if (y == w.y0 || y == w.y1 - 1 || x == w.x0 || x == w.x1 - 1) continue;
        lap += std::fabs(4 * luma[i] - luma[i - 1] - luma[i + 1] - luma[i - s] - luma[i + s]);
        ++m;
      }
    }
    f[21] = m > 0 ? static_cast<float>(lap / m / (std_l + 0.01)) : 0.0f;
    // Chromaticity (shading-free colour) spread of the lit pixels: skin, lips, brows, eyes vary;
    // one mask material does not. Dark pixels: a mask's eye holes.
    double sr = 0, sr2 = 0, sg = 0, sg2 = 0;
    int lit = 0, dark = 0, band = 0, band_dark = 0;
    const int band_y0 = static_cast<int>(0.3 * s), band_y1 = static_cast<int>(0.55 * s);
    for (int y = w.y0; y < w.y1; ++y) {
      for (int x = w.x0; x < w.x1; ++x) {
        const size_t i = static_cast<size_t>(y) * s + x;
        const bool in_band = y >= band_y0 && y < band_y1;
        band += in_band;
        if (luma[i] < 0.1f) {
          ++dark;
          band_dark += in_band;
        }
        if (luma[i] < 0.12f) continue;
        float rgb[3];
        rgb_at(i, rgb);
        const double sum = rgb[0] + rgb[1] + rgb[2];
        const double r = rgb[0] / sum, g = rgb[1] / sum;
        sr += r;
        sr2 += r * r;
        sg += g;
        sg2 += g * g;
        ++lit;
      }
    }
    if (lit > 0) {
      f[22] = static_cast<float>(std::sqrt(std::max(0.0, sr2 / lit - (sr / lit) * (sr / lit))));
      f[23] = static_cast<float>(std::sqrt(std::max(0.0, sg2 / lit - (sg / lit) * (sg / lit))));
    }
    f[24] = static_cast<float>(dark) / static_cast<float>(n);
    f[25] = band > 0 ? static_cast<float>(band_dark) / static_cast<float>(band) : 0.0f;
    // The colour layout: per cell of a grid over the window, the luma relative to the window's
    // and the red chromaticity's offset from the window's (eye holes, lips, brows, a mask's edge).
    const double mean_r = lit > 0 ? sr / lit : 0.0;
    constexpr int kCells = kPadGrid * kPadGrid;
    double cell_l[kCells] = {}, cell_r[kCells] = {};
    int cell_n[kCells] = {};
    for (int y = w.y0; y < w.y1; ++y) {
      const int gy = std::min(kPadGrid - 1, (y - w.y0) * kPadGrid / (w.y1 - w.y0));
      for (int x = w.x0; x < w.x1; ++x) {
        const int cell = gy * kPadGrid + std::min(kPadGrid - 1, (x - w.x0) * kPadGrid / (w.x1 - w.x0));
        const size_t i = static_cast<size_t>(y) * s + x;
        float rgb[3];
        rgb_at(i, rgb);
        cell_l[cell] += luma[i];
        cell_r[cell] += rgb[0] / std::max(1e-3f, rgb[0] + rgb[1] + rgb[2]);
        ++cell_n[cell];
      }
    }
    for (int cell = 0; cell < kCells; ++cell) {
      if (cell_n[cell] == 0) continue;
      f[kScalarFeatures + cell] = static_cast<float>(cell_l[cell] / cell_n[cell] / (mean_l + 0.01));
      f[kScalarFeatures + kCells + cell] = static_cast<float>(cell_r[cell] / cell_n[cell] - mean_r);
    }
  }
  return f;
}

}  // namespace

PadFeatures pad_features(const FaceCrop& crop, const PreprocessConfig& preprocess) {
  DepthGeometry g;
  return features_with_geometry(crop, preprocess, g);
}

PadModel PadModel::train(const std::vector<PadFeatures>& bona_fide, const std::vector<PadFeatures>& attacks,
                         const std::vector<PadFeatures>& calibration_bona_fide,
                         const PreprocessConfig& preprocess, const PadConfig& pad,
                         const PadTrainOptions& options) {
  if (bona_fide.empty() || attacks.empty()) {
    throw_bad_input(fmt::format("train_pad: need bona fide and attack frames, got {} and {}",
                                bona_fide.size(), attacks.size()));
  }
  PadModel m;
  m.preprocess_fingerprint_ = faceid::preprocess_fingerprint(preprocess);
  m.min_relief_mm_ = pad.min_relief_mm;
  const size_t n = bona_fide.size() + attacks.size();
  auto sample = [&](size_t i) -> const PadFeatures& {
    return i < bona_fide.size() ? bona_fide[i] : attacks[i - bona_fide.size()];
  };
  for (int k = 0; k < kPadFeatureCount; ++k) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; ++i) {
      s += sample(i)[k];
      s2 += static_cast<double>(sample(i)[k]) * sample(i)[k];
    }
    m.mean_[k] = s / static_cast<double>(n);
    const double var = s2 / static_cast<double>(n) - m.mean_[k] * m.mean_[k];
    m.scale_[k] = var > 1e-12 ? 1.0 / std::sqrt(var) : 0.0;
  }
  // Standardised design matrix; classes weighted equally.
  Eigen::MatrixXd x(static_cast<Eigen::Index>(n), 2 * kPadFeatureCount);
  Eigen::VectorXd y(static_cast<Eigen::Index>(n)), wt(static_cast<Eigen::Index>(n));
  for (size_t i = 0; i < n; ++i) {
    const auto r = static_cast<Eigen::Index>(i);
    for (int k = 0; k < kPadFeatureCount; ++k) {
      const double z = (sample(i)[k] - m.mean_[k]) * m.scale_[k];
      x(r, k) = z;
      x(r, kPadFeatureCount + k) = z * z - 1;  // centred: the mean of z^2 is 1
    }
    const bool live = i < bona_fide.size();
    y(r) = live ? 1.0 : 0.0;
    wt(r) = 0.5 / static_cast<double>(live ? bona_fide.size() : attacks.size());
  }
  // Newton's method (iteratively reweighted least squares) on the weighted, L2-regularised
  // log-loss; the bias is the last coefficient and is not regularised.
  constexpr int kDim = 2 * kPadFeatureCount;
  Eigen::MatrixXd xb(x.rows(), kDim + 1);
  xb << x, Eigen::VectorXd::Ones(x.rows());
  Eigen::VectorXd beta = Eigen::VectorXd::Zero(kDim + 1);
  Eigen::VectorXd reg = Eigen::VectorXd::Constant(kDim + 1, options.l2);
  reg(kDim) = 0;
  for (int it = 0; it < options.iterations; ++it) {
    const Eigen::VectorXd p = (xb * beta).unaryExpr([](double t) { return sigmoid(t); });
    const Eigen::VectorXd grad = xb.transpose() * (p - y).cwiseProduct(wt) + reg.cwiseProduct(beta);
    const Eigen::VectorXd curv = (p.array() * (1 - p.array())).matrix().cwiseProduct(wt);
    Eigen::MatrixXd hess = xb.transpose() * curv.asDiagonal() * xb;
    hess.diagonal() += reg + Eigen::VectorXd::Constant(kDim + 1, 1e-9);
    const Eigen::VectorXd step = hess.ldlt().solve(grad);
    beta -= step;
    if (step.norm() < 1e-8) break;
  }
  const Eigen::VectorXd w = beta.head(kDim);
  const double b = beta(kDim);
  for (int k = 0; k < kPadFeatureCount; ++k) {
    m.weights_[k] = w(k);
    m.weights2_[k] = w(kPadFeatureCount + k);
  }
  m.bias_ = b;
  // Calibration: scores as LivenessDetector gives them, with the configured relief.
  std::vector<double> scores;
  scores.reserve(bona_fide.size() + calibration_bona_fide.size());
  for (const auto* set : {&bona_fide, &calibration_bona_fide}) {
    for (const auto& f : *set) scores.push_back(liveness_score(m, f, pad.min_relief_mm));
  }
  m.threshold_ = std::max(threshold_for_bpcer(scores, pad.target_bpcer), 1e-6);
  return m;
}

double PadModel::learned_score(const PadFeatures& f) const {
  double t = bias_;
  for (int k = 0; k < kPadFeatureCount; ++k) {
    const double z = (f[k] - mean_[k]) * scale_[k];
    t += weights_[k] * z + weights2_[k] * (z * z - 1);
  }
  return sigmoid(t);
}

double liveness_score(const PadModel& model, const PadFeatures& features, double min_relief_mm) {
  return features[1] >= min_relief_mm && features[1] > 0 ? model.learned_score(features) : 0.0;
}

void PadModel::save(const std::filesystem::path& path) const {
  std::string text = fmt::format(
      "# faceid liveness (presentation-attack detection) model, written by train_pad.\n"
      "format: faceid-pad\nversion: {}\npreprocess_fingerprint: {}\nthreshold: {:.17g}\n"
      "min_relief_mm: {:.17g}\nbias: {:.17g}\nfeatures:\n",
      kFormatVersion, preprocess_fingerprint_, threshold_, min_relief_mm_, bias_);
  for (int k = 0; k < kPadFeatureCount; ++k) {
    text += fmt::format("  - {{name: {}, mean: {:.17g}, scale: {:.17g}, weight: {:.17g}, square_weight: {:.17g}}}\n",
                        feature_names()[static_cast<size_t>(k)], mean_[k], scale_[k], weights_[k], weights2_[k]);
  }
  write_file_atomic(path, text);
}

PadModel PadModel::load(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw_bad_input(fmt::format("{}: liveness model does not exist", path.string()));
  }
  PadModel m;
  try {
    const YAML::Node root = YAML::LoadFile(path.string());
    if (!root.IsMap() || !root["format"] || root["format"].as<std::string>() != "faceid-pad") {
      throw_bad_input(fmt::format("{}: not a faceid liveness model (format: faceid-pad)", path.string()));
    }
    const int version = root["version"].as<int>();
    if (version != kFormatVersion) {
      throw_bad_input(fmt::format("{}: liveness model version {} (this build reads version {})",
                                  path.string(), version, kFormatVersion));
    }
    m.preprocess_fingerprint_ = root["preprocess_fingerprint"].as<uint64_t>();
    m.threshold_ = root["threshold"].as<double>();
    m.min_relief_mm_ = root["min_relief_mm"].as<double>();
    m.bias_ = root["bias"].as<double>();
    const YAML::Node features = root["features"];
    if (!features.IsSequence() || features.size() != kPadFeatureCount) {
      throw_bad_input(fmt::format("{}: features: expected {} entries", path.string(), kPadFeatureCount));
    }
    for (int k = 0; k < kPadFeatureCount; ++k) {
      const YAML::Node e = features[static_cast<size_t>(k)];
      if (e["name"].as<std::string>() != feature_names()[static_cast<size_t>(k)]) {
        throw_bad_input(fmt::format("{}:{}: feature {} is '{}', expected '{}'", path.string(),
                                    e.Mark().line + 1, k, e["name"].as<std::string>(), feature_names()[static_cast<size_t>(k)]));
      }
      m.mean_[k] = e["mean"].as<double>();
      m.scale_[k] = e["scale"].as<double>();
      m.weights_[k] = e["weight"].as<double>();
      m.weights2_[k] = e["square_weight"].as<double>();
    }
  } catch (const YAML::Exception& e) {
    throw_bad_input(fmt::format("{}:{}: malformed liveness model: {}", path.string(), e.mark.line + 1, e.msg));
  }
  return m;
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

PadDecision LivenessDetector::assess(const FaceCrop& crop) const {
  PadDecision d;
  const PadFeatures f = features_with_geometry(crop, preprocess_, d.geometry);
  d.geometric_pass = d.geometry.quadric_rms_mm >= min_relief_mm_ && d.geometry.points > 0;
  d.learned = model_.learned_score(f);
  d.score = liveness_score(model_, f, min_relief_mm_);
  d.live = d.score >= threshold_;
  return d;
}

}  // namespace faceid
