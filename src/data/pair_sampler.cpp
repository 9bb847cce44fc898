#include "faceid/data/pair_sampler.hpp"

#include <cmath>

#include <fmt/format.h>

#include "faceid/core/error.hpp"
#include "faceid/core/rng.hpp"

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
    : PairSampler(store, train.batch_pairs,
                  train.sampler == SamplerKind::pk ? 1.0 : train.positive_fraction, train.seed) {
  if (train.sampler == SamplerKind::pk) use_pk(train.pk_frames);
}

void PairSampler::use_pk(int k) {
  if (k < 2 || k % 2 != 0 || (2 * batch_pairs_) % k != 0) {
    throw_bad_input(fmt::format(
        "train.pk_frames: expected an even K that divides 2 x train.batch_pairs = {}, got {}",
        2 * batch_pairs_, k));
  }
  if (positive_persons_.size() < 2) {
    throw_bad_input(fmt::format(
        "pk sampler: needs at least 2 persons with 2 usable frames, got {}", positive_persons_.size()));
  }
  pk_frames_ = k;
  positives_ = batch_pairs_;
}

std::vector<PairIndex> PairSampler::pk_batch(int64_t epoch, int64_t batch_index) const {
  const int pairs_per_person = pk_frames_ / 2;
  const int64_t global_pairs = static_cast<int64_t>(batch_pairs_) * world_size_;
  const int64_t persons = global_pairs / pairs_per_person;
  // The identities of the global batch: a partial Fisher-Yates shuffle, whole cycles when the
  // batch asks for more identities than there are.
  Rng pick(hash_seed({kPairDomain, static_cast<uint64_t>(seed_), static_cast<uint64_t>(epoch),
                      static_cast<uint64_t>(batch_index), 0x706bULL}));
  std::vector<int> pool = positive_persons_;
  std::vector<int> chosen;
  chosen.reserve(static_cast<size_t>(persons));
  size_t next = 0;
  while (static_cast<int64_t>(chosen.size()) < persons) {
    if (next == pool.size()) next = 0;
    const size_t j = next + pick.below(pool.size() - next);
    std::swap(pool[next], pool[j]);
    chosen.push_back(pool[next++]);
  }
  // This rank's identities: its pairs are [rank * batch_pairs, (rank + 1) * batch_pairs).
  std::vector<PairIndex> out;
  out.reserve(static_cast<size_t>(batch_pairs_));
  const int64_t first = static_cast<int64_t>(rank_) * batch_pairs_ / pairs_per_person;
  const int64_t last = first + batch_pairs_ / pairs_per_person;
  for (int64_t slot = first; slot < last; ++slot) {
    const int p = chosen[static_cast<size_t>(slot)];
    Rng rng(hash_seed({kPairDomain, static_cast<uint64_t>(seed_), static_cast<uint64_t>(epoch),
                       static_cast<uint64_t>(batch_index), 0x706bULL,
                       static_cast<uint64_t>(slot) + 1}));
    std::vector<int> f = frames_[static_cast<size_t>(p)];
    std::vector<int> picked;
    for (int i = 0; i < pk_frames_; ++i) {
      const size_t used = static_cast<size_t>(i) % f.size();  // a new pass when f has < K
      const size_t j = used + rng.below(f.size() - used);
      std::swap(f[used], f[j]);
      picked.push_back(f[used]);
    }
    for (int i = 0; i < pk_frames_; i += 2) {
      int a = picked[static_cast<size_t>(i)], b = picked[static_cast<size_t>(i) + 1];
      if (a == b) {  // only when the person has fewer than K frames: take another of its frames
        const auto& all = frames_[static_cast<size_t>(p)];
        const uint64_t x = rng.below(all.size() - 1);  // frames are distinct: all.back() != a
        b = all[x] == a ? all.back() : all[x];         // when all[x] == a, x < size - 1

      }
      out.push_back({a, b, 1.0f, p, p});
    }
  }
  return out;
}

void PairSampler::shard(int rank, int world_size) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    throw_bad_input(fmt::format("pair sampler: rank {} of world size {} is out of range", rank,
                                world_size));
  }
  rank_ = rank;
  world_size_ = world_size;
}

std::vector<PairIndex> PairSampler::batch(int64_t epoch, int64_t batch_index) const {
  if (pk()) return pk_batch(epoch, batch_index);
  std::vector<PairIndex> pairs(static_cast<size_t>(batch_pairs_));
  for (int i = 0; i < batch_pairs_; ++i) {
    // One generator per pair of the global batch: a rank computes its slice alone, pair g is the
    // same whichever rank or thread builds it, and rank 0's slice is the single-process batch.
    const int64_t g = global_pair_index(i);
    Rng rng(hash_seed({kPairDomain, static_cast<uint64_t>(seed_),
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
