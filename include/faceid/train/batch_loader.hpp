// Batches of pairs as tensors, built ahead on worker threads. The only torch-facing part of the
// data stage. Batch i of an epoch is a pure function of (seed, epoch, i): the same tensors come
// out, bit for bit, whatever the worker count.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <torch/types.h>

#include "faceid/core/config.hpp"
#include "faceid/data/augment.hpp"
#include "faceid/data/frame_store.hpp"
#include "faceid/data/pair_sampler.hpp"

namespace faceid {

struct Batch {
  torch::Tensor a, b;                // [N, 4, S, S] float32, contiguous: the two crops of each pair
  torch::Tensor same;                // [N] float32, 1 = same person
  torch::Tensor person_a, person_b;  // [N] int64, person indices (FrameStore::persons())
  int64_t epoch = 0;
  int64_t index = 0;                 // batch index within the epoch
};

class BatchLoader {
 public:
  // `store` must outlive the loader. data.workers threads (0 = build each batch in next(), on the
  // calling thread) keep up to max(1, data.prefetch_batches) batches built or in the making ahead
  // of the consumer. An epoch is train.steps_per_epoch batches. For validation pass a disabled
  // Augmenter (Augmenter{}) and a TrainConfig copy with the validation length.
  BatchLoader(const FrameStore& store, PairSampler sampler, Augmenter augmenter,
              const DataConfig& data, const TrainConfig& train);
  ~BatchLoader();  // stops the workers (a batch in the making is finished, then dropped)
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts (or restarts) an epoch: batches 0 .. steps_per_epoch()-1 of `epoch`. Batches of a
  // previous, unfinished epoch are dropped.
  void start_epoch(int64_t epoch);

  // The next batch of the epoch, in index order; false after the last one. Rethrows the first
  // exception raised while building a batch of this epoch.
  bool next(Batch& batch);

  // Builds one batch on the calling thread (what the workers run).
  Batch build(int64_t epoch, int64_t index) const;

  int64_t steps_per_epoch() const { return steps_; }
  int workers() const { return static_cast<int>(threads_.size()); }
  const PairSampler& sampler() const { return sampler_; }
  // Total seconds the consumer spent inside next() waiting for a batch (with 0 workers: building
  // it), since construction. The trainer reports its share of the step time.
  double wait_seconds() const;

 private:
  void worker_loop();

  const FrameStore& store_;
  PairSampler sampler_;
  Augmenter augmenter_;
  int64_t steps_ = 0;
  int64_t prefetch_ = 1;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;   // workers wait for a batch to claim
  std::condition_variable ready_cv_;  // the consumer waits for the next batch
  std::vector<std::thread> threads_;
  std::map<int64_t, Batch> ready_;    // built batches not yet taken, by index
  std::exception_ptr error_;
  uint64_t generation_ = 0;           // bumped by start_epoch: results of older epochs are dropped
  int64_t epoch_ = 0;
  int64_t next_claim_ = 0;            // next batch index a worker builds
  int64_t next_out_ = 0;              // next batch index next() returns
  bool started_ = false;
  bool stop_ = false;
  double wait_seconds_ = 0.0;
};

}  // namespace faceid
