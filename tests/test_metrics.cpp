#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "faceid/core/error.hpp"
#include "faceid/eval/metrics.hpp"

using faceid::ExactRoc;
using faceid::HistogramAccumulator;

TEST_CASE("metrics: perfectly separated lists give AUC 1 and EER 0", "[metrics]") {
  const ExactRoc roc({0.1f, 0.2f, 0.3f}, {0.8f, 0.9f});
  const auto s = roc.summary({0.5});
  CHECK(s.auc == 1.0);
  CHECK(s.eer == 0.0);
  // FAR = FRR = 0 on [0.3, 0.8): the middle of it.
  CHECK(s.eer_threshold == Approx(0.55));
  CHECK(s.genuine_mean == Approx(0.2));
  CHECK(s.impostor_mean == Approx(0.85));
  CHECK(s.genuine_pairs == 3);
  CHECK(s.impostor_pairs == 2);
  REQUIRE(s.at_far.size() == 1);
  // FAR 0.5 of 2 impostors: 1 false accept allowed, threshold just below the second impostor.
  CHECK(s.at_far[0].threshold == Approx(0.9).epsilon(1e-6));
  CHECK(s.at_far[0].threshold < 0.9f);
  CHECK(s.at_far[0].false_accepts == 1);
  CHECK(s.at_far[0].far_achieved == 0.5);
  CHECK(s.at_far[0].tar == 1.0);
}

TEST_CASE("metrics: identical lists give AUC 0.5 and EER 0.5", "[metrics]") {
  const std::vector<float> v = {0.1f, 0.2f, 0.3f};
  const ExactRoc roc(v, v);
  CHECK(roc.auc() == 0.5);
  const auto s = roc.summary();
  CHECK(s.eer == Approx(0.5));
  CHECK(s.eer_threshold == Approx(0.15));
}

TEST_CASE("metrics: hand-computed EER with interpolation, AUC and error rates", "[metrics]") {
  // Thresholds 0.1, 0.2, 0.3, 0.4 give (FAR, FRR) = (0, 2/3), (0, 1/3), (1/4, 1/3), (1/2, 1/3):
  // FAR - FRR goes from -1/12 to +1/6, alpha = 1/3: EER = 1/4 + 1/3 * 1/4 = 1/3 at 0.3 + 0.1/3.
  const ExactRoc roc({0.1f, 0.2f, 0.5f}, {0.3f, 0.4f, 0.6f, 0.7f});
  const auto s = roc.summary({});
  CHECK(s.eer == Approx(1.0 / 3.0));
  CHECK(s.eer_threshold == Approx(0.3 + 0.1 / 3.0));
  // Pairs with genuine < impostor: 0.1 and 0.2 beat all 4, 0.5 beats 2: 10 of 12.
  CHECK(s.auc == Approx(10.0 / 12.0));
  const auto r = roc.at_threshold(0.45);
  CHECK(r.false_accepts == 2);
  CHECK(r.far == 0.5);
  CHECK(r.false_rejects == 1);
  CHECK(r.frr == Approx(1.0 / 3.0));
  // Accept when distance <= threshold: a distance equal to the threshold is accepted.
  CHECK(roc.at_threshold(0.3f).false_accepts == 1);
  CHECK(roc.at_threshold(0.5f).false_rejects == 0);
}

TEST_CASE("metrics: ties count one half in the AUC", "[metrics]") {
  // Genuine {0.2, 0.4} vs impostor {0.4, 0.6}: 3 wins and one tie of 4 pairs.
  CHECK(ExactRoc({0.2f, 0.4f}, {0.4f, 0.6f}).auc() == Approx(3.5 / 4.0));
}

TEST_CASE("metrics: TAR at FAR takes the largest threshold with FAR <= target", "[metrics]") {
  std::vector<float> impostor;
  for (int k = 1; k <= 1000; ++k) impostor.push_back(static_cast<float>(k) / 1000.0f);
  const std::vector<float> genuine = {0.0005f, 0.0015f, 0.0105f, 0.5f};
  const ExactRoc roc(genuine, impostor);
  const auto p = roc.at_far(0.01);  // 10 false accepts allowed: accept everything < 0.011
  CHECK(p.false_accepts == 10);
  CHECK(p.far_achieved == Approx(0.01));
  CHECK(p.threshold < 0.011f);
  CHECK(p.threshold >= 0.010f);
  CHECK(p.tar == Approx(0.75));
  const auto zero = roc.at_far(1e-4);  // no false accept allowed: below the smallest impostor
  CHECK(zero.false_accepts == 0);
  CHECK(zero.threshold < 0.001f);
  CHECK(zero.tar == Approx(0.25));
  CHECK(zero.far_upper_bound_95 == Approx(3.0 / 1000.0));
  CHECK(faceid::threshold_for_far(impostor, 0.01) == p.threshold);
  CHECK_THROWS_AS(roc.at_far(0.0), faceid::Error);
  CHECK_THROWS_AS(roc.at_far(1.5), faceid::Error);
}

TEST_CASE("metrics: rule-of-3 upper bound and the Poisson bound beyond it", "[metrics]") {
  CHECK(faceid::far_upper_bound_95(0, 1000) == Approx(3.0 / 1000.0));
  CHECK(faceid::far_upper_bound_95(0, 200'000'000) == Approx(1.5e-8));
  // Exact Poisson 95% upper limits: 4.744 for 1 event, 16.96 for 10 (Wilson-Hilferty within 1%).
  CHECK(faceid::far_upper_bound_95(1, 1'000'000) == Approx(4.744e-6).epsilon(0.01));
  CHECK(faceid::far_upper_bound_95(10, 1'000'000) == Approx(16.96e-6).epsilon(0.01));
  CHECK(faceid::far_upper_bound_95(5, 5) == 1.0);
}

TEST_CASE("metrics: empty lists are refused", "[metrics]") {
  CHECK_THROWS_AS(ExactRoc({}, {0.5f}), faceid::Error);
  CHECK_THROWS_AS(ExactRoc({0.5f}, {std::nanf("")}), faceid::Error);
  HistogramAccumulator acc(64);
  acc.add_genuine(0.1f);
  CHECK_THROWS_AS(acc.summary(), faceid::Error);
}

TEST_CASE("metrics: histogram accumulator agrees with the exact computation", "[metrics]") {
  std::mt19937 rng(3);
  std::normal_distribution<float> gen(0.6f, 0.15f), imp(1.3f, 0.12f);
  std::vector<float> genuine(4000), impostor(200000);
  for (auto& d : genuine) d = std::clamp(gen(rng), 0.0f, 2.0f);
  for (auto& d : impostor) d = std::clamp(imp(rng), 0.0f, 2.0f);
  const std::vector<double> targets = {1e-1, 1e-2, 1e-3, 1e-4, 1e-6};
  const auto exact = ExactRoc(genuine, impostor).summary(targets);

  // Tail of 100: FAR <= 1e-4 (20 false accepts) is exact, 1e-3 and above come from bin edges.
  HistogramAccumulator acc(HistogramAccumulator::kDefaultBins, 2.0, 100);
  // Feed in two halves through merge, as the threads do.
  HistogramAccumulator half = acc.empty_like();
  for (size_t k = 0; k < impostor.size(); ++k) (k % 2 ? acc : half).add_impostor(impostor[k]);
  acc.add_genuine(genuine);
  acc.merge(half);
  const auto hist = acc.summary(targets);
  const double w = acc.bin_width();

  CHECK(hist.resolution == w);
  CHECK(hist.genuine_pairs == genuine.size());
  CHECK(hist.impostor_pairs == impostor.size());
  CHECK(hist.genuine_mean == Approx(exact.genuine_mean).epsilon(1e-9));
  CHECK(hist.impostor_mean == Approx(exact.impostor_mean).epsilon(1e-9));
  CHECK(std::abs(hist.auc - exact.auc) < 1e-4);
  CHECK(std::abs(hist.eer_threshold - exact.eer_threshold) <= 2 * w);
  CHECK(std::abs(hist.eer - exact.eer) < 2e-3);
  for (size_t k = 0; k < targets.size(); ++k) {
    const auto& h = hist.at_far[k];
    const auto& e = exact.at_far[k];
    INFO("target " << targets[k]);
    CHECK(h.far_achieved <= targets[k]);
    if (h.exact) {
      CHECK(h.threshold == e.threshold);
      CHECK(h.tar == e.tar);
      CHECK(h.false_accepts == e.false_accepts);
    } else {
      CHECK(h.threshold <= e.threshold);
      CHECK(h.threshold > e.threshold - w);
      CHECK(std::abs(h.tar - e.tar) < 2e-3);
    }
  }
  CHECK_FALSE(hist.at_far[1].exact);
  CHECK(hist.at_far[3].exact);
  CHECK(hist.at_far[4].exact);

  const auto re = ExactRoc(genuine, impostor).at_threshold(exact.eer_threshold);
  const auto rh = acc.at_threshold(exact.eer_threshold);
  CHECK(std::abs(re.far - rh.far) < 1e-3);
  CHECK(std::abs(re.frr - rh.frr) < 1e-3);
  CHECK(acc.impostor_tail().size() == 100);
  CHECK(acc.impostor_tail().front() == *std::min_element(impostor.begin(), impostor.end()));
}

TEST_CASE("metrics: histogram clamps out-of-range distances and curves are monotone", "[metrics]") {
  HistogramAccumulator acc(256, 2.0, 10);
  acc.add_genuine(0.2f);
  acc.add_genuine(0.4f);
  acc.add_impostor(1.5f);
  acc.add_impostor(2.5f);  // beyond the range: last bin
  CHECK(acc.clamped() == 1);
  CHECK(acc.impostor_bins().back() == 1);
  CHECK_THROWS_AS(acc.add_impostor(std::nanf("")), faceid::Error);
  const auto s = acc.summary({0.5});
  CHECK(s.auc == 1.0);
  CHECK(s.eer == 0.0);
  CHECK(s.at_far[0].exact);  // the tail of 10 holds both impostors
  CHECK(s.at_far[0].false_accepts == 1);
  CHECK(s.at_far[0].threshold > 1.5);
  CHECK(s.at_far[0].threshold < 2.5);
  CHECK(s.at_far[0].tar == 1.0);

  std::vector<float> g, i;
  for (int k = 0; k < 500; ++k) {
    g.push_back(0.3f + 0.001f * static_cast<float>(k));
    i.push_back(0.6f + 0.002f * static_cast<float>(k));
  }
  const auto curve = ExactRoc(g, i).curve(100);
  REQUIRE(curve.size() >= 10);
  CHECK(curve.size() <= 220);
  for (size_t k = 1; k < curve.size(); ++k) {
    CHECK(curve[k].far >= curve[k - 1].far);
    CHECK(curve[k].tar >= curve[k - 1].tar);
    CHECK(curve[k].threshold > curve[k - 1].threshold);
  }
  CHECK(curve.back().far == 1.0);
  CHECK(curve.back().tar == 1.0);
}

TEST_CASE("metrics: summary text names the numbers", "[metrics]") {
  const auto s = ExactRoc({0.1f, 0.2f, 0.5f}, {0.3f, 0.4f, 0.6f, 0.7f}).summary({0.25});
  const std::string text = faceid::format_roc_summary(s);
  CHECK_THAT(text, Catch::Contains("pairs: 3 genuine, 4 impostor"));
  CHECK_THAT(text, Catch::Contains("EER 33.3333%"));
  CHECK_THAT(text, Catch::Contains("AUC 0.833333"));
}
