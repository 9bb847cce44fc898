#include "faceid/train/batch_loader.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "faceid/core/error.hpp"

namespace faceid {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

BatchLoader::BatchLoader(const FrameStore& store, PairSampler sampler, Augmenter augmenter,
                         const DataConfig& data, const TrainConfig& train)
    : store_(store),
      sampler_(std::move(sampler)),
      augmenter_(std::move(augmenter)),
      steps_(train.steps_per_epoch),
      prefetch_(std::max(1, data.prefetch_batches)) {
  if (steps_ < 1) {
    throw_bad_input(fmt::format("train.steps_per_epoch: expected >= 1, got {}", steps_));
  }
  if (data.workers < 0) {
    throw_bad_input(fmt::format("data.workers: expected >= 0, got {}", data.workers));
  }
  if (store_.empty()) throw_bad_input("batch loader: the frame store holds no usable frame");
  threads_.reserve(static_cast<size_t>(data.workers));
  for (int i = 0; i < data.workers; ++i) threads_.emplace_back([this] { worker_loop(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void BatchLoader::start_epoch(int64_t epoch) {
  std::map<int64_t, Batch> dropped;  // freed outside the lock
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
    epoch_ = epoch;
    next_claim_ = 0;
    next_out_ = 0;
    error_ = nullptr;
    started_ = true;
    dropped.swap(ready_);
  }
  work_cv_.notify_all();
}

bool BatchLoader::next(Batch& batch) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  if (!started_) throw_internal("BatchLoader::next() called before start_epoch()");
  if (next_out_ >= steps_) return false;

  if (threads_.empty()) {
    const int64_t index = next_out_++;
    const int64_t epoch = epoch_;
    lock.unlock();
    Batch built = build(epoch, index);
    batch = std::move(built);
    lock.lock();
    wait_seconds_ += seconds_since(start);
    return true;
  }

  ready_cv_.wait(lock, [this] { return error_ || ready_.count(next_out_) > 0; });
  wait_seconds_ += seconds_since(start);
  if (error_) std::rethrow_exception(error_);
  auto it = ready_.find(next_out_);
  batch = std::move(it->second);
  ready_.erase(it);
  ++next_out_;
  lock.unlock();
  work_cv_.notify_all();
  return true;
}

void BatchLoader::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [this] {
      return stop_ || (started_ && !error_ && next_claim_ < steps_ &&
                       next_claim_ < next_out_ + prefetch_);
    });
    if (stop_) return;
    const int64_t index = next_claim_++;
    const int64_t epoch = epoch_;
    const uint64_t generation = generation_;
    lock.unlock();

    Batch built;
    std::exception_ptr failure;
    try {
      built = build(epoch, index);
    } catch (...) {
      failure = std::current_exception();
    }

    lock.lock();
    if (generation != generation_) {
      // A batch of an epoch that was restarted: drop it (outside the lock).
      lock.unlock();
      built = Batch{};
      lock.lock();
      continue;
    }
    if (failure) {
      if (!error_) error_ = failure;
    } else {
      ready_.emplace(index, std::move(built));
    }
    ready_cv_.notify_all();
  }
}

Batch BatchLoader::build(int64_t epoch, int64_t index) const {
  const std::vector<PairIndex> pairs = sampler_.batch(epoch, index);
  const auto n = static_cast<int64_t>(pairs.size());
  const int size = store_.crop_size();
  const size_t floats = store_.crop_floats();

  Batch batch;
  batch.epoch = epoch;
  batch.index = index;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  batch.a = torch::empty({n, kChannels, size, size}, f32);
  batch.b = torch::empty({n, kChannels, size, size}, f32);
  batch.same = torch::empty({n}, f32);
  batch.person_a = torch::empty({n}, i64);
  batch.person_b = torch::empty({n}, i64);
  float* a = batch.a.data_ptr<float>();
  float* b = batch.b.data_ptr<float>();
  float* same = batch.same.data_ptr<float>();
  int64_t* person_a = batch.person_a.data_ptr<int64_t>();
  int64_t* person_b = batch.person_b.data_ptr<int64_t>();

  thread_local std::vector<float> scratch;  // used only for frames kept on disk
  for (int64_t i = 0; i < n; ++i) {
    const PairIndex& p = pairs[static_cast<size_t>(i)];
    const int64_t g = sampler_.global_pair_index(static_cast<int>(i));
    augmenter_.apply(store_.crop_data(static_cast<size_t>(p.a), scratch), a + i * floats, size,
                     epoch, index, 2 * g);
    augmenter_.apply(store_.crop_data(static_cast<size_t>(p.b), scratch), b + i * floats, size,
                     epoch, index, 2 * g + 1);
    same[i] = p.same;
    person_a[i] = p.person_a;
    person_b[i] = p.person_b;
  }
  return batch;
}

double BatchLoader::wait_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return wait_seconds_;
}

}  // namespace faceid
