#include "faceid/data/pair_sampler.hpp"

#include <cmath>

#include <fmt/format.h>

#include "data/rng.hpp"
#include "faceid/error.hpp"

namespace faceid {

PairSampler::PairSampler(const FrameStore& store, int batch_pairs, double positive_fraction,
                         int64_t seed)
    : frames_(store.frames_by_person()), batch_pairs_(batch_pairs), seed_(seed) {
  if (batch_pairs < 1) {
    throw_bad_input(fmt::format("train.batch_pairs: expected >= 1, got {}", batch_pairs));
  }
  if (!(positive_fraction >= 0.0 && positive_fraction <= 1.0)) {
    throw_bad_input(
        fmt::format("train.positive_fraction: expected in [0, 1], got {}", positive_fraction));
  }
  positives_ = static_cast<int>(std::lround(positive_fraction * batch_pairs));
  for (size_t p = 0; p < frames_.size(); ++p) {
    if (frames_[p].size() >= 2) positive_persons_.push_back(static_cast<int>(p));
    if (!frames_[p].empty()) negative_persons_.push_back(static_cast<int>(p));
  }
  if (positives_ > 0 && positive_persons_.empty()) {
    throw_bad_input(fmt::format(
        "pair sampler: genuine pairs need a person with at least 2 usable frames; none of {} "
        "persons ({} frames) has",
        frames_.size(), store.size()));
  }
  if (positives_ < batch_pairs_ && negative_persons_.size() < 2) {
    throw_bad_input(fmt::format(
        "pair sampler: impostor pairs need at least 2 persons with usable frames, got {}",
        negative_persons_.size()));
  }
}

PairSampler::PairSampler(const FrameStore& store, const TrainConfig& train)
    : PairSampler(store, train.batch_pairs, train.positive_fraction, train.seed) {}

void PairSampler::shard(int rank, int world_size) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    throw_bad_input(fmt::format("pair sampler: rank {} of world size {} is out of range", rank,
                                world_size));
  }
  rank_ = rank;
  world_size_ = world_size;
}

std::vector<PairIndex> PairSampler::batch(int64_t epoch, int64_t batch_index) const {
  std::vector<PairIndex> pairs(static_cast<size_t>(batch_pairs_));
  for (int i = 0; i < batch_pairs_; ++i) {
    // One generator per pair of the global batch: a rank computes its slice alone, pair g is the
    // same whichever rank or thread builds it, and rank 0's slice is the single-process batch.
    const int64_t g = global_pair_index(i);
    SplitMix64 rng(hash_seed({kPairDomain, static_cast<uint64_t>(seed_),
                              static_cast<uint64_t>(epoch), static_cast<uint64_t>(batch_index),
                              static_cast<uint64_t>(g)}));
    PairIndex& pair = pairs[static_cast<size_t>(i)];
    if (i < positives_) {
      const int p = positive_persons_[rng.below(positive_persons_.size())];
      const std::vector<int>& f = frames_[static_cast<size_t>(p)];
      const uint64_t x = rng.below(f.size());
      uint64_t y = rng.below(f.size() - 1);
      if (y >= x) ++y;  // a different frame of the same person
      pair = {f[x], f[y], 1.0f, p, p};
    } else {
      const size_t n = negative_persons_.size();
      const uint64_t x = rng.below(n);
      uint64_t y = rng.below(n - 1);
      if (y >= x) ++y;  // a different person
      const int pa = negative_persons_[x];
      const int pb = negative_persons_[y];
      const std::vector<int>& fa = frames_[static_cast<size_t>(pa)];
      const std::vector<int>& fb = frames_[static_cast<size_t>(pb)];
      pair = {fa[rng.below(fa.size())], fb[rng.below(fb.size())], 0.0f, pa, pb};
    }
  }
  return pairs;
}

}  // namespace faceid
