#include "catch_torch.hpp"

#include <fstream>

#include "faceid/core/error.hpp"
#include "faceid/model/checkpoint.hpp"
#include "faceid/train/trainer.hpp"
#include "synth_fixture.hpp"

using namespace faceid;

namespace {
double mean(const std::vector<double>& v, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += v[i];
  return s / static_cast<double>(to - from);
}
}  // namespace

TEST_CASE("train: learning-rate schedules", "[train]") {
  TrainConfig t;
  t.lr = 0.1;
  t.epochs = 4;
  t.steps_per_epoch = 10;
  t.warmup_epochs = 1;
  t.schedule = faceid::Schedule::cosine;
  CHECK(learning_rate_at(t, 0) == Approx(0.01));
  CHECK(learning_rate_at(t, 9) == Approx(0.1));
  CHECK(learning_rate_at(t, 10) == Approx(0.1));
  CHECK(learning_rate_at(t, 25) == Approx(0.05));
  CHECK(learning_rate_at(t, 40) == Approx(0.0).margin(1e-12));
  t.schedule = faceid::Schedule::step;
  t.warmup_epochs = 0;
  t.step_epochs = 2;
  t.step_gamma = 0.5;
  CHECK(learning_rate_at(t, 19) == Approx(0.1));
  CHECK(learning_rate_at(t, 20) == Approx(0.05));
  t.schedule = faceid::Schedule::constant;
  CHECK(learning_rate_at(t, 33) == Approx(0.1));
}

TEST_CASE("train: a short smoke run lowers the loss and writes the run folder", "[train]") {
  const auto dir = test::scratch_dir("train-smoke");
  const Config config = test::smoke_config({"train.epochs=3", "train.steps_per_epoch=6"});
  const TrainResult r = run_training(config, test::quiet_options(dir));
  REQUIRE(r.step_losses.size() == 18);
  CHECK(mean(r.step_losses, 12, 18) < mean(r.step_losses, 0, 6));
  REQUIRE(r.epochs.size() == 3);
  CHECK(r.epochs.back().auc > 0.5);
  CHECK(std::filesystem::exists(dir / "config.yaml"));
  CHECK(std::filesystem::exists(dir / "split.yaml"));
  CHECK(std::filesystem::exists(dir / "last.pt"));
  CHECK(std::filesystem::exists(dir / "best.pt"));
  std::ifstream csv(dir / "metrics.csv");
  std::string header, line;
  std::getline(csv, header);
  CHECK(header == metrics_csv_header());
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  CHECK(rows == 3);
  // The resolved config travels into the run folder and the checkpoint.
  const CheckpointMeta meta = read_checkpoint_meta(dir / "last.pt");
  CHECK(meta.config_yaml == to_yaml(config));
  CHECK(meta.epoch == 3);
  CHECK(meta.step == 18);
  CHECK(std::isfinite(meta.eer_threshold));
  CHECK(meta.metrics.count("val_eer") == 1);
  // Validation persons are disjoint from training persons.
  for (const auto& v : r.val_persons) {
    CHECK(std::find(r.train_persons.begin(), r.train_persons.end(), v) == r.train_persons.end());
  }
}

TEST_CASE("train: --resume continues with exactly the same losses", "[train]") {
  const std::vector<std::string> extra = {"train.epochs=3", "train.steps_per_epoch=3",
                                          "data.workers=2", "model.dropout=0.3"};
  const Config config = test::smoke_config(extra);
  const auto full_dir = test::scratch_dir("train-resume-full");
  const TrainResult full = run_training(config, test::quiet_options(full_dir));
  REQUIRE(full.step_losses.size() == 9);

  const std::vector<double> joined =
      test::losses_with_resume(config, test::scratch_dir("train-resume-split"));
  REQUIRE(joined.size() == 9);  // 3 steps, then 6 after --resume
  for (size_t i = 0; i < joined.size(); ++i) {
    INFO("step " << i);
    CHECK(joined[i] == full.step_losses[i]);  // bit-exact on CPU
  }
}

TEST_CASE("train: refuses to overwrite a run and refuses an --init-from of the other variant",
          "[train]") {
  const auto dir = test::scratch_dir("train-guard");
  const Config config = test::smoke_config({"train.epochs=1", "train.steps_per_epoch=1"});
  run_training(config, test::quiet_options(dir));
  TrainOptions again = test::quiet_options(dir);
  again.overwrite = false;
  CHECK_THROWS_WITH(run_training(config, again), Catch::Contains("already holds a run"));

  const Config beta = test::smoke_config(
      {"train.epochs=1", "train.steps_per_epoch=1", "model.variant=faceid_beta"});
  TrainOptions init = test::quiet_options(test::scratch_dir("train-guard-beta"));
  init.init_from = dir / "best.pt";
  try {
    run_training(beta, init);
    FAIL("expected a refusal");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::bad_input);
    CHECK_THAT(e.what(), Catch::Contains("variant"));
  }
}

TEST_CASE("train: stops when too many frames have no face, and says where to look", "[train]") {
  // The distractor set has ~10% empty scenes: more than the default 5% without a face.
  const std::string root = "data.root=" + test::distractor_dataset().string();
  const Config config = test::smoke_config({root, "train.epochs=1", "train.steps_per_epoch=1"});
  const auto dir = test::scratch_dir("train-no-face");
  try {
    run_training(config, test::quiet_options(dir));
    FAIL("expected a refusal");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::bad_input);
    CHECK_THAT(e.what(), Catch::Contains("no face found in") &&
                             Catch::Contains("data.max_no_face_fraction = 5.0%") &&
                             Catch::Contains("inspect_data --root"));
  }
  CHECK_FALSE(std::filesystem::exists(dir / "last.pt"));
  // With a looser bound the same set trains (the frames without a face are skipped).
  const Config loose = test::smoke_config(
      {root, "train.epochs=1", "train.steps_per_epoch=1", "data.max_no_face_fraction=0.5"});
  const TrainResult r = run_training(loose, test::quiet_options(test::scratch_dir("train-no-face-ok")));
  CHECK(r.step_losses.size() == 1);
}
