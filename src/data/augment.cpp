#include "faceid/data/augment.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "faceid/core/rng.hpp"
#include "faceid/preprocess/preprocess.hpp"

namespace faceid {
namespace {

// Where output column (or row) i samples the source: bilinear taps with weights that are 0 for a
// tap outside the crop (indices clamped so the reads stay in bounds), and the nearest source
// index or -1 outside.
struct AxisMap {
  std::vector<int> i0, i1, nearest;
  std::vector<float> w0, w1;

  // source = (i - c - shift) / scale + c, mirrored when flip.
  void build(int size, float scale, float shift, bool flip) {
    i0.resize(size);
    i1.resize(size);
    nearest.resize(size);
    w0.resize(size);
    w1.resize(size);
    const float c = 0.5f * static_cast<float>(size - 1);
    for (int i = 0; i < size; ++i) {
      float u = (static_cast<float>(i) - c - shift) / scale + c;
      if (flip) u = static_cast<float>(size - 1) - u;
      const float f = std::floor(u);
      const int a = static_cast<int>(f);
      const float w = u - f;
      const bool a_in = a >= 0 && a < size;
      const bool b_in = a + 1 >= 0 && a + 1 < size;
      i0[i] = std::clamp(a, 0, size - 1);
      i1[i] = std::clamp(a + 1, 0, size - 1);
      w0[i] = a_in ? 1.0f - w : 0.0f;
      w1[i] = b_in ? w : 0.0f;
      const int n = static_cast<int>(std::floor(u + 0.5f));
      nearest[i] = n >= 0 && n < size ? n : -1;
    }
  }
};

void warp_bilinear(const float* src, float* dst, int size, const AxisMap& xs, const AxisMap& ys) {
  for (int y = 0; y < size; ++y) {
    const float* r0 = src + static_cast<size_t>(ys.i0[y]) * size;
    const float* r1 = src + static_cast<size_t>(ys.i1[y]) * size;
    const float wy0 = ys.w0[y];
    const float wy1 = ys.w1[y];
    float* out = dst + static_cast<size_t>(y) * size;
    for (int x = 0; x < size; ++x) {
      const int a = xs.i0[x];
      const int b = xs.i1[x];
      const float wa = xs.w0[x];
      const float wb = xs.w1[x];
      out[x] = wy0 * (wa * r0[a] + wb * r0[b]) + wy1 * (wa * r1[a] + wb * r1[b]);
    }
  }
}

void warp_nearest(const float* src, float* dst, int size, const AxisMap& xs, const AxisMap& ys) {
  for (int y = 0; y < size; ++y) {
    float* out = dst + static_cast<size_t>(y) * size;
    const int sy = ys.nearest[y];
    if (sy < 0) {
      std::fill(out, out + size, 0.0f);
      continue;
    }
    const float* row = src + static_cast<size_t>(sy) * size;
    for (int x = 0; x < size; ++x) {
      const int sx = xs.nearest[x];
      out[x] = sx >= 0 ? row[sx] : 0.0f;
    }
  }
}

// Mean of n floats: 8 float partial sums (vectorisable), folded into a double every 1024 values.
float mean_of(const float* p, size_t n) {
  double total = 0.0;
  size_t i = 0;
  while (i < n) {
    float lanes[8] = {};
    const size_t end = std::min(n, i + 1024);
    for (; i + 8 <= end; i += 8) {
      for (int l = 0; l < 8; ++l) lanes[l] += p[i + l];
    }
    for (; i < end; ++i) lanes[0] += p[i];
    for (const float l : lanes) total += l;
  }
  return static_cast<float>(total / static_cast<double>(n));
}

// Colour jitter of the 3 colour planes src -> dst (may be the same), in the [0, 1] domain.
void jitter_colour(const float* src, float* dst, int size, const AugmentDraw& d) {
  const size_t plane = static_cast<size_t>(size) * size;
  float grey = 0.0f;  // mean grey of the crop in [0, 1], the pivot of the contrast change
  if (d.contrast != 1.0f) {
    constexpr float kLuma[3] = {0.299f, 0.587f, 0.114f};
    for (int c = 0; c < 3; ++c) {
      grey += kLuma[c] * (mean_of(src + c * plane, plane) * kColorStd[c] + kColorMean[c]);
    }
  }
  for (int c = 0; c < 3; ++c) {
    // v' = clamp(a v + b, 0, 1) with v = n std + mean, then n' = (v' - mean) / std.
    const float gain = d.brightness * d.gain[c];
    const float a = d.contrast * gain;
    const float b = (1.0f - d.contrast) * grey * gain;
    const float scale = a * kColorStd[c];
    const float offset = a * kColorMean[c] + b;
    const float mean = kColorMean[c];
    const float inv_std = 1.0f / kColorStd[c];
    const float* p = src + c * plane;
    float* q = dst + c * plane;
    for (size_t i = 0; i < plane; ++i) {
      const float v = std::min(1.0f, std::max(0.0f, scale * p[i] + offset));
      q[i] = (v - mean) * inv_std;
    }
  }
}

// Adds approximately Gaussian noise (Irwin-Hall sum of 4 16-bit uniforms, rescaled to unit
// variance) of std `sigma` to the non-zero (valid) pixels.
void add_depth_noise(float* depth, size_t count, float sigma, uint64_t seed) {
  Rng rng(seed);
  constexpr float kCentre = 2.0f * 65535.0f;
  const float k = sigma * std::sqrt(3.0f) / 65536.0f;
  for (size_t i = 0; i < count; ++i) {
    if (depth[i] == 0.0f) continue;
    const uint64_t r = rng.next();
    const auto sum = static_cast<float>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) +
                                        ((r >> 32) & 0xFFFF) + (r >> 48));
    depth[i] += (sum - kCentre) * k;
  }
}

void punch_holes(float* depth, int size, const AugmentDraw& d) {
  for (int h = 0; h < d.holes; ++h) {
    const AugmentDraw::Hole& e = d.hole[h];
    const int x0 = std::max(0, static_cast<int>(std::ceil(e.cx - e.rx)));
    const int x1 = std::min(size - 1, static_cast<int>(std::floor(e.cx + e.rx)));
    const int y0 = std::max(0, static_cast<int>(std::ceil(e.cy - e.ry)));
    const int y1 = std::min(size - 1, static_cast<int>(std::floor(e.cy + e.ry)));
    for (int y = y0; y <= y1; ++y) {
      float* row = depth + static_cast<size_t>(y) * size;
      const float dy = (static_cast<float>(y) - e.cy) / e.ry;
      for (int x = x0; x <= x1; ++x) {
        const float dx = (static_cast<float>(x) - e.cx) / e.rx;
        if (!e.ellipse || dx * dx + dy * dy <= 1.0f) row[x] = 0.0f;
      }
    }
  }
}

}  // namespace

Augmenter::Augmenter(const AugmentConfig& config, const PreprocessConfig& preprocess, int64_t seed)
    : config_(config),
      depth_range_mm_(preprocess.depth_range_mm),
      seed_(seed),
      enabled_(config.enabled) {}

AugmentDraw Augmenter::draw(int size, int64_t epoch, int64_t batch_index, int64_t slot) const {
  AugmentDraw d;
  if (!enabled_) return d;
  Rng rng(hash_seed({kAugmentDomain, static_cast<uint64_t>(seed_),
                     static_cast<uint64_t>(epoch), static_cast<uint64_t>(batch_index),
                     static_cast<uint64_t>(slot)}));
  // A fixed sequence of draws whatever the config, so one option does not reshuffle the others.
  const auto sym = [&rng](double r) { return static_cast<float>(rng.uniform(-r, r)); };
  const double shift = config_.max_shift * size;
  d.flip = rng.chance(config_.flip_prob);
  d.scale = 1.0f + sym(config_.max_scale);
  d.shift_x = sym(shift);
  d.shift_y = sym(shift);
  d.brightness = 1.0f + sym(config_.color_jitter);
  d.contrast = 1.0f + sym(config_.color_jitter);
  for (float& g : d.gain) g = 1.0f + sym(config_.color_jitter);
  d.depth_noise = static_cast<float>(config_.depth_noise_mm / depth_range_mm_);
  d.noise_seed = rng.next();
  const bool holes = rng.chance(config_.hole_prob);
  const int count = 1 + static_cast<int>(rng.below(3));
  for (AugmentDraw::Hole& h : d.hole) {
    h.ellipse = rng.chance(0.5);
    h.cx = static_cast<float>(rng.uniform(0.0, size));
    h.cy = static_cast<float>(rng.uniform(0.0, size));
    h.rx = static_cast<float>(rng.uniform(0.02, 0.075) * size);
    h.ry = static_cast<float>(rng.uniform(0.02, 0.075) * size);
  }
  d.holes = holes ? count : 0;
  return d;
}

void Augmenter::apply(const float* src, float* dst, int size, int64_t epoch, int64_t batch_index,
                      int64_t slot) const {
  if (!enabled_) {
    std::memcpy(dst, src, sizeof(float) * kChannels * size * size);
    return;
  }
  apply(src, dst, size, draw(size, epoch, batch_index, slot));
}

void Augmenter::apply(const float* src, float* dst, int size, const AugmentDraw& d) {
  const size_t plane = static_cast<size_t>(size) * size;
  const bool jitter = d.brightness != 1.0f || d.contrast != 1.0f || d.gain[0] != 1.0f ||
                      d.gain[1] != 1.0f || d.gain[2] != 1.0f;
  const bool warp = d.flip || d.scale != 1.0f || d.shift_x != 0.0f || d.shift_y != 0.0f;

  if (!warp) {
    if (jitter) {
      jitter_colour(src, dst, size, d);
    } else {
      std::memcpy(dst, src, sizeof(float) * 3 * plane);
    }
    std::memcpy(dst + 3 * plane, src + 3 * plane, sizeof(float) * plane);
  } else {
    thread_local AxisMap xs;
    thread_local AxisMap ys;
    thread_local std::vector<float> jittered;
    xs.build(size, d.scale, d.shift_x, d.flip);
    ys.build(size, d.scale, d.shift_y, false);
    const float* colour = src;
    if (jitter) {
      jittered.resize(3 * plane);
      jitter_colour(src, jittered.data(), size, d);
      colour = jittered.data();
    }
    for (int c = 0; c < 3; ++c) warp_bilinear(colour + c * plane, dst + c * plane, size, xs, ys);
    warp_nearest(src + 3 * plane, dst + 3 * plane, size, xs, ys);
  }

  float* depth = dst + 3 * plane;
  if (d.depth_noise > 0.0f) add_depth_noise(depth, plane, d.depth_noise, d.noise_seed);
  punch_holes(depth, size, d);
}

}  // namespace faceid
