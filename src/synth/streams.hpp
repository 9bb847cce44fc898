// The synthetic generator's random streams: one faceid::Rng per purpose, keyed by hashing
// (seed, stream tag, person, session, pose...). Every synthetic data set, and the shipped model's
// documented numbers, depend on the exact values drawn here: the key derivation and the integer
// draw below are the generator's own and must not be swapped for faceid::hash_seed or Rng::below.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "faceid/core/rng.hpp"

namespace faceid::synth {

// One whole splitmix64 step from state x (add the gamma, then finalise): the first number
// Rng(x) draws. The generator's mixer for stream keys and value-noise lattices.
inline uint64_t splitmix_step(uint64_t x) { return mix64(x + kGoldenGamma); }

// Hashes a list of integers into one stream key: hash_key({seed, tag, person, session, pose}).
// Differs from faceid::hash_seed by the gamma added before the outer mix.
inline uint64_t hash_key(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x243f6a8885a308d3ULL;
  for (const uint64_t p : parts) h = splitmix_step(h ^ splitmix_step(p));
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
  attack = 6,      // presentation attacks: placement and look (their noise keys add the type)
  distractor = 7,  // distractors: one sub-stream per kind (hash_key adds the Distractor tag)
  burst = 8,       // bursts: the temporal model of frames 2..K (hash_key adds the burst's tag)
};

// An integer in [0, n), n >= 1, as the generator has always drawn it: the top 31 bits of one
// next() modulo n (biased by at most n / 2^31, where Rng::below is exact). Kept, not replaced by
// Rng::below, because existing synthetic data sets must stay byte-identical.
inline int modulo_below(Rng& rng, int n) {
  return static_cast<int>((rng.next() >> 33) % static_cast<uint64_t>(n));
}

}  // namespace faceid::synth
