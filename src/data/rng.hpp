// The data pipeline's own PRNG: splitmix64. Every random choice of split, pair sampling and
// augmentation goes through it, so results are bit-identical across standard libraries
// (std::shuffle and std:: distributions are implementation-defined) and across worker counts
// (a generator is seeded from a hash of (seed, epoch, batch, slot), never shared).
#pragma once

#include <cstdint>
#include <initializer_list>

namespace faceid {

// The splitmix64 finaliser: a bijective 64-bit mix.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Hashes a sequence of integers into a seed; order matters.
inline uint64_t hash_seed(std::initializer_list<uint64_t> values) {
  uint64_t h = 0x243F6A8885A308D3ULL;
  for (const uint64_t v : values) h = mix64(h ^ mix64(v + 0x9E3779B97F4A7C15ULL));
  return h;
}

// Domains keep the streams of different consumers apart for the same (seed, epoch, batch).
constexpr uint64_t kSplitDomain = 0x73706c6974ULL;      // "split"
constexpr uint64_t kPairDomain = 0x7061697273ULL;       // "pairs"
constexpr uint64_t kAugmentDomain = 0x6175676d656eULL;  // "augmen"

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ULL;
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

  // True with probability p (p <= 0: never, p >= 1: always).
  bool bernoulli(double p) { return uniform01() < p; }

 private:
  uint64_t state_;
};

}  // namespace faceid
