// The head locator on scenes that real Kinect captures contain (issue 14): shoulders, a head cut
// from its body by the sensor's shadow band, a torso nearer than the face, a hand in front, a
// chair back, a second person, off-centre heads at 0.5-1.5 m; and frames with no head at all.
#include <catch2/catch.hpp>

#include "head_scenes.hpp"

using faceid::HeadLocation;
using faceid::PreprocessConfig;
using faceid_test::Box;
using faceid_test::HeadScene;

namespace {

constexpr float kToleranceMm = 25.0f;  // issue 14's localisation target

// Locates the head in `s`; REQUIREs a face within tolerance of the scene's face centre.
HeadLocation expect_face(const HeadScene& s) {
  REQUIRE(s.has_face);
  HeadLocation head;
  std::string reason;
  const bool found = faceid::locate_head(faceid_test::render_head_scene(s).depth,
                                         PreprocessConfig{}, head, reason);
  INFO("no face: " << reason);
  REQUIRE(found);
  const float err = faceid_test::crop_error_mm(head, s.face_mm);
  INFO("crop centre " << head.center << " at " << head.z_mm << " mm, " << err
                      << " mm from the face centre; width " << head.width_mm << " mm");
  CHECK(err <= kToleranceMm);
  // The head's own depth, not the torso's or the wall's: the head ellipsoid spans face to back.
  CHECK(head.z_mm >= s.face_mm.z - 10);
  CHECK(head.z_mm <= s.face_mm.z + 120);
  return head;
}

std::string expect_no_face(const HeadScene& s) {
  HeadLocation head;
  std::string reason;
  const bool found = faceid::locate_head(faceid_test::render_head_scene(s).depth,
                                         PreprocessConfig{}, head, reason);
  INFO("found a face at " << head.center << ", " << head.z_mm << " mm");
  CHECK_FALSE(found);
  CHECK_FALSE(reason.empty());
  return reason;
}

// The frame rows where a head centred at `head` has its chin and the torso begins.
cv::Rect chin_band(const cv::Point3f& head, float below_chin_mm) {
  const float f = faceid::kDepthFy;
  const int chin = static_cast<int>(f * (head.y + 100) / head.z + faceid::kDepthCy);
  const int h = static_cast<int>(f * below_chin_mm / head.z);
  return {0, chin, 640, h};
}

}  // namespace

TEST_CASE("head locator: a head joined to neck and shoulders, 0.5 to 1.5 m", "[preprocess][locator]") {
  for (const float z : {550.0f, 800.0f, 1100.0f, 1450.0f}) {
    for (const float x : {-0.15f, 0.0f, 0.2f}) {
      const cv::Point3f head(x * z, -0.1f * z, z + 100);
      HeadScene s;
      s.add_person(head);
      s.set_face(head);
      INFO("head at " << head);
      expect_face(s);
    }
  }
}

TEST_CASE("head locator: narrow and wide heads", "[preprocess][locator]") {
  for (const float w : {135.0f, 200.0f, 235.0f}) {
    const cv::Point3f head(0, -80, 900);
    HeadScene s;
    s.add_person(head, w);
    s.set_face(head);
    INFO("head width " << w);
    expect_face(s);
  }
}

TEST_CASE("head locator: the shadow band cuts the head from the body", "[preprocess][locator]") {
  // The seed's failure: the torso is the largest blob and its top is not a head.
  for (const float z : {700.0f, 1000.0f, 1300.0f}) {
    const cv::Point3f head(40, -0.08f * z, z);
    HeadScene s;
    s.add_person(head, 160, 60, /*neck=*/false);
    s.holes.push_back(chin_band(head, 70));  // invalid depth along chin and neck
    s.set_face(head);
    INFO("head at " << head);
    expect_face(s);
  }
}

TEST_CASE("head locator: shoulders nearer than the face (leaning forward)", "[preprocess][locator]") {
  for (const bool cut : {false, true}) {
    const cv::Point3f head(-30, -60, 900);
    HeadScene s;
    s.add_person(head, 165, /*torso_dz=*/-260);  // chest ~150 mm nearer than the face
    if (cut) s.holes.push_back(chin_band(head, 50));
    s.set_face(head);
    INFO("shadow band " << cut);
    expect_face(s);
  }
}

TEST_CASE("head locator: a raised hand in front of the face", "[preprocess][locator]") {
  // Palm and fingers 90 x 190 mm, 150 mm in front of the face, the forearm below it: over one
  // side of the face, or over mouth and chin (about a third of the face either way).
  const cv::Point3f head(0, -70, 850);
  struct Hand {
    float x, top;
  };
  for (const Hand hand : {Hand{-80, head.y - 20}, Hand{85, head.y - 10}, Hand{0, head.y + 40}}) {
    HeadScene s;
    s.add_person(head);
    const float zf = head.z - 100 - 150;
    s.boxes.push_back({{hand.x - 45, hand.top, zf}, {hand.x + 45, hand.top + 190, zf + 30}});
    s.boxes.push_back({{hand.x - 35, hand.top + 190, zf + 10}, {hand.x + 35, hand.top + 500, zf + 80}});
    s.set_face(head);
    INFO("hand at x " << hand.x << ", top y " << hand.top);
    expect_face(s);
  }
}

TEST_CASE("head locator: a chair back behind the shoulders", "[preprocess][locator]") {
  const cv::Point3f head(20, -50, 950);
  for (const float top : {head.y + 150, head.y - 80}) {  // below the head, and up to the ears
    HeadScene s;
    s.add_person(head);
    s.boxes.push_back({{-260, top, head.z + 330}, {260, 900, head.z + 380}});
    s.set_face(head);
    INFO("chair top at y " << top);
    expect_face(s);
  }
}

TEST_CASE("head locator: a second person further back", "[preprocess][locator]") {
  const cv::Point3f head(120, -40, 850);
  for (const float dz : {350.0f, 900.0f}) {
    const cv::Point3f other(-380, -120, head.z + dz);
    HeadScene s;
    s.add_person(other);
    s.add_person(head);
    s.set_face(head);
    INFO("second person " << dz << " mm behind");
    expect_face(s);
  }
}

TEST_CASE("head locator: frames with no head say so", "[preprocess][locator]") {
  SECTION("a torso whose head is above the image") {
    HeadScene s;
    const cv::Point3f head(0, -420, 800);  // above the top edge
    s.add_person(head);
    const std::string why = expect_no_face(s);
    CHECK_THAT(why, Catch::Contains("no head-shaped surface"));
  }
  SECTION("a torso cut from an unseen head by invalid depth") {
    HeadScene s;
    const cv::Point3f head(0, -100, 900);
    s.add_person(head);
    // The head and neck are invalid (hair, a dark hood): only the torso is left.
    s.holes.push_back({0, 0, 640, static_cast<int>(faceid::kDepthFy * (head.y + 215) / head.z +
                                                   faceid::kDepthCy)});
    const std::string why = expect_no_face(s);
    CHECK_THAT(why, Catch::Contains("wider than a head"));
  }
  SECTION("an empty room: wall and chair") {
    HeadScene s;
    s.boxes.push_back({{-250, -100, 1500}, {250, 700, 1550}});
    s.boxes.push_back({{-250, 250, 1200}, {250, 300, 1550}});
    expect_no_face(s);
  }
  SECTION("a hand alone") {
    HeadScene s;
    s.boxes.push_back({{-45, -100, 600}, {45, 90, 630}});
    s.boxes.push_back({{-35, 90, 610}, {35, 600, 680}});
    const std::string why = expect_no_face(s);
    CHECK_THAT(why, Catch::Contains("narrower than a head"));
  }
  SECTION("nothing in range") {
    HeadScene s;
    s.wall_mm = 0;
    const std::string why = expect_no_face(s);
    CHECK_THAT(why, Catch::Contains("no valid depth"));
  }
}
