#include "synth/sensor.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <opencv2/imgproc.hpp>

#include "faceid/core/error.hpp"
#include "synth/streams.hpp"

namespace faceid::synth {

namespace {

constexpr float kFocal = 525.0f;      // depth camera focal length, pixels
constexpr float kBaseline = 75.0f;    // projector-to-camera baseline, mm
constexpr float kDisparityStep = 0.125f;  // the Kinect's sub-pixel disparity resolution
constexpr int kTooNear = 400;
constexpr int kTooFar = 4095;

// Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
double normal_quantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01,  -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double lo = 0.02425;
  if (p < lo) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normal_quantile(1 - p);
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// 4096 equally likely standard normal values: a 12-bit random index gives a N(0, 1) sample.
const std::array<float, 4096>& normal_table() {
  static const std::array<float, 4096> table = [] {
    std::array<float, 4096> t{};
    for (size_t i = 0; i < t.size(); ++i) {
      t[i] = static_cast<float>(normal_quantile((static_cast<double>(i) + 0.5) / t.size()));
    }
    return t;
  }();
  return table;
}

// A fixed pseudo-random sequence of N(0, 1) values in 8.8 fixed point (for the colour noise).
const std::vector<int16_t>& noise_sequence() {
  static const std::vector<int16_t> seq = [] {
    const auto& gauss = normal_table();
    std::vector<int16_t> s(1 << 16);
    Rng rng(0x5eed0c010f0ULL);
    for (auto& v : s) v = static_cast<int16_t>(std::lround(gauss[rng.next() >> 52] * 256));
    return s;
  }();
  return seq;
}

}  // namespace

void IdealDepth::reset(int w, int h) {
  width = w;
  height = h;
  const size_t n = static_cast<size_t>(w) * h;
  z.assign(n, 0.0f);
  dropout.assign(n, 0.0f);
  cos_inc.assign(n, 1.0f);
  part.assign(n, 0);
  shadow_widen = 0;
}

cv::Mat simulate_depth(const IdealDepth& ideal, uint64_t key) {
  const int w = ideal.width, h = ideal.height;
  const size_t n = static_cast<size_t>(w) * h;
  const float* z = ideal.z.data();
  thread_local std::vector<uint8_t> hole;
  hole.assign(n, 0);
  Rng rng(key);

  // Projector shadow: the projector sits kBaseline to the right of the camera. A pixel whose
  // projector column is not left of every projector column to its right is hidden from it.
  const float fb = kFocal * kBaseline;
  for (int y = 0; y < h; ++y) {
    float min_up = std::numeric_limits<float>::infinity();
    const size_t row = static_cast<size_t>(y) * w;
    for (int x = w - 1; x >= 0; --x) {
      const float zz = z[row + x];
      if (zz <= 0) continue;
      const float up = static_cast<float>(x) - fb / zz;
      if (up > min_up + 0.25f) {
        hole[row + x] = 1;
      } else {
        min_up = std::min(min_up, up);
      }
    }
    // The Kinect's correlation window widens each shadow on its far (left) side.
    for (int x = 1; x < w && ideal.shadow_widen > 0; ++x) {
      if (hole[row + x] == 1 && hole[row + x - 1] == 0) {
        for (int k = std::max(0, x - ideal.shadow_widen); k < x; ++k) hole[row + k] = 2;
      }
    }
  }

  // Random blobs of missing readings.
  const int blobs = modulo_below(rng, 8);
  for (int k = 0; k < blobs; ++k) {
    const int cx = modulo_below(rng, w), cy = modulo_below(rng, h), r = 1 + modulo_below(rng, 3);
    for (int y = std::max(0, cy - r); y <= std::min(h - 1, cy + r); ++y) {
      for (int x = std::max(0, cx - r); x <= std::min(w - 1, cx + r); ++x) {
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) hole[static_cast<size_t>(y) * w + x] = 1;
      }
    }
  }

  // Per pixel, one random draw: its high bits decide a dropout (discontinuities, mostly on the far
  // side; grazing angles; materials; speckle), its low 12 bits pick the noise. Then disparity
  // quantisation, mm rounding and the range codes.
  const auto& gauss = normal_table();
  cv::Mat out(h, w, CV_16SC1);
  for (int y = 0; y < h; ++y) {
    int16_t* dst = out.ptr<int16_t>(y);
    for (int x = 0; x < w; ++x) {
      const size_t i = static_cast<size_t>(y) * w + x;
      const float zz = z[i];
      if (zz <= 0) {
        dst[x] = kTooFar;
        continue;
      }
      if (hole[i] != 0) {
        dst[x] = -1;
        continue;
      }
      const float thr = std::max(20.0f, 0.02f * zz);
      bool far_side = false, near_side = false;
      const float nb[4] = {x > 0 ? z[i - 1] : 0.0f, x + 1 < w ? z[i + 1] : 0.0f,
                           y > 0 ? z[i - w] : 0.0f, y + 1 < h ? z[i + w] : 0.0f};
      for (float zn : nb) {
        if (zn <= 0) continue;
        far_side |= zz - zn > thr;
        near_side |= zn - zz > thr;
      }
      float keep = 0.999f - ideal.dropout[i];
      if (far_side) keep *= 0.5f;
      if (near_side) keep *= 0.8f;
      const float ci = ideal.cos_inc[i];
      if (ci < 0.3f) keep *= 1.0f - 3.0f * (0.3f - ci);
      const uint64_t r = rng.next();
      if (static_cast<float>(r >> 40) >= keep * 16777216.0f) {
        dst[x] = -1;
        continue;
      }
      const float zm = zz * 0.001f;
      const float sigma = 0.35f + 1.5f * zm * zm;
      const float noisy = zz + sigma * gauss[r & 4095];
      const float steps = std::floor(fb / noisy / kDisparityStep + 0.5f);
      const int mm = static_cast<int>(fb / (steps * kDisparityStep) + 0.5f);
      dst[x] = static_cast<int16_t>(mm < kTooNear ? 0 : (mm >= kTooFar ? kTooFar : mm));
    }
  }
  return out;
}

void simulate_color(cv::Mat& bgr, float noise_sigma, uint64_t key) {
  cv::GaussianBlur(bgr, bgr, cv::Size(3, 3), 0.7, 0.7, cv::BORDER_REPLICATE);
  // Each row adds a window of a fixed long N(0, 1) sequence, starting at a random offset.
  const auto& seq = noise_sequence();
  const int count = bgr.cols * bgr.channels();
  const int span = static_cast<int>(seq.size()) - count;
  if (span <= 0) throw_internal("simulate_color: image row longer than the noise sequence");
  thread_local std::vector<int16_t> scaled;
  scaled.resize(seq.size());
  const int gain = static_cast<int>(std::lround(noise_sigma * 256));
  for (size_t k = 0; k < seq.size(); ++k) scaled[k] = static_cast<int16_t>((seq[k] * gain + (1 << 15)) >> 16);
  Rng rng(key);
  for (int y = 0; y < bgr.rows; ++y) {
    uint8_t* p = bgr.ptr<uint8_t>(y);
    const int16_t* n = scaled.data() + rng.next() % static_cast<uint64_t>(span);
    for (int i = 0; i < count; ++i) {
      const int v = p[i] + n[i];
      p[i] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
    }
  }
}

}  // namespace faceid::synth
