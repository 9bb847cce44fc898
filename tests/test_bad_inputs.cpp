// The bad-input table of docs/reliability.md, end to end: each bad input is given to the real app
// (build/bin/...), which must print the exact message and exit with code 2 (bad input). The
// library-level tests of the same inputs live in test_depth_io, test_dataset, test_config and
// test_checkpoint; these check what a user sees.
#include "catch_torch.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "faceid/model/checkpoint.hpp"
#include "io_test_util.hpp"
#include "synth_fixture.hpp"

namespace fs = std::filesystem;
using faceid::test::run_app;
using faceid_test::make_scene;
using faceid_test::Scene;

namespace {

// ROOT/p/001_1_{c.png,d.dat}: one good frame of one person (`persons` folders when > 1).
fs::path one_frame_dataset(const std::string& name, int persons = 1) {
  const fs::path root = faceid::test::scratch_dir(name) / "data";
  for (int i = 0; i < persons; ++i) {
    faceid_test::write_scene_frame(root / fmt::format("p{}", i), 1, 1,
                                   make_scene(Scene{320, 200, 800 + 50 * i, false}));
  }
  return root;
}

// inspect_data on `root`: exit code, and its stdout + stderr.
int inspect(const fs::path& root, std::string* out) {
  return run_app("inspect_data", fmt::format("--threads 1 --root '{}'", root.string()), out);
}

// faceid_config on a config file NAME.yaml holding `yaml`; *path is set to the file.
int check_config(const std::string& name, const std::string& yaml, std::string* out,
                 std::string* path) {
  *path = (faceid::test::scratch_dir("bad-config-" + name) / (name + ".yaml")).string();
  faceid_test::write_bytes(*path, yaml);
  return run_app("faceid_config", fmt::format("--config '{}'", *path), out);
}

// A freshly initialised model of `variant` saved as a checkpoint (no training: loading is what
// is tested).
fs::path fresh_checkpoint(const fs::path& path, faceid::ModelVariant variant) {
  faceid::ModelConfig m;
  m.variant = variant;
  faceid::EmbeddingNet net(m, 128);
  faceid::save_checkpoint(path, net, nullptr, {});
  return path;
}

}  // namespace

TEST_CASE("bad inputs: damaged depth and colour files make inspect_data exit 2", "[bad_inputs]") {
  const fs::path root = one_frame_dataset("bad-frames");
  const fs::path dat = root / "p0" / "001_1_d.dat";
  const std::string good = faceid_test::read_text(dat);
  std::string out;

  // A truncated .dat: the first 100 of 480 rows.
  size_t cut = 0;
  for (int row = 0; row < 100; ++row) cut = good.find('\n', cut) + 1;
  faceid_test::write_bytes(dat, good.substr(0, cut));
  CHECK(inspect(root, &out) == 2);
  CHECK_THAT(out, Catch::Contains(dat.string() + ":101:1: expected 480 rows, got 100"));
  // Cut in the middle of a row.
  faceid_test::write_bytes(dat, good.substr(0, cut + 7));
  CHECK(inspect(root, &out) == 2);
  CHECK_THAT(out, Catch::Contains(dat.string() + ":101:") &&
                      Catch::Contains(": expected 640 values, got "));

  // A huge value and a NaN in the first row.
  const size_t tab = good.find('\t');
  faceid_test::write_bytes(dat, "99999" + good.substr(tab));
  CHECK(inspect(root, &out) == 2);
  CHECK_THAT(out, Catch::Contains(dat.string() + ":1:1: value 99999 outside [-1, 10000]"));
  faceid_test::write_bytes(dat, "nan" + good.substr(tab));
  CHECK(inspect(root, &out) == 2);
  CHECK_THAT(out, Catch::Contains(dat.string() + ":1:1: not an integer: 'nan'"));
  faceid_test::write_bytes(dat, good);

  // A 0-byte BMP as the colour image.
  const fs::path png = root / "p0" / "001_1_c.png";
  const fs::path bmp = root / "p0" / "001_1_c.bmp";
  fs::rename(png, root / "saved.png");
  faceid_test::write_bytes(bmp, "");
  CHECK(inspect(root, &out) == 2);
  CHECK_THAT(out, Catch::Contains(bmp.string() + ": empty file (0 bytes)"));
  fs::remove(bmp);
  fs::rename(root / "saved.png", png);

  // Wrong image sizes: a 320x240 depth PNG, and a .dat of 639 columns.
  fs::remove(dat);
  const fs::path depth_png = root / "p0" / "001_1_d.png";
  REQUIRE(cv::imwrite(depth_png.string(), cv::Mat(240, 320, CV_16UC1, cv::Scalar(900))));
  CHECK(inspect(root, &out) == 2);
  CHECK_THAT(out, Catch::Contains(depth_png.string() + ": depth image is 320x240, expected 640x480"));
  fs::remove(depth_png);
  const cv::Mat narrow(480, 639, CV_16SC1, cv::Scalar(900));
  faceid_test::write_bytes(dat, faceid_test::dat_text(narrow));
  CHECK(inspect(root, &out) == 2);
  CHECK_THAT(out, Catch::Contains(dat.string() + ":1:") &&
                      Catch::Contains(": expected 640 values, got 639"));

  // The good frame passes (the failures above are the inputs, not the fixture).
  faceid_test::write_bytes(dat, good);
  CHECK(inspect(root, &out) == 0);
}

TEST_CASE("bad inputs: empty root and one-person dataset exit 2", "[bad_inputs]") {
  const fs::path empty = faceid::test::scratch_dir("bad-empty-root");
  std::string out;
  CHECK(inspect(empty, &out) == 2);
  CHECK_THAT(out, Catch::Contains("inspect_data: error: " + empty.string() +
                                  ": dataset root has no person folders"));
  const std::string smoke = std::string(FACEID_SOURCE_DIR) + "/configs/smoke.yaml";
  const fs::path run = faceid::test::scratch_dir("bad-empty-root-run") / "run";
  CHECK(run_app("train", fmt::format("--config '{}' --set data.root='{}' --out '{}'", smoke,
                                     empty.string(), run.string()),
                &out) == 2);
  CHECK_THAT(out, Catch::Contains("train: error: " + empty.string() +
                                  ": dataset root has no person folders"));

  const fs::path one = one_frame_dataset("bad-one-person");
  CHECK(run_app("train", fmt::format("--config '{}' --set data.root='{}' --out '{}/run'", smoke,
                                     one.string(), one.parent_path().string()),
                &out) == 2);
  CHECK_THAT(out, Catch::Contains("train: error: dataset " + one.string() +
                                  " has 1 persons; training needs at least 2 training and 1 "
                                  "validation person"));
  CHECK(!fs::exists(one.parent_path() / "run" / "last.pt"));
}

TEST_CASE("bad inputs: config files with bad keys, types and values exit 2", "[bad_inputs]") {
  std::string out, path;
  CHECK(check_config("unknown", "train:\n  lrr: 0.1\n", &out, &path) == 2);
  CHECK_THAT(out, Catch::Contains(path + ":2: unknown key 'train.lrr'"));
  CHECK(check_config("type", "train:\n  epochs: three\n", &out, &path) == 2);
  CHECK_THAT(out, Catch::Contains(path + ":2: train.epochs: expected an integer, got 'three'"));
  CHECK(check_config("negative", "train:\n  lr: -0.001\n", &out, &path) == 2);
  CHECK_THAT(out, Catch::Contains(path + ":2: train.lr: expected a number > 0, got -0.001"));
  CHECK(check_config("nan", "train:\n  lr: .nan\n", &out, &path) == 2);
  CHECK_THAT(out, Catch::Contains(path + ":2: train.lr: expected a number, got '.nan'"));
  CHECK(check_config("huge", "train:\n  lr: 1e400\n", &out, &path) == 2);
  CHECK_THAT(out, Catch::Contains(path + ":2: train.lr: expected a number, got '1e400'"));
  CHECK(check_config("hugeint", "train:\n  epochs: 99999999999\n", &out, &path) == 2);
  CHECK_THAT(out, Catch::Contains(path + ":2: train.epochs: expected an integer, got '99999999999'"));
  CHECK(run_app("faceid_config", "--set train.lr=-1", &out) == 2);
  CHECK_THAT(out, Catch::Contains("--set train.lr=-1: train.lr: expected a number > 0, got -1"));
}

TEST_CASE("bad inputs: missing, corrupt and truncated checkpoints exit 2", "[bad_inputs]") {
  const fs::path root = one_frame_dataset("bad-checkpoints");
  const fs::path dir = root.parent_path();
  const fs::path good = fresh_checkpoint(dir / "good.pt", faceid::ModelVariant::squeezenet1_1);
  const std::string bytes = faceid_test::read_text(good);
  const fs::path bad = dir / "bad.pt";
  auto embed = [&](const fs::path& checkpoint, std::string* out) {
    return run_app("embed", fmt::format("--checkpoint '{}' --input '{}' --out '{}/e.csv'",
                                        checkpoint.string(), root.string(), dir.string()),
                   out);
  };
  std::string out;
  CHECK(embed(good, &out) == 0);

  CHECK(embed(dir / "missing.pt", &out) == 2);
  CHECK_THAT(out, Catch::Contains("embed: error: " + (dir / "missing.pt").string() +
                                  ": checkpoint not found"));

  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x01;
  faceid_test::write_bytes(bad, flipped);
  CHECK(embed(bad, &out) == 2);
  CHECK_THAT(out, Catch::Contains("embed: error: " + bad.string() +
                                  ": corrupt checkpoint (checksum mismatch)"));

  faceid_test::write_bytes(bad, bytes.substr(0, bytes.size() - 1000));
  CHECK(embed(bad, &out) == 2);
  CHECK_THAT(out, Catch::Contains(fmt::format(
                      "embed: error: {}: corrupt checkpoint (payload is {} bytes, header says {})",
                      bad.string(), bytes.size() - 1028, bytes.size() - 28)));

  faceid_test::write_bytes(bad, "");
  CHECK(embed(bad, &out) == 2);
  CHECK_THAT(out, Catch::Contains("embed: error: " + bad.string() +
                                  ": corrupt checkpoint (truncated: 0 bytes, the header alone is 28)"));
}

TEST_CASE("bad inputs: --init-from a checkpoint of the other variant exits 2", "[bad_inputs]") {
  const fs::path dir = faceid::test::scratch_dir("bad-variant");
  const fs::path beta = fresh_checkpoint(dir / "beta.pt", faceid::ModelVariant::faceid_beta);
  const std::string smoke = std::string(FACEID_SOURCE_DIR) + "/configs/smoke.yaml";
  std::string out;
  // The smoke data set, two frames a person: the refusal comes after loading the data.
  CHECK(run_app("train",
                fmt::format("--config '{}' --set data.root='{}' --set data.max_frames_per_person=2 "
                            "--set train.val_max_frames_per_person=2 --init-from '{}' --out '{}/run'",
                            smoke, faceid::test::smoke_dataset().string(), beta.string(),
                            dir.string()),
                &out) == 2);
  INFO(out);
  CHECK_THAT(out, Catch::Contains("train: error: " + beta.string() +
                                  ": model.variant is faceid_beta, expected squeezenet1_1"));
  CHECK(!fs::exists(dir / "run" / "last.pt"));
}

// ---- issue 16: paths of the wrong kind, repeated keys, late checks, damaged image headers ----

TEST_CASE("bad inputs: a folder as --config, repeated keys and sections exit 2", "[bad_inputs]") {
  const fs::path dir = faceid::test::scratch_dir("bad-config-kinds");
  std::string out, path;
  CHECK(run_app("faceid_config", fmt::format("--config '{}'", dir.string()), &out) == 2);
  CHECK_THAT(out, Catch::Contains(dir.string() + ": not a config file (a folder)"));
  CHECK(run_app("train", fmt::format("--config '{}' --out '{}/run'", dir.string(), dir.string()),
                &out) == 2);
  CHECK_THAT(out, Catch::Contains(dir.string() + ": not a config file (a folder)"));
  CHECK_FALSE(fs::exists(dir / "run"));

  CHECK(check_config("dupkey", "train:\n  lr: 0.1\n  lr: 0.5\n", &out, &path) == 2);
  CHECK_THAT(out, Catch::Contains(path + ":3: key 'train.lr' appears twice (first at line 2)"));
  CHECK(check_config("dupsection", "train:\n  lr: 0.1\ndata:\n  workers: 1\ntrain:\n  epochs: 2\n",
                     &out, &path) == 2);
  CHECK_THAT(out, Catch::Contains(path + ":5: section 'train' appears twice (first at line 1)"));
}

TEST_CASE("bad inputs: unusable output paths and models fail before any work", "[bad_inputs]") {
  const fs::path root = one_frame_dataset("bad-late-checks", 2);
  const fs::path dir = root.parent_path();
  const fs::path ckpt = fresh_checkpoint(dir / "model.pt", faceid::ModelVariant::squeezenet1_1);
  const fs::path file = dir / "a-file";
  faceid_test::write_bytes(file, "x");
  std::string out;

  CHECK(run_app("unlock_sim", fmt::format("--checkpoint '{}' --data '{}' --threshold 1 --attacks "
                                          "--pad-model /nonexistent --out '{}/u'",
                                          ckpt.string(), root.string(), dir.string()),
                &out) == 2);
  CHECK_THAT(out, Catch::Contains("unlock_sim: error: /nonexistent: liveness model not found "
                                  "(--pad-model)"));
  CHECK_FALSE(fs::exists(dir / "u" / "per_user.csv"));

  CHECK(run_app("unlock_sim", fmt::format("--checkpoint '{}' --data '{}' --threshold 1 --out "
                                          "'{}/u' --json '{}/dir/s.json'",
                                          ckpt.string(), root.string(), dir.string(), file.string()),
                &out) == 2);
  CHECK_THAT(out, Catch::Contains("unlock_sim: error: --json " + file.string() + "/dir/s.json"));
  CHECK_FALSE(fs::exists(dir / "u" / "per_user.csv"));
  CHECK(run_app("evaluate", fmt::format("--checkpoint '{}' --data '{}' --out '{}/e' --json "
                                        "'{}/dir/s.json'",
                                        ckpt.string(), root.string(), dir.string(), file.string()),
                &out) == 2);
  CHECK_THAT(out, Catch::Contains("evaluate: error: --json " + file.string() + "/dir/s.json: folder " +
                                  file.string() + "/dir: " + file.string() + " is a file, not a folder"));
  CHECK(fs::is_empty(dir / "e"));

  CHECK(run_app("train", fmt::format("--config '{}/configs/smoke.yaml' --set data.root='{}' "
                                     "--out '{}'",
                                     FACEID_SOURCE_DIR, faceid::test::smoke_dataset().string(),
                                     file.string()),
                &out) == 2);
  CHECK_THAT(out, Catch::Contains("train: error: --out " + file.string() +
                                  ": is a file, expected a run folder"));

  CHECK(run_app("embed", fmt::format("--checkpoint '{}' --input '{}' --out '{}/e.csv'",
                                     dir.string(), root.string(), dir.string()),
                &out) == 2);
  CHECK_THAT(out, Catch::Contains("embed: error: " + dir.string() +
                                  ": is a folder, expected a checkpoint file (--checkpoint)"));
}

TEST_CASE("bad inputs: an image header claiming 30000 x 30000 pixels is ours to report",
          "[bad_inputs]") {
  const fs::path root = one_frame_dataset("bad-image-header");
  const fs::path png = root / "p0" / "001_1_c.png";
  const cv::Mat colour = cv::imread(png.string(), cv::IMREAD_COLOR);
  REQUIRE(!colour.empty());
  cv::Mat bgra;
  cv::cvtColor(colour, bgra, cv::COLOR_BGR2BGRA);
  fs::remove(png);
  const fs::path bmp = root / "p0" / "001_1_c.bmp";
  faceid_test::write_bmp32(bmp, bgra);
  std::string out;
  REQUIRE(inspect(root, &out) == 0);
  std::string bytes = faceid_test::read_text(bmp);
  const uint32_t huge = 30000;
  std::memcpy(&bytes[18], &huge, 4);
  std::memcpy(&bytes[22], &huge, 4);
  faceid_test::write_bytes(bmp, bytes);
  CHECK(inspect(root, &out) == 2);
  CHECK_THAT(out, Catch::Contains(bmp.string() + ": damaged BMP header: it claims 30000 x 30000 "
                                                 "pixels (expected 1 to 16384 per side)"));
  CHECK(out.find("OpenCV") == std::string::npos);
  CHECK(out.find("Assertion") == std::string::npos);
}
