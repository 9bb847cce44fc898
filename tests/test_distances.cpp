#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <ctime>
#include <random>

#include "faceid/core/error.hpp"
#include "faceid/eval/distances.hpp"

using faceid::Embeddings;

namespace {

// n unit vectors of width d, `per_id` consecutive rows per identity, clustered around a centre.
Embeddings random_embeddings(int n, int d, int per_id, std::vector<int>& labels, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Embeddings X(n, d);
  Eigen::RowVectorXf centre(d);
  labels.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    if (i % per_id == 0) {
      for (int k = 0; k < d; ++k) centre[k] = normal(rng);
    }
    for (int k = 0; k < d; ++k) X(i, k) = centre[k] + 0.5f * normal(rng);
    X.row(i).normalize();
    labels[static_cast<size_t>(i)] = i / per_id;
  }
  return X;
}

double naive_distance(const Embeddings& X, int i, int j) {
  double s = 0;
  for (int k = 0; k < X.cols(); ++k) {
    const double d = static_cast<double>(X(i, k)) - X(j, k);
    s += d * d;
  }
  return std::sqrt(s);
}

}  // namespace

TEST_CASE("distances: blockwise all-pairs equals the naive loop", "[distances]") {
  std::vector<int> labels;
  const Embeddings X = random_embeddings(157, 16, 5, labels, 11);
  // Naive: pairs i < j in row-major order.
  std::vector<double> genuine, impostor;
  for (int i = 0; i < X.rows(); ++i) {
    for (int j = i + 1; j < X.rows(); ++j) {
      (labels[i] == labels[j] ? genuine : impostor).push_back(naive_distance(X, i, j));
    }
  }
  for (int threads : {1, 2}) {
    for (int block : {16, 50, 1024}) {
      INFO("threads " << threads << " block " << block);
      auto got = faceid::all_pair_distances_exact(X, labels, threads, 1'000'000, block);
      REQUIRE(got.genuine.size() == genuine.size());
      REQUIRE(got.impostor.size() == impostor.size());
      // Tiles change the order: compare sorted.
      std::sort(got.genuine.begin(), got.genuine.end());
      std::sort(got.impostor.begin(), got.impostor.end());
      auto g = genuine, im = impostor;
      std::sort(g.begin(), g.end());
      std::sort(im.begin(), im.end());
      double worst = 0;
      for (size_t k = 0; k < g.size(); ++k)
        worst = std::max(worst, std::abs(got.genuine[k] - g[k]));
      for (size_t k = 0; k < im.size(); ++k) {
        worst = std::max(worst, std::abs(got.impostor[k] - im[k]));
      }
      CHECK(worst < 1e-5);
    }
  }
  // 157 rows in groups of 5: 31 groups of 5 and one of 2 -> 31*10 + 1 genuine pairs.
  CHECK(genuine.size() == 311);
  CHECK(impostor.size() == 157 * 156 / 2 - 311);
}

TEST_CASE("distances: the streaming path fills the accumulator like the exact lists",
          "[distances]") {
  std::vector<int> labels;
  const Embeddings X = random_embeddings(300, 32, 10, labels, 5);
  const auto exact = faceid::all_pair_distances_exact(X, labels);
  faceid::HistogramAccumulator one, two;
  const auto s1 = faceid::all_pair_distances(X, labels, one, 1, 64);
  const auto s2 = faceid::all_pair_distances(X, labels, two, 2, 64);
  CHECK(s1.genuine_pairs == exact.genuine.size());
  CHECK(s1.impostor_pairs == exact.impostor.size());
  CHECK(s2.genuine_pairs == s1.genuine_pairs);
  CHECK(one.genuine_bins() == two.genuine_bins());
  CHECK(one.impostor_bins() == two.impostor_bins());
  CHECK(one.impostor_tail() == two.impostor_tail());
  faceid::HistogramAccumulator direct;
  direct.add_genuine(exact.genuine);
  direct.add_impostor(exact.impostor);
  CHECK(direct.genuine_bins() == one.genuine_bins());
  CHECK(direct.impostor_bins() == one.impostor_bins());
  const auto a = faceid::ExactRoc(exact.genuine, exact.impostor).summary();
  const auto b = two.summary();
  CHECK(b.auc == Approx(a.auc).margin(1e-4));
  CHECK(b.at_far[2].threshold == a.at_far[2].threshold);  // 1e-4: within the exact tail
  CHECK(b.at_far[2].tar == a.at_far[2].tar);
}

TEST_CASE("distances: cross distances and input checks", "[distances]") {
  std::vector<int> labels;
  const Embeddings X = random_embeddings(40, 8, 4, labels, 2);
  const Embeddings A = X.topRows(7), B = X.bottomRows(12);
  const auto D = faceid::cross_distances(A, B);
  REQUIRE(D.rows() == 7);
  REQUIRE(D.cols() == 12);
  for (int i = 0; i < 7; ++i) {
    for (int j = 0; j < 12; ++j)
      CHECK(D(i, j) == Approx(naive_distance(X, i, 28 + j)).margin(1e-5));
  }
  // A vector and itself: exactly 0 after the clamp.
  CHECK(faceid::cross_distances(A.topRows(1), A.topRows(1))(0, 0) == Approx(0.0).margin(1e-3));
  CHECK_THROWS_AS(faceid::cross_distances(A, Embeddings(3, 5)), faceid::Error);
  faceid::HistogramAccumulator acc;
  CHECK_THROWS_AS(faceid::all_pair_distances(X, {1, 2, 3}, acc), faceid::Error);
  CHECK_THROWS_AS(faceid::all_pair_distances_exact(X, labels, 1, 100), faceid::Error);
}

// Throughput on the evaluate workload: 2,000 identities x 10 frames, D = 128 (2e8 pairs).
// Run: build/bin/faceid_tests "[.bench]" -s
TEST_CASE("distances: benchmark 20000 x 128 all pairs", "[.bench]") {
  std::vector<int> labels;
  const Embeddings X = random_embeddings(20000, 128, 10, labels, 1);
  for (int threads : {1, 2}) {
    faceid::HistogramAccumulator acc;
    const std::clock_t cpu0 = std::clock();
    const auto s = faceid::all_pair_distances(X, labels, acc, threads);
    const double cpu_s = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
    const double pairs = static_cast<double>(s.genuine_pairs + s.impostor_pairs);
    const auto t0 = std::chrono::steady_clock::now();
    const auto summary = acc.summary();
    const double summary_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    WARN(threads << " thread(s): " << pairs << " pairs in " << s.seconds << " s ("
                 << pairs / s.seconds / 1e6 << " M pairs/s, " << cpu_s << " CPU s); summary "
                 << summary_s << " s\n"
                 << faceid::format_roc_summary(summary));
    CHECK(s.genuine_pairs == 2000u * 45u);
  }
}
