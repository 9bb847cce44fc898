// Balanced, deterministic pair sampling for the Siamese network. A batch is a pure function of
// (seed, epoch, batch index): the same whatever the worker count or the order batches are built.
#pragma once

#include <cstdint>
#include <vector>

#include "faceid/core/config.hpp"
#include "faceid/data/frame_store.hpp"

namespace faceid {

struct PairIndex {
  int a = 0;            // frame index into the FrameStore
  int b = 0;            // frame index into the FrameStore
  float same = 0.0f;    // 1 = genuine (same person), 0 = impostor
  int person_a = 0;     // person index of a (FrameStore::persons())
  int person_b = 0;     // person index of b
};

class PairSampler {
 public:
  // batch_pairs pairs a batch, round(positive_fraction * batch_pairs) of them genuine.
  // A genuine pair is two different frames of one person (persons with >= 2 frames); an impostor
  // pair two frames of two different persons. Persons are drawn uniformly, then a frame uniformly
  // within the person. Throws Errc::bad_input when the store cannot give the pairs asked for.
  PairSampler(const FrameStore& store, int batch_pairs, double positive_fraction, int64_t seed);
  // The same from train.batch_pairs, train.positive_fraction and train.seed; with
  // train.sampler = pk a P x K identity sampler instead (see pk()).
  PairSampler(const FrameStore& store, const TrainConfig& train);

  // P x K identity sampling (train.sampler = pk): a global batch of batch_pairs * world_size pairs
  // holds P = 2 * batch_pairs * world_size / k distinct identities (drawn without replacement
  // while the store has enough persons with >= 2 frames), each with k frames as k / 2 genuine
  // pairs (frames without replacement while the person has k; otherwise with, never a frame
  // paired with itself). Every pair is genuine: the impostors are the cross pairs (mining) or the
  // classifier's other classes (margin losses). k must be even and divide 2 * batch_pairs.
  void use_pk(int k);
  bool pk() const { return pk_frames_ > 0; }

  // Distributed training: rank r of world_size takes the r-th slice of batch_pairs pairs of a
  // global batch of batch_pairs * world_size pairs generated from (seed, epoch, batch index).
  // Every slice holds exactly positives_per_batch() genuine pairs.
  void shard(int rank, int world_size);

  // This rank's slice of the batch: genuine pairs first, then impostor pairs.
  std::vector<PairIndex> batch(int64_t epoch, int64_t batch_index) const;

 private:
  std::vector<PairIndex> pk_batch(int64_t epoch, int64_t batch_index) const;

 public:

  int batch_pairs() const { return batch_pairs_; }
  int positives_per_batch() const { return positives_; }
  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  int64_t seed() const { return seed_; }
  // Index of this rank's pair i in the global batch (seeds of per-sample augmentation).
  int64_t global_pair_index(int i) const { return static_cast<int64_t>(rank_) * batch_pairs_ + i; }

 private:
  std::vector<std::vector<int>> frames_;  // frame indices of each person (person index order)
  std::vector<int> positive_persons_;     // persons with >= 2 frames
  std::vector<int> negative_persons_;     // persons with >= 1 frame
  int batch_pairs_ = 0;
  int positives_ = 0;
  int64_t seed_ = 0;
  int pk_frames_ = 0;  // > 0: P x K mode
  int rank_ = 0;
  int world_size_ = 1;
};

}  // namespace faceid
