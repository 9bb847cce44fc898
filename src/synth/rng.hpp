// The synthetic generator's own small PRNG: splitmix64 streams keyed by hashing (seed, ids...).
// Everything here is fully specified (no std::*_distribution, no rand()), so a seed gives the
// same numbers with every standard library.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>

namespace faceid::synth {

// One splitmix64 step: a good 64-bit mixer on its own.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Hashes a list of integers into one stream key: hash_key({seed, tag, person, session, pose}).
inline uint64_t hash_key(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x243f6a8885a308d3ULL;
  for (uint64_t p : parts) h = mix64(h ^ mix64(p));
  return h;
}

// Stream tags: one independent stream per purpose, so adding a draw to one purpose never shifts
// the numbers of another.
enum class Stream : uint64_t {
  identity = 1,
  session = 2,
  frame = 3,
  depth_noise = 4,
  color_noise = 5,
  attack = 6,  // presentation attacks: placement and look (their noise keys add the type)
  distractor = 7,  // distractors: one sub-stream per kind (hash_key adds the Distractor tag)
};

class Rng {
 public:
  explicit Rng(uint64_t key) : state_(key) {}

  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 53 bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Integer in [0, n).
  int below(int n) { return static_cast<int>((next() >> 33) % static_cast<uint64_t>(n)); }
  bool chance(double p) { return uniform() < p; }
  // Standard normal via Box-Muller (one value per call; simple and fully specified).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  double normal(double mean, double sd) { return mean + sd * normal(); }
  // Normal clipped to [lo, hi] (clamped: the tails are rare and clamping keeps it one draw).
  double normal(double mean, double sd, double lo, double hi) {
    const double v = normal(mean, sd);
    return v < lo ? lo : (v > hi ? hi : v);
  }

 private:
  uint64_t state_;
};

}  // namespace faceid::synth
