#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <set>

#include "data_fixtures.hpp"
#include "faceid/data/augment.hpp"
#include "faceid/preprocess/preprocess.hpp"

using faceid::AugmentConfig;
using faceid::AugmentDraw;
using faceid::Augmenter;
using faceid::kChannels;

namespace {

constexpr int kS = 32;
constexpr size_t kPlane = static_cast<size_t>(kS) * kS;

// Zeros with a marker at (x, y) whose value differs per channel (10, 20, 30, 40).
std::vector<float> marker_crop(int x, int y) {
  std::vector<float> crop(kChannels * kPlane, 0.0f);
  for (int c = 0; c < kChannels; ++c) crop[c * kPlane + y * kS + x] = 10.0f * (c + 1);
  return crop;
}

// Where channel c's marker is (the only non-zero pixel), or (-1, -1).
std::pair<int, int> find_marker(const std::vector<float>& crop, int c) {
  std::pair<int, int> at{-1, -1};
  int found = 0;
  for (int y = 0; y < kS; ++y) {
    for (int x = 0; x < kS; ++x) {
      if (crop[c * kPlane + y * kS + x] != 0.0f) {
        at = {x, y};
        ++found;
      }
    }
  }
  return found == 1 ? at : std::make_pair(-1, -1);
}

std::vector<float> augmented(const std::vector<float>& src, const AugmentDraw& d) {
  std::vector<float> dst(src.size(), -99.0f);
  Augmenter::apply(src.data(), dst.data(), kS, d);
  return dst;
}

AugmentConfig no_augmentation() {
  AugmentConfig c;
  c.flip_prob = 0;
  c.max_shift = 0;
  c.max_scale = 0;
  c.color_jitter = 0;
  c.depth_noise_mm = 0;
  c.hole_prob = 0;
  return c;
}

std::vector<float> random_crop(int size, uint64_t seed) {
  const auto store = faceid::test::make_store({1}, size, seed);
  return store.frame(0).crop.chw;
}

}  // namespace

TEST_CASE("augment: a config that changes nothing is the identity", "[augment]") {
  const auto src = random_crop(kS, 5);
  std::vector<float> dst(src.size());
  const Augmenter none(no_augmentation(), faceid::PreprocessConfig{}, 1);
  for (int slot = 0; slot < 8; ++slot) {
    none.apply(src.data(), dst.data(), kS, 0, 0, slot);
    CHECK(std::memcmp(src.data(), dst.data(), src.size() * sizeof(float)) == 0);
  }
  AugmentConfig off;  // defaults, but disabled
  off.enabled = false;
  const Augmenter disabled(off, faceid::PreprocessConfig{}, 1);
  CHECK_FALSE(disabled.enabled());
  disabled.apply(src.data(), dst.data(), kS, 3, 4, 5);
  CHECK(std::memcmp(src.data(), dst.data(), src.size() * sizeof(float)) == 0);
  CHECK(augmented(src, AugmentDraw{}) == src);
}

TEST_CASE("augment: flip moves a marker identically in every channel", "[augment]") {
  AugmentDraw d;
  d.flip = true;
  const auto out = augmented(marker_crop(3, 7), d);
  for (int c = 0; c < kChannels; ++c) {
    CHECK(find_marker(out, c) == std::make_pair(kS - 1 - 3, 7));
    CHECK(out[c * kPlane + 7 * kS + (kS - 1 - 3)] == 10.0f * (c + 1));  // exact, no blur
  }
}

TEST_CASE("augment: translation shifts colour and depth together", "[augment]") {
  AugmentDraw d;
  d.shift_x = 5;
  d.shift_y = -3;
  const auto out = augmented(marker_crop(10, 12), d);
  for (int c = 0; c < kChannels; ++c) {
    CHECK(find_marker(out, c) == std::make_pair(15, 9));
    CHECK(out[c * kPlane + 9 * kS + 15] == 10.0f * (c + 1));
  }
  // Content shifted in from outside the crop is 0 (mean colour, invalid depth).
  const auto full = augmented(std::vector<float>(kChannels * kPlane, 1.0f), d);
  for (int c = 0; c < kChannels; ++c) {
    CHECK(full[c * kPlane + 10 * kS + 4] == 0.0f);            // left band
    CHECK(full[c * kPlane + (kS - 2) * kS + 20] == 0.0f);     // bottom band
    CHECK(full[c * kPlane + 10 * kS + 20] == Approx(1.0f));   // inside
  }
  // A zoom keeps the centre where it is and moves an off-centre marker outwards.
  AugmentDraw zoom;
  zoom.scale = 1.5f;  // about the centre 15.5: source pixels 19-20 land on 20.75-22.25
  std::vector<float> block(kChannels * kPlane, 0.0f);
  for (int c = 0; c < kChannels; ++c) {
    for (int y = 19; y <= 20; ++y) {
      for (int x = 19; x <= 20; ++x) block[c * kPlane + y * kS + x] = 1.0f;
    }
  }
  const auto zoomed = augmented(block, zoom);
  for (int c = 0; c < kChannels; ++c) {
    CHECK(zoomed[c * kPlane + 21 * kS + 21] == Approx(1.0f));
    CHECK(zoomed[c * kPlane + 19 * kS + 19] == Approx(0.0f).margin(1e-6));
  }
}

TEST_CASE("augment: depth is resampled nearest, invalid stays invalid", "[augment]") {
  auto src = random_crop(kS, 9);
  float* depth = src.data() + 3 * kPlane;
  std::set<float> values(depth, depth + kPlane);
  values.insert(0.0f);
  AugmentDraw d;
  d.shift_x = 2.5f;
  d.shift_y = -1.25f;
  d.scale = 0.93f;
  d.flip = true;
  const auto out = augmented(src, d);
  for (size_t i = 0; i < kPlane; ++i) CHECK(values.count(out[3 * kPlane + i]) == 1);
}

TEST_CASE("augment: colour jitter stays in range and leaves depth alone", "[augment]") {
  const auto src = random_crop(kS, 11);
  AugmentDraw d;
  d.brightness = 1.3f;
  d.contrast = 0.7f;
  d.gain[0] = 0.9f;
  d.gain[2] = 1.2f;
  const auto out = augmented(src, d);
  CHECK(std::memcmp(out.data() + 3 * kPlane, src.data() + 3 * kPlane, kPlane * sizeof(float)) ==
        0);
  for (int c = 0; c < 3; ++c) {
    const float lo = (0.0f - faceid::kColorMean[c]) / faceid::kColorStd[c];
    const float hi = (1.0f - faceid::kColorMean[c]) / faceid::kColorStd[c];
    for (size_t i = 0; i < kPlane; ++i) {
      REQUIRE(out[c * kPlane + i] >= lo - 1e-5f);
      REQUIRE(out[c * kPlane + i] <= hi + 1e-5f);
    }
  }
  // Brightness alone scales the un-normalised value: mean grey 0.5 * 1.3 = 0.65.
  std::vector<float> grey(kChannels * kPlane);
  for (int c = 0; c < 3; ++c) {
    std::fill_n(grey.begin() + c * kPlane, kPlane,
                (0.5f - faceid::kColorMean[c]) / faceid::kColorStd[c]);
  }
  AugmentDraw bright;
  bright.brightness = 1.3f;
  const auto lit = augmented(grey, bright);
  for (int c = 0; c < 3; ++c) {
    CHECK(lit[c * kPlane] * faceid::kColorStd[c] + faceid::kColorMean[c] == Approx(0.65f));
  }
}

TEST_CASE("augment: depth noise touches valid pixels only, holes punch invalid", "[augment]") {
  auto src = random_crop(64, 13);
  const size_t plane = 64 * 64;
  AugmentDraw d;
  d.depth_noise = 0.02f;
  d.noise_seed = 77;
  std::vector<float> out(src.size());
  Augmenter::apply(src.data(), out.data(), 64, d);
  double sum = 0, sum2 = 0;
  size_t valid = 0;
  for (size_t i = 0; i < plane; ++i) {
    const float s = src[3 * plane + i];
    const float o = out[3 * plane + i];
    if (s == 0.0f) {
      CHECK(o == 0.0f);
      continue;
    }
    ++valid;
    sum += o - s;
    sum2 += (o - s) * (o - s);
  }
  const double mean = sum / valid;
  const double sd = std::sqrt(sum2 / valid - mean * mean);
  CHECK(std::abs(mean) < 0.002);
  CHECK(sd == Approx(0.02).epsilon(0.05));

  AugmentDraw holes;
  holes.holes = 2;
  holes.hole[0] = {false, 10.0f, 10.0f, 3.0f, 2.0f};  // rectangle 7 x 5 pixels
  holes.hole[1] = {true, 40.0f, 30.0f, 4.0f, 4.0f};   // disc of radius 4
  std::vector<float> ones(src.size(), 1.0f);
  Augmenter::apply(ones.data(), out.data(), 64, holes);
  size_t zeros = 0;
  for (size_t i = 0; i < plane; ++i) zeros += out[3 * plane + i] == 0.0f;
  CHECK(zeros == 35 + 49);  // 7 x 5 rectangle + 49 lattice points in a disc of radius 4
  CHECK(out[3 * plane + 10 * 64 + 10] == 0.0f);
  CHECK(out[3 * plane + 30 * 64 + 40] == 0.0f);
  CHECK(out[10 * 64 + 10] == 1.0f);  // colour untouched
}

TEST_CASE("augment: the draw is a function of (seed, epoch, batch, slot)", "[augment]") {
  const auto src = random_crop(kS, 17);
  AugmentConfig config;
  config.hole_prob = 1.0;
  const Augmenter aug(config, faceid::PreprocessConfig{}, 21);
  const Augmenter twin(config, faceid::PreprocessConfig{}, 21);
  const Augmenter other(config, faceid::PreprocessConfig{}, 22);
  std::vector<float> x(src.size()), y(src.size());
  aug.apply(src.data(), x.data(), kS, 1, 2, 3);
  twin.apply(src.data(), y.data(), kS, 1, 2, 3);
  CHECK(x == y);
  twin.apply(src.data(), y.data(), kS, 1, 2, 4);
  CHECK(x != y);
  other.apply(src.data(), y.data(), kS, 1, 2, 3);
  CHECK(x != y);

  // Draws stay within the configured ranges.
  int flips = 0, holes = 0;
  for (int slot = 0; slot < 400; ++slot) {
    const AugmentDraw d = aug.draw(112, 0, 0, slot);
    flips += d.flip;
    holes += d.holes > 0;
    CHECK(std::abs(d.scale - 1.0f) <= config.max_scale);
    CHECK(std::abs(d.shift_x) <= config.max_shift * 112);
    CHECK(std::abs(d.brightness - 1.0f) <= config.color_jitter);
    CHECK(d.depth_noise == Approx(config.depth_noise_mm / faceid::PreprocessConfig{}.depth_range_mm));
    CHECK(d.holes >= 1);
    CHECK(d.holes <= 3);
    for (int h = 0; h < d.holes; ++h) CHECK(2 * d.hole[h].rx <= 0.15f * 112 + 1e-3f);
  }
  CHECK(flips > 150);
  CHECK(flips < 250);
  CHECK(holes == 400);
}

TEST_CASE("augment: speed of one 112x112 crop", "[.bench][augment]") {
  const auto src = random_crop(112, 3);
  std::vector<float> dst(src.size());
  const Augmenter aug(AugmentConfig{}, faceid::PreprocessConfig{}, 1);
  constexpr int kRuns = 2000;
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu = std::clock();
  for (int i = 0; i < kRuns; ++i) aug.apply(src.data(), dst.data(), 112, 0, 0, i);
  const double cpu_us = 1e6 * static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC;
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  WARN(fmt::format("augment: {:.1f} us per 112x112 crop (default config), {:.1f} us CPU",
                   us / kRuns, cpu_us / kRuns));
  CHECK(us / kRuns < 1000.0);
}
