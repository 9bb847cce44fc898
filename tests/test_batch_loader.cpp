#include "catch_torch.hpp"

#include <chrono>

#include "data_fixtures.hpp"
#include "faceid/train/batch_loader.hpp"
#include "faceid/core/error.hpp"

using faceid::Augmenter;
using faceid::Batch;
using faceid::BatchLoader;
using faceid::DataConfig;
using faceid::PairSampler;
using faceid::TrainConfig;
using faceid::test::make_store;

namespace {

TrainConfig train_config(int steps, int batch_pairs) {
  TrainConfig t;
  t.steps_per_epoch = steps;
  t.batch_pairs = batch_pairs;
  t.positive_fraction = 0.5;
  t.seed = 3;
  return t;
}

DataConfig data_config(int workers, int prefetch = 2) {
  DataConfig d;
  d.workers = workers;
  d.prefetch_batches = prefetch;
  return d;
}

Augmenter augmenter(int64_t seed) {
  faceid::AugmentConfig a;
  a.hole_prob = 0.5;
  return Augmenter(a, faceid::PreprocessConfig{}, seed);
}

std::vector<Batch> epoch_batches(BatchLoader& loader, int64_t epoch) {
  std::vector<Batch> out;
  loader.start_epoch(epoch);
  Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

}  // namespace

TEST_CASE("batch loader: tensors are right and identical for 0, 1 and 3 workers",
          "[batch_loader]") {
  const auto store = make_store({4, 3, 6, 2, 5}, 16);
  const TrainConfig train = train_config(6, 8);
  std::vector<std::vector<Batch>> runs;
  for (const int workers : {0, 1, 3}) {
    BatchLoader loader(store, PairSampler(store, train), augmenter(train.seed),
                       data_config(workers), train);
    CHECK(loader.workers() == workers);
    auto first = epoch_batches(loader, 0);
    auto second = epoch_batches(loader, 1);
    first.insert(first.end(), second.begin(), second.end());
    runs.push_back(std::move(first));
  }
  REQUIRE(runs[0].size() == 12);
  const PairSampler sampler(store, train);
  for (size_t i = 0; i < runs[0].size(); ++i) {
    const Batch& b = runs[0][i];
    CHECK(b.epoch == static_cast<int64_t>(i / 6));
    CHECK(b.index == static_cast<int64_t>(i % 6));
    CHECK(b.a.sizes() == torch::IntArrayRef({8, 4, 16, 16}));
    CHECK(b.b.sizes() == torch::IntArrayRef({8, 4, 16, 16}));
    CHECK(b.a.dtype() == torch::kFloat32);
    CHECK(b.a.is_contiguous());
    CHECK(b.b.is_contiguous());
    CHECK(b.same.sizes() == torch::IntArrayRef({8}));
    CHECK(b.person_a.dtype() == torch::kInt64);
    CHECK(b.same.sum().item<float>() == 4.0f);
    const auto pairs = sampler.batch(b.epoch, b.index);
    for (int k = 0; k < 8; ++k) {
      CHECK(b.person_a[k].item<int64_t>() == pairs[k].person_a);
      CHECK(b.person_b[k].item<int64_t>() == pairs[k].person_b);
      CHECK(b.same[k].item<float>() == pairs[k].same);
    }
    for (size_t run = 1; run < runs.size(); ++run) {
      const Batch& o = runs[run][i];
      CHECK(o.index == b.index);
      CHECK(torch::equal(o.a, b.a));
      CHECK(torch::equal(o.b, b.b));
      CHECK(torch::equal(o.same, b.same));
      CHECK(torch::equal(o.person_a, b.person_a));
      CHECK(torch::equal(o.person_b, b.person_b));
    }
  }
  // The epochs differ, and augmentation did something.
  CHECK_FALSE(torch::equal(runs[0][0].a, runs[0][6].a));
}

TEST_CASE("batch loader: without augmentation a batch holds the stored crops",
          "[batch_loader]") {
  const auto store = make_store({3, 3, 3}, 8);
  const TrainConfig train = train_config(2, 4);
  BatchLoader loader(store, PairSampler(store, train), Augmenter{}, data_config(2), train);
  loader.start_epoch(5);
  Batch b;
  REQUIRE(loader.next(b));
  const auto pairs = PairSampler(store, train).batch(5, 0);
  for (int k = 0; k < 4; ++k) {
    const auto& crop = store.frame(pairs[k].a).crop.chw;
    const auto expected = torch::from_blob(const_cast<float*>(crop.data()), {4, 8, 8});
    CHECK(torch::equal(b.a[k], expected));
  }
}

TEST_CASE("batch loader: an epoch is steps_per_epoch batches, in order", "[batch_loader]") {
  const auto store = make_store({3, 4, 5}, 8);
  const TrainConfig train = train_config(7, 4);
  BatchLoader loader(store, PairSampler(store, train), augmenter(1), data_config(3, 3), train);
  CHECK(loader.steps_per_epoch() == 7);
  Batch b;
  CHECK_THROWS_AS(loader.next(b), faceid::Error);  // before start_epoch
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    loader.start_epoch(epoch);
    for (int64_t i = 0; i < 7; ++i) {
      REQUIRE(loader.next(b));
      CHECK(b.index == i);
      CHECK(b.epoch == epoch);
    }
    CHECK_FALSE(loader.next(b));
    CHECK_FALSE(loader.next(b));
  }
  // Restarting mid-epoch starts over at batch 0 of the new epoch.
  loader.start_epoch(10);
  REQUIRE(loader.next(b));
  REQUIRE(loader.next(b));
  loader.start_epoch(11);
  REQUIRE(loader.next(b));
  CHECK(b.epoch == 11);
  CHECK(b.index == 0);
  CHECK(loader.wait_seconds() >= 0.0);
}

TEST_CASE("batch loader: shutdown mid-epoch does not hang", "[batch_loader]") {
  const auto store = make_store({3, 4, 5}, 32);
  const TrainConfig train = train_config(1000, 16);
  const auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < 5; ++round) {
    BatchLoader loader(store, PairSampler(store, train), augmenter(round), data_config(3, 4),
                       train);
    loader.start_epoch(0);
    Batch b;
    for (int i = 0; i < round; ++i) REQUIRE(loader.next(b));
  }  // destroyed with workers busy, queue full, or never consumed
  {
    BatchLoader idle(store, PairSampler(store, train), augmenter(1), data_config(2), train);
  }  // destroyed before any epoch
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("batch loader: an exception in a worker surfaces in next()", "[batch_loader]") {
  // A sampler over a larger store than the loader's: building batch 0 indexes past the end.
  const auto big = make_store({20, 20}, 8);
  const auto small = make_store({1, 1}, 8);
  const TrainConfig train = train_config(5, 8);
  for (const int workers : {0, 2}) {
    BatchLoader loader(small, PairSampler(big, train), Augmenter{}, data_config(workers), train);
    loader.start_epoch(0);
    Batch b;
    CHECK_THROWS_AS(loader.next(b), std::out_of_range);
  }
}
