#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "faceid/io/face_truth.hpp"
#include "io_test_util.hpp"
#include "synth_fixture.hpp"

using faceid_test::make_scene;
using faceid_test::read_text;
using faceid_test::Scene;
using faceid_test::TempDir;
namespace fs = std::filesystem;

namespace {

struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs inspect_data with `args`, capturing stdout and stderr into files of `tmp`.
Run inspect(const TempDir& tmp, const std::string& args) {
  const fs::path out = tmp.path / "stdout.txt";
  const fs::path err = tmp.path / "stderr.txt";
  const std::string cmd = fmt::format("'{}/inspect_data' {} >'{}' 2>'{}'", FACEID_BIN_DIR, args,
                                      out.string(), err.string());
  const int status = std::system(cmd.c_str());
  Run r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

// Two persons, two frames each: .dat + PNG colour, and one 16-bit PNG depth + 32-bit BMP colour.
fs::path write_small_dataset(const TempDir& tmp) {
  const fs::path root = tmp.path / "vap";
  faceid_test::write_scene_frame(root / "(2012-05-16)(154211)", 1, 1, make_scene(Scene{320, 200, 800, false}));
  faceid_test::write_scene_frame(root / "(2012-05-16)(154211)", 2, 1, make_scene(Scene{300, 210, 850, false}));
  faceid_test::write_scene_frame(root / "bob", 1, 1, make_scene(Scene{340, 190, 900, false}));
  const faceid::Frame f = make_scene(Scene{330, 220, 1000, false});
  REQUIRE(cv::imwrite((root / "bob" / "001_2_d.png").string(), f.depth.mm));
  cv::Mat big, bgra;
  cv::resize(f.color, big, cv::Size(1280, 960), 0, 0, cv::INTER_NEAREST);
  cv::cvtColor(big, bgra, cv::COLOR_BGR2BGRA);
  faceid_test::write_bmp32(root / "bob" / "001_2_c.bmp", bgra);
  return root;
}

}  // namespace

TEST_CASE("inspect_data: --help and bad flags", "[inspect_data][cli]") {
  TempDir tmp;
  const Run help = inspect(tmp, "--help");
  CHECK(help.code == 0);
  CHECK_THAT(help.out, Catch::Contains("--root") && Catch::Contains("--preview"));
  const Run bad = inspect(tmp, "--root x --frobnicate");
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Catch::Contains("--frobnicate"));
  const Run no_root = inspect(tmp, "");
  CHECK(no_root.code == 2);
  const Run missing = inspect(tmp, fmt::format("--root '{}'", (tmp.path / "nope").string()));
  CHECK(missing.code == 2);
  CHECK_THAT(missing.err, Catch::Contains((tmp.path / "nope").string() + ": dataset root does not exist"));
}

TEST_CASE("inspect_data: a clean folder is reported with exit 0 and a preview", "[inspect_data][cli]") {
  TempDir tmp;
  const fs::path root = write_small_dataset(tmp);
  const fs::path sheet = tmp.path / "sheet.png";
  const Run r = inspect(tmp, fmt::format("--root '{}' --preview '{}' --threads 2", root.string(),
                                         sheet.string()));
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("(2012-05-16)(154211)") && Catch::Contains("bob"));
  CHECK_THAT(r.out, Catch::Contains("total: 2 persons, 4 frames"));
  CHECK_THAT(r.out, Catch::Contains("no face found: 0 frames"));
  CHECK_THAT(r.out, Catch::Contains("bad files: 0"));
  CHECK_THAT(r.out, Catch::Contains("invalid depth: 0.0% of loaded pixels"));
  const cv::Mat img = cv::imread(sheet.string(), cv::IMREAD_UNCHANGED);
  REQUIRE_FALSE(img.empty());
  CHECK(img.type() == CV_8UC3);
  CHECK(img.rows == 2 * (128 + 4));
  // The first tile of the first person holds a crop, not the background.
  const cv::Scalar mean = cv::mean(img(cv::Rect(260, 2, 256, 128)));
  CHECK(mean[0] + mean[1] + mean[2] > 3 * 40);
  for (const auto& e : fs::directory_iterator(tmp.path)) {
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);  // no temp left
  }
}

TEST_CASE("inspect_data: every bad file is listed and the exit code is 2", "[inspect_data][cli]") {
  TempDir tmp;
  const fs::path root = write_small_dataset(tmp);
  const fs::path bob = root / "bob";
  faceid_test::write_bytes(bob / "002_1_d.dat", "1\t2\tbad\n");
  faceid_test::write_bytes(bob / "002_1_c.bmp", "");
  faceid_test::write_bytes(bob / "003_1_d.dat", "1\n");  // no colour partner
  // A frame without a face: all depth invalid.
  faceid::Frame empty = make_scene(Scene{});
  empty.depth.mm.setTo(0);
  faceid_test::write_scene_frame(bob, 4, 1, empty);
  const Run r = inspect(tmp, fmt::format("--root '{}'", root.string()));
  INFO(r.out << r.err);
  CHECK(r.code == 2);
  CHECK_THAT(r.out, Catch::Contains("bad files: 3"));
  CHECK_THAT(r.out, Catch::Matches("(.|\n)*\nbob +4 +33\\.3% +1 +3\n(.|\n)*"));
  CHECK_THAT(r.out, Catch::Contains((bob / "002_1_d.dat").string() + ":1:5: not an integer: 'bad'"));
  CHECK_THAT(r.out, Catch::Contains((bob / "002_1_c.bmp").string() + ": empty file (0 bytes)"));
  CHECK_THAT(r.out, Catch::Contains((bob / "003_1_d.dat").string() + ": colour file missing for depth file"));
  CHECK_THAT(r.out, Catch::Contains("no face found: 1 frames"));
  CHECK_THAT(r.out, Catch::Contains((bob / "004_1_d.dat").string() + ": no valid depth in [300, 2500] mm"));
  CHECK_THAT(r.err, Catch::Contains("3 bad file(s)"));
}

TEST_CASE("inspect_data: --preprocess-config selects the preprocessing", "[inspect_data][cli]") {
  TempDir tmp;
  const fs::path root = write_small_dataset(tmp);
  faceid_test::write_bytes(tmp.path / "cfg.yaml", "preprocess:\n  crop: fixed\n  input_size: 64\n");
  const fs::path sheet = tmp.path / "fixed.png";
  const Run r = inspect(tmp, fmt::format("--root '{}' --preprocess-config '{}' --preview '{}'",
                                         root.string(), (tmp.path / "cfg.yaml").string(),
                                         sheet.string()));
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  const cv::Mat img = cv::imread(sheet.string());
  REQUIRE_FALSE(img.empty());
  CHECK(img.rows == 2 * (64 + 4));
  faceid_test::write_bytes(tmp.path / "bad.yaml", "preprocess:\n  crop: sideways\n");
  const Run bad = inspect(tmp, fmt::format("--root '{}' --preprocess-config '{}'", root.string(),
                                           (tmp.path / "bad.yaml").string()));
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Catch::Contains("preprocess.crop"));
  const Run jpg = inspect(tmp, fmt::format("--root '{}' --preview x.jpg", root.string()));
  CHECK(jpg.code == 2);
  CHECK_THAT(jpg.err, Catch::Contains("--preview: expected a .png path, got 'x.jpg'"));
}

TEST_CASE("inspect_data: every frame without a face is counted and explained, never cropped",
          "[inspect_data][cli][locator]") {
  // The generator's default distractors plus 10% empty scenes, with ground truth per frame.
  const fs::path root = faceid::test::distractor_dataset();
  std::vector<std::string> empty;
  for (const auto& person : fs::directory_iterator(root)) {
    if (!person.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(person.path())) {
      const std::string name = f.path().filename().string();
      if (name.size() < 11 || name.compare(name.size() - 11, 11, "_truth.yaml") != 0) continue;
      if (!faceid::read_face_truth(f.path()).has_face) {
        empty.push_back(person.path().filename().string() + "/" + name.substr(0, 5));
      }
    }
  }
  REQUIRE(!empty.empty());  // the set has scenes without a person (seed 12: checked)
  TempDir tmp;
  const Run r = inspect(tmp, fmt::format("--root '{}' --threads 2", root.string()));
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  // Each empty scene is listed as "no face" with the locator's reason.
  for (const std::string& frame : empty) {
    CHECK_THAT(r.out, Catch::Contains(frame + "_d.png: no "));
  }
  // The count line and the grouped reasons.
  CHECK_THAT(r.out, Catch::Contains("no face found: "));
  CHECK_THAT(r.out, Catch::Contains(" x no "));
}
