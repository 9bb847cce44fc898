#include <catch2/catch.hpp>

#include <map>

#include "data_fixtures.hpp"
#include "faceid/data/pair_sampler.hpp"
#include "faceid/core/error.hpp"

using faceid::PairIndex;
using faceid::PairSampler;
using faceid::test::make_store;

namespace {

bool same_pairs(const std::vector<PairIndex>& x, const std::vector<PairIndex>& y) {
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].a != y[i].a || x[i].b != y[i].b || x[i].same != y[i].same ||
        x[i].person_a != y[i].person_a || x[i].person_b != y[i].person_b) {
      return false;
    }
  }
  return true;
}

// Pearson's chi-square statistic of observed counts against a uniform expectation.
double chi_square_uniform(const std::vector<double>& counts) {
  double total = 0;
  for (double c : counts) total += c;
  const double expected = total / counts.size();
  double chi = 0;
  for (double c : counts) chi += (c - expected) * (c - expected) / expected;
  return chi;
}

}  // namespace

TEST_CASE("pair sampler: balanced batches of valid pairs", "[pair_sampler]") {
  // Unequal frame counts; person 0 has one frame (impostor pairs only), person 5 none.
  const auto store = make_store({1, 2, 5, 10, 30, 0});
  PairSampler sampler(store, 10, 0.3, 42);
  CHECK(sampler.batch_pairs() == 10);
  CHECK(sampler.positives_per_batch() == 3);
  for (int64_t batch = 0; batch < 200; ++batch) {
    const auto pairs = sampler.batch(batch % 3, batch);
    REQUIRE(pairs.size() == 10);
    int positives = 0;
    for (size_t i = 0; i < pairs.size(); ++i) {
      const PairIndex& p = pairs[i];
      REQUIRE(p.a >= 0);
      REQUIRE(p.b >= 0);
      REQUIRE(static_cast<size_t>(p.a) < store.size());
      REQUIRE(static_cast<size_t>(p.b) < store.size());
      CHECK(p.a != p.b);  // never a frame with itself
      CHECK(store.frame(p.a).person == p.person_a);
      CHECK(store.frame(p.b).person == p.person_b);
      if (p.same == 1.0f) {
        ++positives;
        CHECK(i < 3);  // genuine pairs first
        CHECK(p.person_a == p.person_b);
      } else {
        CHECK(p.same == 0.0f);
        CHECK(p.person_a != p.person_b);
      }
    }
    CHECK(positives == 3);
  }
}

TEST_CASE("pair sampler: persons are drawn uniformly, not frames", "[pair_sampler]") {
  const auto store = make_store({1, 2, 5, 10, 30, 0});
  PairSampler sampler(store, 20, 0.5, 3);
  std::vector<double> genuine(6, 0), impostor(6, 0);
  std::map<int, double> frames_of_p4;  // frames drawn for the 30-frame person in genuine pairs
  for (int64_t batch = 0; batch < 400; ++batch) {
    for (const PairIndex& p : sampler.batch(0, batch)) {
      if (p.same == 1.0f) {
        genuine[p.person_a] += 1;
        if (p.person_a == 4) {
          frames_of_p4[p.a] += 1;
          frames_of_p4[p.b] += 1;
        }
      } else {
        impostor[p.person_a] += 1;
        impostor[p.person_b] += 1;
      }
    }
  }
  CHECK(genuine[0] == 0);  // one frame: no genuine pair possible
  CHECK(genuine[5] == 0);
  CHECK(impostor[5] == 0);
  // 4000 genuine pairs over 4 eligible persons, 8000 impostor slots over 5: a chi-square with 3
  // and 4 degrees of freedom stays below 18.5 with probability 0.999 when uniform.
  const double chi_genuine = chi_square_uniform({genuine[1], genuine[2], genuine[3], genuine[4]});
  const double chi_impostor =
      chi_square_uniform({impostor[0], impostor[1], impostor[2], impostor[3], impostor[4]});
  CHECK(chi_genuine < 16.3);
  CHECK(chi_impostor < 18.5);
  // Drawing frames uniformly would have given person 4 (30 of 48 frames) most pairs.
  CHECK(genuine[4] < 1.2 * genuine[1]);
  // Within a person, frames are uniform too (29 degrees of freedom: below 58.3 at 0.999).
  REQUIRE(frames_of_p4.size() == 30);
  std::vector<double> counts;
  for (const auto& kv : frames_of_p4) counts.push_back(kv.second);
  CHECK(chi_square_uniform(counts) < 58.3);
}

TEST_CASE("pair sampler: a batch is a function of (seed, epoch, index) only", "[pair_sampler]") {
  const auto store = make_store({3, 4, 5, 6});
  PairSampler s1(store, 16, 0.5, 9);
  PairSampler s2(store, 16, 0.5, 9);
  PairSampler other_seed(store, 16, 0.5, 10);
  // Any order of requests gives the same batches.
  const auto b7 = s1.batch(2, 7);
  const auto b3 = s1.batch(2, 3);
  CHECK(same_pairs(s2.batch(2, 3), b3));
  CHECK(same_pairs(s2.batch(2, 7), b7));
  CHECK_FALSE(same_pairs(b3, b7));
  CHECK_FALSE(same_pairs(s1.batch(3, 7), b7));
  CHECK_FALSE(same_pairs(other_seed.batch(2, 7), b7));
  // Golden: splitmix64 keeps it the same on every platform.
  const auto g = PairSampler(store, 4, 0.5, 1).batch(0, 0);
  CHECK(same_pairs(g, {{0, 1, 1.0f, 0, 0}, {0, 2, 1.0f, 0, 0}, {15, 9, 0.0f, 3, 2},
                       {9, 3, 0.0f, 2, 1}}));
}

TEST_CASE("pair sampler: shards slice one global batch", "[pair_sampler]") {
  const auto store = make_store({3, 4, 5, 6, 2});
  PairSampler single(store, 8, 0.25, 5);
  std::vector<PairIndex> global;
  for (int rank = 0; rank < 3; ++rank) {
    PairSampler s(store, 8, 0.25, 5);
    s.shard(rank, 3);
    CHECK(s.global_pair_index(1) == rank * 8 + 1);
    const auto slice = s.batch(1, 4);
    REQUIRE(slice.size() == 8);
    int positives = 0;
    for (const auto& p : slice) positives += p.same == 1.0f;
    CHECK(positives == 2);  // every slice is balanced
    global.insert(global.end(), slice.begin(), slice.end());
  }
  // Rank 0's slice is the single-process batch; the other ranks add different pairs.
  CHECK(same_pairs(std::vector<PairIndex>(global.begin(), global.begin() + 8), single.batch(1, 4)));
  CHECK_FALSE(same_pairs(std::vector<PairIndex>(global.begin() + 8, global.begin() + 16),
                         single.batch(1, 4)));
  PairSampler s(store, 8, 0.25, 5);
  CHECK_THROWS_AS(s.shard(3, 3), faceid::Error);
}

TEST_CASE("pair sampler: refuses a store that cannot give the pairs", "[pair_sampler]") {
  // Nobody has two frames: no genuine pair.
  CHECK_THROWS_WITH(PairSampler(make_store({1, 1, 1}), 8, 0.5, 1),
                    Catch::Contains("genuine pairs need a person with at least 2 usable frames"));
  // One person: no impostor pair.
  CHECK_THROWS_WITH(PairSampler(make_store({5, 0}), 8, 0.5, 1),
                    Catch::Contains("impostor pairs need at least 2 persons"));
  // Only genuine pairs asked: one person is enough.
  CHECK(PairSampler(make_store({5}), 8, 1.0, 1).batch(0, 0).size() == 8);
}
