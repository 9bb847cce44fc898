#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>

#include "faceid/core/error.hpp"
#include "faceid/eval/metrics.hpp"
#include "faceid/runtime/unlock_policy.hpp"

using faceid::Embeddings;
using faceid::UnlockOutcome;
using faceid::UnlockPolicy;
using faceid::UserTemplates;

namespace {

// 2-D templates on the x axis at 0, 1 and 3: the distance from (x, 0) is obvious.
UserTemplates line_user() {
  UserTemplates u;
  u.user = "ann";
  u.enrolled.resize(3, 2);
  u.enrolled << 0, 0, 1, 0, 3, 0;
  u.adaptive.resize(0, 2);
  return u;
}

Eigen::RowVectorXf point(float x, float y = 0.0f) {
  Eigen::RowVectorXf v(2);
  v << x, y;
  return v;
}

}  // namespace

TEST_CASE("unlock policy: min and mean_k distances on a hand-made example", "[unlock]") {
  const UserTemplates u = line_user();
  using faceid::TemplateDistance;
  // From x = 0.8: distances 0.8, 0.2, 2.2.
  CHECK(faceid::template_distance(u, point(0.8f), TemplateDistance::min, 3) == Approx(0.2));
  CHECK(faceid::template_distance(u, point(0.8f), TemplateDistance::mean_k, 2) == Approx(0.5));
  CHECK(faceid::template_distance(u, point(0.8f), TemplateDistance::mean_k, 3) == Approx(3.2 / 3));
  CHECK(faceid::template_distance(u, point(0.8f), TemplateDistance::mean_k, 10) == Approx(3.2 / 3));
  // Off the axis: (1, 2) is sqrt(5), 2, sqrt(8) away.
  CHECK(faceid::template_distance(u, point(1, 2), TemplateDistance::mean_k, 2) ==
        Approx((std::sqrt(5.0) + 2.0) / 2.0));

  faceid::UnlockConfig config;
  config.distance = TemplateDistance::mean_k;
  config.mean_k = 2;
  const UnlockPolicy policy(config, 0.6);
  CHECK(policy.distance(u, point(0.8f)) == Approx(0.5));
  CHECK_THROWS_AS(
      faceid::template_distance(u, Eigen::RowVectorXf::Zero(3), TemplateDistance::min, 1),
      faceid::Error);
  CHECK_THROWS_AS(UnlockPolicy(faceid::UnlockConfig{}, std::nan("")), faceid::Error);
}

TEST_CASE("unlock policy: lockout after exactly 5 failures, reset with the passcode", "[unlock]") {
  faceid::UnlockConfig config;  // lockout_failures = 5
  REQUIRE(config.lockout_failures == 5);
  UnlockPolicy policy(config, 0.5, false);
  UserTemplates u = line_user();
  // A success resets the count: 4 failures, a success, 4 failures: still open.
  for (int k = 0; k < 4; ++k)
    CHECK(policy.attempt(u, point(10)).outcome == UnlockOutcome::rejected);
  CHECK(policy.consecutive_failures() == 4);
  CHECK(policy.attempt(u, point(1.1f)).outcome == UnlockOutcome::accepted);
  CHECK(policy.consecutive_failures() == 0);
  for (int k = 0; k < 4; ++k)
    CHECK(policy.attempt(u, point(10)).outcome == UnlockOutcome::rejected);
  CHECK_FALSE(policy.locked());
  // The 5th consecutive failure locks.
  const auto fifth = policy.attempt(u, point(10));
  CHECK(fifth.outcome == UnlockOutcome::rejected);
  CHECK(fifth.locked);
  CHECK(fifth.consecutive_failures == 5);
  CHECK(policy.locked());
  CHECK(policy.lockout_events() == 1);
  // Locked: even the right face is refused, without matching.
  const auto refused = policy.attempt(u, point(1.0f));
  CHECK(refused.outcome == UnlockOutcome::locked_out);
  CHECK(std::isnan(refused.distance));
  CHECK(std::string(faceid::to_string(refused.outcome)) == "locked_out");
  policy.reset_with_passcode();
  CHECK_FALSE(policy.locked());
  CHECK(policy.consecutive_failures() == 0);
  const auto ok = policy.attempt(u, point(1.0f));
  CHECK(ok.outcome == UnlockOutcome::accepted);
  CHECK(ok.distance == Approx(0.0));
  // Five more failures: a second lockout event.
  for (int k = 0; k < 5; ++k) policy.attempt(u, point(10));
  CHECK(policy.lockout_events() == 2);
  const auto& c = policy.counters();
  CHECK(c.attempts == 17);  // 4 + 1 + 5 + 1 (locked out) + 1 + 5
  CHECK(c.accepted == 2);
  CHECK(c.rejected == 14);
  CHECK(c.locked_out == 1);
  CHECK(c.templates_added == 0);
  CHECK(u.adaptive.rows() == 0);  // adaptive update off
}

TEST_CASE("unlock policy: adaptive FIFO in the update band, bounded, enrolled untouched",
          "[unlock]") {
  faceid::UnlockConfig config;
  config.update_band = 0.5;
  config.adaptive_capacity = 3;
  UnlockPolicy policy(config, 0.4);  // band: distances in [0.2, 0.4]
  UserTemplates u = line_user();
  const Embeddings enrolled = u.enrolled;

  // Too close (0.1 < 0.2): accepted, nothing learned.
  auto d = policy.attempt(u, point(1.0f, 0.1f));
  CHECK(d.outcome == UnlockOutcome::accepted);
  CHECK_FALSE(d.template_added);
  // Rejected (0.5 > 0.4): nothing learned.
  CHECK_FALSE(policy.attempt(u, point(1.0f, 0.5f)).template_added);
  // In the band: learned, never more than 3. The probes lie on the circle of radius 0.3 around
  // (1, 0), 60 degrees apart: 0.3 from (1, 0) and at least 0.3 from each other, so each one's
  // distance is 0.3, inside the band, whatever was learned before.
  for (int k = 0; k < 6; ++k) {
    const double a = static_cast<double>(k) * M_PI / 3.0;
    d = policy.attempt(u, point(static_cast<float>(1.0 + 0.3 * std::cos(a)),
                                static_cast<float>(0.3 * std::sin(a))));
    INFO("k " << k << " distance " << d.distance);
    CHECK(d.outcome == UnlockOutcome::accepted);
    CHECK(d.distance == Approx(0.3).epsilon(1e-5));
    CHECK(d.template_added);
    CHECK(u.adaptive.rows() == std::min(k + 1, 3));
  }
  // The last three probes (k = 3, 4, 5) are kept, oldest first.
  CHECK(u.adaptive(0, 0) == Approx(0.7));
  CHECK(u.adaptive(2, 1) == Approx(0.3 * std::sin(5.0 * M_PI / 3.0)));
  CHECK(policy.counters().templates_added == 6);
  CHECK(u.adaptive.rows() == 3);
  CHECK(u.enrolled == enrolled);

  // FIFO order: push three distinct templates, the oldest goes first.
  UserTemplates f = line_user();
  for (int k = 1; k <= 5; ++k) f.push_adaptive(point(static_cast<float>(k)), 3);
  REQUIRE(f.adaptive.rows() == 3);
  CHECK(f.adaptive(0, 0) == 3.0f);
  CHECK(f.adaptive(1, 0) == 4.0f);
  CHECK(f.adaptive(2, 0) == 5.0f);
  CHECK(f.enrolled == enrolled);
  f.push_adaptive(point(9), 0);  // capacity 0 keeps nothing new
  CHECK(f.adaptive.rows() == 3);

  // Adaptive templates take part in matching: (5, 0) is 2 from the nearest enrolled one.
  UnlockPolicy strict(config, 0.4);
  CHECK(strict.distance(f, point(5.1f)) == Approx(0.1));
  // Switching the update off stops learning.
  strict.set_adaptive_update(false);
  CHECK_FALSE(strict.attempt(f, point(5.3f)).template_added);
  CHECK(f.adaptive(2, 0) == 5.0f);
}

TEST_CASE("unlock policy: threshold_for_far on a known list", "[unlock]") {
  // 10 impostor distances 0.1 .. 1.0.
  std::vector<float> impostor;
  for (int k = 1; k <= 10; ++k) impostor.push_back(0.1f * static_cast<float>(k));
  // FAR 0.2 allows 2 false accepts: accept everything below the 3rd smallest (0.3).
  const double t = faceid::threshold_for_far(impostor, 0.2);
  CHECK(t < 0.3f);
  CHECK(t == Approx(0.3).epsilon(1e-6));
  CHECK(std::count_if(impostor.begin(), impostor.end(), [&](float d) { return d <= t; }) == 2);
  // FAR below 1/10 allows none: just below the smallest.
  const double none = faceid::threshold_for_far(impostor, 0.05);
  CHECK(none < 0.1f);
  CHECK(none == Approx(0.1).epsilon(1e-6));
  // Order does not matter; FAR 1 accepts everything.
  std::reverse(impostor.begin(), impostor.end());
  CHECK(faceid::threshold_for_far(impostor, 0.2) == t);
  CHECK(faceid::threshold_for_far(impostor, 1.0) == Approx(1.0));
  CHECK_THROWS_AS(faceid::threshold_for_far({}, 0.1), faceid::Error);
  CHECK_THROWS_AS(faceid::threshold_for_far(impostor, 0.0), faceid::Error);
}
