#include <algorithm>

#include <catch2/catch.hpp>

#include "faceid/runtime/enrollment.hpp"
#include "faceid/eval/unlock_sim.hpp"

using namespace faceid;

namespace {
// `persons` clusters of `per` unit vectors around orthogonal axes, spread by `spread`.
void make_clusters(int persons, int per, float spread, Embeddings& e, std::vector<int>& labels,
                   std::vector<FrameRef>& frames, std::vector<std::string>& names) {
  const int dim = persons + per;
  e.resize(persons * per, dim);
  e.setZero();
  for (int p = 0; p < persons; ++p) {
    names.push_back("p" + std::to_string(p));
    for (int k = 0; k < per; ++k) {
      const int row = p * per + k;
      e(row, p) = 1.0f;
      e(row, persons + k) = spread;
      e.row(row).normalize();
      labels.push_back(p);
      FrameRef ref;
      ref.identity = names.back();
      ref.pose = k + 1;
      ref.repetition = 1;
      frames.push_back(ref);
    }
  }
}
// Enrollment from 3 frames of spread poses, then unlock attempts at `threshold`.
UnlockSimOptions three_frame_enrollment(double threshold) {
  UnlockSimOptions o;
  o.unlock.enroll_frames = 3;
  o.unlock.min_enroll_frames = 3;
  o.unlock.min_pose_spread = 0.01;
  o.threshold = threshold;
  return o;
}
}  // namespace

TEST_CASE("unlock_sim: enrollment rows span the poses", "[unlock_sim]") {
  std::vector<FrameRef> frames(17);
  std::vector<size_t> rows;
  for (int i = 0; i < 17; ++i) {
    frames[i].pose = i + 1;
    frames[i].repetition = 1;
    rows.push_back(static_cast<size_t>(16 - i));  // any order in
  }
  CHECK(choose_enrollment_rows(rows, frames, 5) == std::vector<size_t>{0, 4, 8, 12, 16});
  CHECK(choose_enrollment_rows(rows, frames, 1) == std::vector<size_t>{8});
  CHECK(choose_enrollment_rows(rows, frames, 40).size() == 17);
}

TEST_CASE("unlock_sim: separated identities give FRR 0 and FAR 0 with exact counts",
          "[unlock_sim]") {
  Embeddings e;
  std::vector<int> labels;
  std::vector<FrameRef> frames;
  std::vector<std::string> names;
  make_clusters(4, 8, 0.3f, e, labels, frames, names);
  UnlockSimOptions o = three_frame_enrollment(0.6);
  const UnlockSimReport r = simulate_unlock(e, labels, frames, names, o);
  CHECK(r.genuine_attempts == 4 * 5);
  CHECK(r.impostor_attempts == 4 * 24);
  CHECK(r.frr == 0.0);
  CHECK(r.far == 0.0);
  CHECK(r.frr_static == 0.0);
  CHECK(r.lockouts == 0);
  CHECK(r.impostor_lockouts > 0);  // impostors fail 5 in a row and hit the lockout
  CHECK(r.genuine_mean < r.impostor_mean);
  CHECK(r.threshold_source == "--threshold");
  // --far calibration: FAR at most the target on these impostors.
  o.threshold = -1;
  o.far = 0.5;
  const UnlockSimReport c = simulate_unlock(e, labels, frames, names, o);
  CHECK(c.far_static <= 0.5);
  CHECK_THAT(unlock_report_json(c), Catch::Contains("\"lockouts\": 0"));
}

TEST_CASE("unlock_sim: a too-tight threshold rejects everyone and locks genuine users out",
          "[unlock_sim]") {
  Embeddings e;
  std::vector<int> labels;
  std::vector<FrameRef> frames;
  std::vector<std::string> names;
  make_clusters(3, 13, 0.5f, e, labels, frames, names);
  UnlockSimOptions o;
  o.unlock.enroll_frames = 3;
  o.unlock.min_pose_spread = 0.01;
  o.threshold = 0.0;
  const UnlockSimReport r = simulate_unlock(e, labels, frames, names, o);
  CHECK(r.frr == 1.0);
  CHECK(r.far == 0.0);
  CHECK(r.lockouts == 3 * 2);  // 10 genuine failures each: two lockouts per user
}

TEST_CASE("enrollment: refused for too few frames or too similar poses", "[unlock_sim]") {
  UnlockConfig c;
  c.min_enroll_frames = 3;
  c.min_pose_spread = 0.05;
  Embeddings two(2, 4);
  two << 1, 0, 0, 0, 0, 1, 0, 0;
  CHECK_THAT(enrollment_refusal(two, c), Catch::Contains("2 usable frame(s)"));
  Embeddings same(3, 4);
  same << 1, 0, 0, 0, 1, 0, 0, 0, 1, 0.01f, 0, 0;
  CHECK_THAT(enrollment_refusal(same, c), Catch::Contains("too similar"));
  Embeddings spread(3, 4);
  spread << 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0;
  CHECK(enrollment_refusal(spread, c).empty());
  CHECK(mean_pairwise_distance(spread) == Approx(std::sqrt(2.0)));
}

TEST_CASE("unlock_sim: the closest impostor attempts are listed, nearest first", "[unlock_sim]") {
  Embeddings e;
  std::vector<int> labels;
  std::vector<FrameRef> frames;
  std::vector<std::string> names;
  make_clusters(4, 8, 0.3f, e, labels, frames, names);
  // A frame of p3 that is an unlock attempt (not enrolled), moved next to p0's axis: a lookalike.
  std::vector<size_t> p3_rows;
  for (size_t r = 24; r < 32; ++r) p3_rows.push_back(r);
  const std::vector<size_t> enrolled = choose_enrollment_rows(p3_rows, frames, 3);
  size_t lookalike = 0;
  for (size_t r : p3_rows) {
    if (std::find(enrolled.begin(), enrolled.end(), r) == enrolled.end()) lookalike = r;
  }
  REQUIRE(lookalike != 0);
  e.row(static_cast<Eigen::Index>(lookalike)).setZero();
  e(static_cast<Eigen::Index>(lookalike), 0) = 1.0f;
  frames[lookalike].depth_path = "p3/lookalike_d.png";

  const UnlockSimOptions o = three_frame_enrollment(0.6);
  const UnlockSimReport r = simulate_unlock(e, labels, frames, names, o);
  REQUIRE(r.closest_impostors.size() == 25);  // 4 × 24 attempts, the 25 nearest kept
  CHECK(r.closest_impostors.front().row == lookalike);
  CHECK(r.closest_impostors.front().claimed == 0);
  for (size_t k = 1; k < r.closest_impostors.size(); ++k) {
    CHECK(r.closest_impostors[k - 1].distance <= r.closest_impostors[k].distance);
  }
  const std::vector<float> sorted = [&] {
    std::vector<float> d = r.impostor_distances;
    std::sort(d.begin(), d.end());
    return d;
  }();
  CHECK(r.closest_impostors.back().distance == Approx(sorted[24]));
  const std::string csv = closest_impostors_csv(r, frames, labels, names);
  CHECK_THAT(csv, Catch::StartsWith("distance,attempt_frame,attempt_person,claimed_user\n"));
  CHECK_THAT(csv, Catch::Contains(",p3/lookalike_d.png,p3,p0\n"));
}
