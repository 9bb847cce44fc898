#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "faceid/core/rng.hpp"
#include "faceid/core/worker_pool.hpp"
#include "synth/streams.hpp"

using faceid::Rng;

// The golden values below were computed with the two generators this one replaced (data's
// SplitMix64 and synth's Rng): splits, training pairs and synthetic data sets depend on them.
TEST_CASE("rng: mix64, hash_seed and next keep their values", "[rng]") {
  CHECK(faceid::mix64(0) == 0);
  CHECK(faceid::mix64(1) == 0x5692161d100b05e5ULL);
  CHECK(faceid::mix64(0x0123456789abcdefULL) == 0xb2c058e4ebb5112cULL);
  CHECK(faceid::hash_seed({}) == 0x243f6a8885a308d3ULL);
  CHECK(faceid::hash_seed({1, 2, 3}) == 0xaf857a007308ad61ULL);
  CHECK(faceid::hash_seed({faceid::kSplitDomain, 42}) == 0xe5560ac763ec1609ULL);

  Rng rng(42);
  CHECK(rng.next() == 0xbdd732262feb6e95ULL);
  CHECK(rng.next() == 0x28efe333b266f103ULL);
  CHECK(rng.next() == 0x47526757130f9f52ULL);

  Rng draws(7);
  std::vector<uint64_t> below;
  for (int i = 0; i < 8; ++i) below.push_back(draws.below(10));
  CHECK(below == std::vector<uint64_t>{3, 0, 9, 5, 4, 2, 4, 3});
  CHECK(Rng(7).uniform01() == 0.38982974839127149);

  Rng coin(7);
  std::vector<int> heads;
  for (int i = 0; i < 8; ++i) heads.push_back(coin.chance(0.5) ? 1 : 0);
  CHECK(heads == std::vector<int>{1, 1, 0, 0, 1, 1, 1, 1});
}

TEST_CASE("rng: the synthetic generator's streams keep their values", "[rng][synth]") {
  namespace synth = faceid::synth;
  CHECK(synth::splitmix_step(0) == 0xe220a8397b1dcdafULL);
  CHECK(synth::splitmix_step(5) == 0x63033b0ca389c35aULL);
  CHECK(synth::splitmix_step(5) == Rng(5).next());
  CHECK(synth::hash_key({1, 2, 3}) == 0xe234b8e7662009c0ULL);
  CHECK(synth::hash_key({42, 1, 7}) == 0x137e6c7547529d12ULL);

  Rng rng(synth::hash_key({42, 1, 7}));
  CHECK(rng.next() == 0x9f6e0d494322e9cdULL);
  std::vector<int> below;
  for (int i = 0; i < 6; ++i) below.push_back(synth::modulo_below(rng, 5));
  CHECK(below == std::vector<int>{3, 2, 4, 1, 1, 3});
  CHECK(rng.normal() == Approx(0.99589652118383099).margin(1e-12));
  CHECK(rng.normal(1, 0.5, 0.8, 1.2) == 0.8);  // clamped
  CHECK(rng.normal(1, 0.5) == Approx(0.9609082216523257).margin(1e-12));
}

TEST_CASE("rng: below stays in range and is unbiased", "[rng]") {
  Rng rng(2024);
  for (const uint64_t n : {1ULL, 2ULL, 3ULL, 10ULL, 1000003ULL, (1ULL << 63) + 1, ~0ULL}) {
    for (int i = 0; i < 1000; ++i) REQUIRE(rng.below(n) < n);
  }
  // Small n: every value about equally often.
  std::vector<int> counts(3, 0);
  constexpr int kDraws = 300000;
  for (int i = 0; i < kDraws; ++i) ++counts[rng.below(3)];
  for (const int c : counts) CHECK(std::abs(c - kDraws / 3) < kDraws / 100);
  // n = 2/3 of 2^64: next() % n would put 2/3 of the draws in the lower half; Lemire's method 1/2.
  const uint64_t n = ~0ULL / 3 * 2;
  int lower = 0;
  constexpr int kLarge = 100000;
  for (int i = 0; i < kLarge; ++i) lower += rng.below(n) < n / 2 ? 1 : 0;
  CHECK(std::abs(lower - kLarge / 2) < kLarge / 100);
}

TEST_CASE("rng: uniform, chance and normal have the expected ranges and moments", "[rng]") {
  Rng rng(99);
  double sum = 0, sum_sq = 0;
  int hits = 0;
  constexpr int kDraws = 200000;
  for (int i = 0; i < kDraws; ++i) {
    const double u = rng.uniform(-2, 3);
    REQUIRE(u >= -2);
    REQUIRE(u < 3);
    hits += rng.chance(0.25) ? 1 : 0;
    const double z = rng.normal();
    sum += z;
    sum_sq += z * z;
  }
  CHECK(hits == Approx(kDraws / 4).epsilon(0.02));
  CHECK(sum / kDraws == Approx(0).margin(0.01));
  CHECK(sum_sq / kDraws == Approx(1).epsilon(0.02));
  CHECK_FALSE(rng.chance(0));
  CHECK(rng.chance(1));
}

TEST_CASE("pool: resolve_threads", "[pool]") {
  CHECK(faceid::resolve_threads(3) == 3);
  CHECK(faceid::resolve_threads(0) >= 1);
  CHECK(faceid::resolve_threads(-5) == faceid::resolve_threads(0));
}

// Catch2's assertions are not thread-safe: the workers only record, the test thread checks.
TEST_CASE("pool: parallel_for runs every index exactly once and reports progress in order",
          "[pool]") {
  for (const int threads : {1, 4, 0, 64}) {
    constexpr size_t kN = 1000;
    std::vector<std::atomic<int>> runs(kN);
    std::vector<std::pair<size_t, size_t>> progress;  // (done, total); calls are serialised
    const auto run = [&](size_t i) { runs[i].fetch_add(1); };
    const auto report = [&](size_t done, size_t total) { progress.emplace_back(done, total); };
    faceid::parallel_for(kN, threads, run, report);
    for (const auto& r : runs) REQUIRE(r.load() == 1);
    REQUIRE(progress.size() == kN);
    for (size_t k = 0; k < kN; ++k) REQUIRE(progress[k] == std::make_pair(k + 1, kN));
  }
  int calls = 0;
  faceid::parallel_for(0, 4, [&](size_t) { ++calls; }, [&](size_t, size_t) { ++calls; });
  CHECK(calls == 0);
}

TEST_CASE("pool: parallel_for rethrows the first exception and stops handing out indices",
          "[pool]") {
  std::atomic<int> ran{0};
  const auto failing = [&](size_t i) {
    ran.fetch_add(1);
    if (i >= 5) throw std::runtime_error("index " + std::to_string(i));
  };
  // One thread: indices run in order, so the first failure is index 5 and nothing follows it.
  CHECK_THROWS_WITH(faceid::parallel_for(100, 1, failing), "index 5");
  CHECK(ran.load() == 6);
  // Many threads: some failure comes back, and the hand-out stopped well before the end.
  ran = 0;
  CHECK_THROWS_AS(faceid::parallel_for(100000, 4, failing), std::runtime_error);
  CHECK(ran.load() < 100000);
  // A throwing progress callback is a failure of the run too.
  const auto nothing = [](size_t) {};
  const auto failing_progress = [](size_t done, size_t) {
    if (done == 3) throw std::runtime_error("progress");
  };
  CHECK_THROWS_WITH(faceid::parallel_for(10, 2, nothing, failing_progress), "progress");
}

TEST_CASE("pool: round-robin assignment is fixed", "[pool]") {
  constexpr int kThreads = 3;
  constexpr size_t kN = 100;
  struct Run {
    int worker;
    size_t index;
    std::thread::id thread;
  };
  std::vector<Run> runs;
  std::mutex mutex;
  faceid::parallel_for_round_robin(kN, kThreads, [&](int w, size_t i) {
    std::lock_guard<std::mutex> lock(mutex);
    runs.push_back({w, i, std::this_thread::get_id()});
  });
  REQUIRE(runs.size() == kN);
  std::vector<int> times_run(kN, 0);
  std::vector<std::vector<size_t>> order(kThreads);
  std::vector<std::vector<std::thread::id>> threads(kThreads);
  for (const Run& r : runs) {
    ++times_run[r.index];
    CHECK(r.worker == static_cast<int>(r.index % kThreads));
    order[static_cast<size_t>(r.worker)].push_back(r.index);
    threads[static_cast<size_t>(r.worker)].push_back(r.thread);
  }
  CHECK(std::all_of(times_run.begin(), times_run.end(), [](int t) { return t == 1; }));
  for (size_t w = 0; w < kThreads; ++w) {
    CHECK(std::is_sorted(order[w].begin(), order[w].end()));
    const auto& ids = threads[w];
    CHECK(std::all_of(ids.begin(), ids.end(), [&](std::thread::id id) { return id == ids[0]; }));
  }
  CHECK(threads[0][0] == std::this_thread::get_id());  // worker 0 is the caller

  // More workers than indices: only workers 0..n-1 run, worker w on index w.
  std::vector<std::atomic<int>> ran(8);
  faceid::parallel_for_round_robin(3, 8, [&](int w, size_t i) {
    ran[static_cast<size_t>(w)].fetch_add(static_cast<size_t>(w) == i ? 1 : 100);
  });
  for (size_t w = 0; w < ran.size(); ++w) CHECK(ran[w].load() == (w < 3 ? 1 : 0));

  const auto failing = [](int, size_t i) {
    if (i == 13) throw std::runtime_error("tile 13");
  };
  CHECK_THROWS_WITH(faceid::parallel_for_round_robin(50, 4, failing), "tile 13");
}
