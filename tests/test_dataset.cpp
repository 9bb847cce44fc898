#include <catch2/catch.hpp>

#include "test_util.hpp"

#include "faceid/core/error.hpp"
#include "faceid/io/dataset.hpp"
#include "io_test_util.hpp"

using faceid::Dataset;
using faceid::Error;
using faceid_test::TempDir;
using faceid_test::write_bytes;
namespace fs = std::filesystem;

namespace {
using faceid::test::bad_input_message;


// Creates empty frame files: the scan looks at names only.
void touch(const fs::path& folder, std::initializer_list<const char*> names) {
  for (const char* n : names) write_bytes(folder / n, "x");
}

}  // namespace

TEST_CASE("dataset: frame names", "[io][dataset]") {
  int pose = 0, rep = 0;
  char kind = 0;
  std::string ext;
  REQUIRE(faceid::parse_frame_name("001_1_c.bmp", pose, rep, kind, ext));
  CHECK((pose == 1 && rep == 1 && kind == 'c' && ext == "bmp"));
  REQUIRE(faceid::parse_frame_name("017_3_d.dat", pose, rep, kind, ext));
  CHECK((pose == 17 && rep == 3 && kind == 'd' && ext == "dat"));
  REQUIRE(faceid::parse_frame_name("012_2_d.png", pose, rep, kind, ext));
  CHECK((pose == 12 && rep == 2 && kind == 'd' && ext == "png"));
  REQUIRE(faceid::parse_frame_name("005_1_c.PNG", pose, rep, kind, ext));
  CHECK(ext == "png");
  for (const char* bad : {"001_1_c.dat", "001_1_d.bmp", "01a_1_c.bmp", "001__c.bmp", "001_1_x.bmp",
                          "001_1_c", "001_1_c.bmp.bak", "_1_c.bmp", "001_1_cc.bmp", "README.txt",
                          "0000001_1_c.bmp"}) {
    INFO(bad);
    CHECK_FALSE(faceid::parse_frame_name(bad, pose, rep, kind, ext));
  }
}

TEST_CASE("dataset: VAP folder scan sorts persons and frames, ignores hidden files", "[io][dataset]") {
  TempDir tmp;
  const fs::path a = tmp.path / "(2012-05-16)(154211)";
  const fs::path b = tmp.path / "(2012-05-16)(153712)";
  touch(a, {"010_1_c.bmp", "010_1_d.dat", "002_3_c.bmp", "002_3_d.dat", "002_1_c.bmp",
            "002_1_d.dat", "001_2_c.png", "001_2_d.png", "README.txt", ".DS_Store", "._001_1_c.bmp"});
  touch(b, {"017_3_c.bmp", "017_3_d.dat"});
  touch(tmp.path / ".git", {"001_1_c.bmp"});  // hidden folder: not a person
  write_bytes(tmp.path / "notes.txt", "root-level file: ignored");

  const Dataset d = faceid::scan_dataset(tmp.path);
  CHECK(d.issues.empty());
  REQUIRE(d.persons.size() == 2);
  CHECK(d.persons[0].identity == "(2012-05-16)(153712)");
  CHECK(d.persons[1].identity == "(2012-05-16)(154211)");
  CHECK(d.frame_count() == 5);
  const auto& f = d.persons[1].frames;
  REQUIRE(f.size() == 4);
  const std::vector<std::pair<int, int>> order = {{1, 2}, {2, 1}, {2, 3}, {10, 1}};
  for (size_t i = 0; i < order.size(); ++i) {
    CHECK(f[i].pose == order[i].first);
    CHECK(f[i].repetition == order[i].second);
    CHECK(f[i].identity == "(2012-05-16)(154211)");
  }
  CHECK(f[0].color_path == a / "001_2_c.png");
  CHECK(f[0].depth_path == a / "001_2_d.png");
  CHECK(f[3].color_path == a / "010_1_c.bmp");
  CHECK(f[3].depth_path == a / "010_1_d.dat");
  REQUIRE(d.find("(2012-05-16)(153712)") != nullptr);
  CHECK(d.find("(2012-05-16)(153712)")->frames.at(0).pose == 17);
  CHECK(d.find("nobody") == nullptr);
}

TEST_CASE("dataset: missing partners and bad names, strict and lenient", "[io][dataset]") {
  TempDir tmp;
  const fs::path p = tmp.path / "alice";
  touch(p, {"001_1_c.bmp", "001_1_d.dat", "002_1_d.dat", "003_1_c.bmp", "04_1_c.bmp.dat",
            "4_1_colour.bmp"});
  fs::create_directories(tmp.path / "empty_person");
  const std::string colour_missing =
      (p / "002_1_d.dat").string() +
      ": colour file missing for depth file (expected 002_1_c.bmp or 002_1_c.png)";
  const std::string depth_missing =
      (p / "003_1_c.bmp").string() +
      ": depth file missing for colour file (expected 003_1_d.dat or 003_1_d.png)";
  const std::string bad_name_1 = (p / "04_1_c.bmp.dat").string() +
                                 ": badly named frame file (expected NNN_K_c.bmp|png or NNN_K_d.dat|png)";
  const std::string bad_name_2 = (p / "4_1_colour.bmp").string() +
                                 ": badly named frame file (expected NNN_K_c.bmp|png or NNN_K_d.dat|png)";
  const std::string empty = (tmp.path / "empty_person").string() + ": person folder has no frames";

  // Strict: the first issue (files are visited in name order) throws.
  CHECK(bad_input_message([&] { faceid::scan_dataset(tmp.path, true); }) == bad_name_1);

  const Dataset d = faceid::scan_dataset(tmp.path, false);
  REQUIRE(d.persons.size() == 1);
  CHECK(d.persons[0].identity == "alice");
  REQUIRE(d.persons[0].frames.size() == 1);
  CHECK(d.persons[0].frames[0].pose == 1);
  std::vector<std::string> messages;
  for (const auto& issue : d.issues) messages.push_back(issue.message);
  CHECK(messages == std::vector<std::string>{bad_name_1, bad_name_2, colour_missing, depth_missing, empty});
  CHECK(d.issues[2].file == p / "002_1_d.dat");

  std::vector<faceid::DatasetIssue> person_issues;
  const faceid::Person alice = faceid::scan_person(p, &person_issues);
  CHECK(alice.frames.size() == 1);
  CHECK(person_issues.size() == 4);
  fs::remove(p / "04_1_c.bmp.dat");
  fs::remove(p / "4_1_colour.bmp");
  CHECK(bad_input_message([&] { faceid::scan_person(p); }) == colour_missing);
}

TEST_CASE("dataset: duplicate colour files keep the VAP original", "[io][dataset]") {
  TempDir tmp;
  const fs::path p = tmp.path / "bob";
  touch(p, {"001_1_c.bmp", "001_1_c.png", "001_1_d.dat"});
  const Dataset d = faceid::scan_dataset(tmp.path, false);
  REQUIRE(d.issues.size() == 1);
  CHECK(d.issues[0].message ==
        (p / "001_1_c.png").string() + ": duplicate colour file for pose 1 repetition 1 (using 001_1_c.bmp)");
  REQUIRE(d.frame_count() == 1);
  CHECK(d.persons[0].frames[0].color_path == p / "001_1_c.bmp");
}

TEST_CASE("dataset: bad roots are errors naming the root", "[io][dataset]") {
  TempDir tmp;
  const fs::path missing = tmp.path / "nope";
  CHECK(bad_input_message([&] { faceid::scan_dataset(missing); }) ==
        missing.string() + ": dataset root does not exist");
  CHECK(bad_input_message([&] { faceid::scan_dataset(missing, false); }) ==
        missing.string() + ": dataset root does not exist");
  write_bytes(tmp.path / "file", "x");
  CHECK(bad_input_message([&] { faceid::scan_dataset(tmp.path / "file"); }) ==
        (tmp.path / "file").string() + ": dataset root is not a directory");
  const fs::path empty = tmp.path / "empty";
  fs::create_directories(empty / ".hidden");
  CHECK(bad_input_message([&] { faceid::scan_dataset(empty, false); }) ==
        empty.string() + ": dataset root has no person folders");
  const fs::path person = tmp.path / "person";
  touch(person, {"001_1_c.bmp", "001_1_d.dat"});
  CHECK(bad_input_message([&] { faceid::scan_dataset(person); }) ==
        person.string() +
            ": dataset root has no person folders (it holds frame files: pass the folder above "
            "the person folders)");
}

TEST_CASE("dataset: frame_ref_from_depth_path and load_frame", "[io][dataset]") {
  TempDir tmp;
  const fs::path p = tmp.path / "carol";
  faceid_test::Scene scene;
  faceid_test::write_scene_frame(p, 3, 2, faceid_test::make_scene(scene));
  const faceid::FrameRef ref = faceid::frame_ref_from_depth_path(p / "003_2_d.dat");
  CHECK(ref.identity == "carol");
  CHECK(ref.pose == 3);
  CHECK(ref.repetition == 2);
  CHECK(ref.color_path == p / "003_2_c.png");

  const faceid::Frame frame = faceid::load_frame(ref);
  CHECK(frame.color.type() == CV_8UC3);
  CHECK(frame.color.size() == cv::Size(640, 480));
  CHECK(frame.depth.mm.at<uint16_t>(scene.cy, scene.cx) == scene.front_mm);
  CHECK(frame.depth.mm.at<uint16_t>(5, 5) == 1500);
  CHECK(frame.ref.identity == "carol");

  touch(p, {"004_1_d.dat"});
  CHECK(bad_input_message([&] { faceid::frame_ref_from_depth_path(p / "004_1_d.dat"); }) ==
        (p / "004_1_d.dat").string() +
            ": colour file missing for depth file (expected 004_1_c.bmp or 004_1_c.png)");
  CHECK(bad_input_message([&] { faceid::frame_ref_from_depth_path(p / "003_2_c.png"); }) ==
        (p / "003_2_c.png").string() + ": not a depth file name (expected NNN_K_d.dat or NNN_K_d.png)");
  // load_frame reports the broken file by name.
  touch(p, {"004_1_c.bmp"});
  const faceid::FrameRef broken = faceid::frame_ref_from_depth_path(p / "004_1_d.dat");
  CHECK(bad_input_message([&] { faceid::load_frame(broken); }) ==
        (p / "004_1_d.dat").string() + ":1:1: not an integer: 'x'");
}
