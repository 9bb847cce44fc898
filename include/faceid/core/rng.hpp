// The one pseudo-random generator of faceid: splitmix64. Data splits, pair sampling, augmentation,
// the synthetic generator and the t-SNE initialisation all draw from it.
//
// Why not <random>: the engines are specified bit for bit, but std::uniform_int_distribution,
// std::normal_distribution, std::shuffle & co. are not (libstdc++, libc++ and MSVC turn the same
// engine output into different numbers), and faceid's splits, training pairs and synthetic data
// sets must be the same on every platform and standard library. A splitmix64 state is also one
// word, so a fresh generator per (seed, epoch, batch, slot) or per (seed, person, frame) costs
// nothing: streams are derived from a hash of their coordinates and never shared between threads,
// which keeps results independent of the worker count.
//
// Header-only and torch-free.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>

namespace faceid {

// splitmix64's increment (2^64 / golden ratio).
inline constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;

// The splitmix64 finaliser: a bijective 64-bit mix (mix64(0) == 0).
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Hashes a sequence of integers into a seed; order matters.
inline uint64_t hash_seed(std::initializer_list<uint64_t> values) {
  uint64_t h = 0x243F6A8885A308D3ULL;
  for (const uint64_t v : values) h = mix64(h ^ mix64(v + kGoldenGamma));
  return h;
}

// Domains keep the streams of different consumers apart for the same (seed, epoch, batch):
// hash_seed({kPairDomain, seed, epoch, ...}).
inline constexpr uint64_t kSplitDomain = 0x73706c6974ULL;      // "split"
inline constexpr uint64_t kPairDomain = 0x7061697273ULL;       // "pairs"
inline constexpr uint64_t kAugmentDomain = 0x6175676d656eULL;  // "augmen"

// A splitmix64 stream. The state is the seed; next() adds kGoldenGamma and finalises, so
// Rng(s).next() == mix64(s + kGoldenGamma).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    state_ += kGoldenGamma;
    return mix64(state_);
  }

  // Uniform integer in [0, n), n >= 1, without modulo bias (Lemire's multiply-and-reject).
  uint64_t below(uint64_t n) {
    uint64_t x = next();
    __uint128_t m = static_cast<__uint128_t>(x) * n;
    auto low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        x = next();
        m = static_cast<__uint128_t>(x) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Uniform double in [0, 1) with 53 random bits.
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Uniform double in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform01(); }

  // True with probability p (p <= 0: never, p >= 1: always). One draw.
  bool chance(double p) { return uniform01() < p; }

  // Standard normal by Box-Muller, one value per call (two draws; the second value is dropped so
  // that a call's draws never depend on the calls before it).
  double normal() {
    const double u1 = 1.0 - uniform01();  // (0, 1]: log(u1) is finite
    const double u2 = uniform01();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  double normal(double mean, double sd) { return mean + sd * normal(); }
  // Normal clamped to [lo, hi] (the tails are rare; clamping keeps it one pair of draws).
  double normal(double mean, double sd, double lo, double hi) {
    const double v = normal(mean, sd);
    return v < lo ? lo : (v > hi ? hi : v);
  }

 private:
  uint64_t state_;
};

}  // namespace faceid
