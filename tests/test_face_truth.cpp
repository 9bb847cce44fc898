// The synthetic generator's face ground truth files: round trip, bad files, the path rule, and
// the data set scanner and inspect_data ignoring them.
#include <catch2/catch.hpp>

#include "test_util.hpp"

#include <string>

#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/io/dataset.hpp"
#include "faceid/io/face_truth.hpp"
#include "faceid/synth/synth.hpp"
#include "io_test_util.hpp"
#include "synth_fixture.hpp"

namespace fs = std::filesystem;
using faceid::test::bad_input_message;
using faceid_test::TempDir;

namespace {

faceid::FaceTruth sample_truth() {
  faceid::FaceTruth t;
  t.has_face = true;
  t.face_center_px = {321.13f, 200.0625f};
  t.face_center_mm = {1.7f, -75.3f, 912.3456f};
  t.head_box_px = {270.5f, 120.25f, 101.3f, 140.75f};
  t.head_z_mm = 1004.1f;
  t.distractors = {"shadow", "hand", "off_centre"};
  return t;
}

}  // namespace

TEST_CASE("synth truth: round trip, exactly", "[synth][face_truth]") {
  TempDir tmp;
  const faceid::FaceTruth t = sample_truth();
  faceid::write_face_truth(tmp.path / "001_1_truth.yaml", t);
  const faceid::FaceTruth r = faceid::read_face_truth(tmp.path / "001_1_truth.yaml");
  CHECK(r.has_face);
  CHECK(r.face_center_px == t.face_center_px);
  CHECK(r.face_center_mm == t.face_center_mm);
  CHECK(r.head_box_px == t.head_box_px);
  CHECK(r.head_z_mm == t.head_z_mm);
  CHECK(r.distractors == t.distractors);

  faceid::FaceTruth empty;
  empty.distractors = {"chair", "empty"};
  faceid::write_face_truth(tmp.path / "e.yaml", empty);
  const faceid::FaceTruth e = faceid::read_face_truth(tmp.path / "e.yaml");
  CHECK_FALSE(e.has_face);
  CHECK(e.distractors == empty.distractors);
  faceid::FaceTruth none = sample_truth();
  none.distractors.clear();
  faceid::write_face_truth(tmp.path / "n.yaml", none);
  CHECK(faceid::read_face_truth(tmp.path / "n.yaml").distractors.empty());
}

TEST_CASE("synth truth: a bad file is bad input naming the file and the key", "[synth][face_truth]") {
  TempDir tmp;
  const fs::path path = tmp.path / "003_2_truth.yaml";
  faceid::write_face_truth(path, sample_truth());
  const std::string good = faceid::read_file(path);
  auto message_for = [&](const std::string& text) {
    faceid::write_file_atomic(path, text);
    return bad_input_message([&] { faceid::read_face_truth(path); });
  };
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  struct Case {
    std::string text, key;
  };
  const Case cases[] = {
      {replaced("face_center_mm: [", "face_center_mm: [oops, "), "face_center_mm"},
      {replaced("head_box_px: [270.5, ", "head_box_px: ["), "head_box_px"},
      {replaced("has_face: true", "has_face: maybe"), "has_face"},
      {replaced("head_z_mm: 1004.1", "head_z_mm: [1]"), "head_z_mm"},
      {replaced("shadow", "smoke"), "distractors"},
      {replaced("head_z_mm:", "head_zz_mm:"), "head_zz_mm"},  // unknown key (and head_z_mm missing)
      {replaced("face_center_px: [321.13, 200.0625]\n", ""), "face_center_px"},
      {replaced("face_center_mm: [1.7, -75.3, 912.3456]", "face_center_mm: [1.7, -75.3, -5]"), "face_center_mm"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const std::string msg = message_for(c.text);
    CHECK(msg.find(path.string()) != std::string::npos);
    CHECK(msg.find(c.key) != std::string::npos);
  }
  CHECK(message_for("[1, 2").find(path.string()) != std::string::npos);  // not YAML
  CHECK(message_for("").find(path.string()) != std::string::npos);       // not a map
  CHECK(bad_input_message([&] { faceid::read_face_truth(tmp.path / "missing.yaml"); })
            .find("missing.yaml") != std::string::npos);
}

TEST_CASE("synth truth: the path beside a frame", "[synth][face_truth]") {
  CHECK(faceid::face_truth_path("/d/p/001_1_c.bmp") == fs::path("/d/p/001_1_truth.yaml"));
  CHECK(faceid::face_truth_path("/d/p/017_3_d.dat") == fs::path("/d/p/017_3_truth.yaml"));
  CHECK(faceid::face_truth_path("p/002_2_d.png") == fs::path("p/002_2_truth.yaml"));
  CHECK(bad_input_message([] { faceid::face_truth_path("/d/p/notes.txt"); }).find("notes.txt") !=
        std::string::npos);
}

TEST_CASE("synth truth: the scanner and inspect_data ignore truth files", "[synth][face_truth][cli]") {
  TempDir tmp;
  faceid::SynthOptions o;
  o.out = tmp.path / "set";
  o.persons = 1;
  o.sessions = 1;
  o.poses = 2;
  o.seed = 4;
  o.compact = true;
  o.threads = 2;
  faceid::generate_synth_dataset(o);
  const fs::path person = o.out / faceid::synth_person_name(0);
  REQUIRE(fs::exists(person / "001_1_truth.yaml"));
  REQUIRE(fs::exists(person / "002_1_truth.yaml"));
  // The truth file holds what the renderer knew.
  const faceid::SynthFrame frame = faceid::render_synth_frame(4, 0, 1, 2);
  const faceid::FaceTruth t = faceid::read_face_truth(faceid::face_truth_path(person / "002_1_d.png"));
  CHECK(t.has_face == frame.truth.has_face);
  CHECK(t.face_center_mm == frame.truth.face_center_mm);
  CHECK(t.face_center_px == frame.truth.face_center_px);
  CHECK(t.head_box_px == frame.truth.head_box_px);
  CHECK(t.distractors == frame.truth.distractors);

  std::vector<faceid::DatasetIssue> issues;
  const faceid::Person p = faceid::scan_person(person, &issues);
  CHECK(issues.empty());
  CHECK(p.frames.size() == 2);
  const faceid::Dataset data = faceid::scan_dataset(o.out);  // strict: throws on any issue
  CHECK(data.frame_count() == 2);

  std::string output;
  const int code = faceid::test::run_app("inspect_data", "--root '" + o.out.string() + "'", &output);
  INFO(output);
  CHECK(code == 0);
  CHECK(output.find("bad files: 0") != std::string::npos);
  CHECK(output.find("truth") == std::string::npos);
}
