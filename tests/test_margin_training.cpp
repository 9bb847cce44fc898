// Identity-scale training: the margin losses, the P x K sampler, compact crops, the classifier in
// training checkpoints only, the operating threshold and the shipped-model plumbing.
#include "catch_torch.hpp"

#include <cmath>
#include <cstdlib>
#include <set>

#include "faceid/core/app.hpp"
#include "faceid/data/frame_store.hpp"
#include "faceid/data/pair_sampler.hpp"
#include "faceid/core/error.hpp"
#include "faceid/runtime/embedder.hpp"
#include "faceid/eval/unlock_sim.hpp"
#include "faceid/model/loss.hpp"
#include "faceid/model/checkpoint.hpp"
#include "faceid/train/trainer.hpp"
#include "synth_fixture.hpp"
#include "test_util.hpp"

using namespace faceid;

namespace {

LossConfig margin_config(LossType type, double margin, double scale = 16.0) {
  LossConfig c;
  c.type = type;
  c.margin = margin;
  c.scale = scale;
  return c;
}

torch::Tensor unit_rows(torch::Tensor x) {
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

// The arcface config of the smoke tests: P x K batches of 4 identities x 2 frames.
std::vector<std::string> arcface_overrides(std::vector<std::string> extra) {
  std::vector<std::string> o = {"loss.type=arcface", "loss.margin=0.3", "loss.scale=16",
                                "loss.mining=none", "train.sampler=pk", "train.pk_frames=2",
                                "train.batch_pairs=4", "unlock.enroll_frames=3",
                                "unlock.min_enroll_frames=3", "unlock.min_pose_spread=0"};
  o.insert(o.end(), extra.begin(), extra.end());
  return o;
}

}  // namespace

TEST_CASE("margin loss: arcface and cosface logits by hand", "[loss]") {
  // Two classes along x and y; an embedding at angle theta from class 0 (in the x-y plane).
  const torch::Tensor w = torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}});
  const double theta = 0.4, m = 0.3, s = 16.0;
  const torch::Tensor e = torch::tensor({{static_cast<float>(std::cos(theta)),
                                          static_cast<float>(std::sin(theta))}});
  const torch::Tensor id = torch::tensor({int64_t{0}});
  auto expected = [&](double target) {  // cross-entropy of logits s*target, s*sin(theta)
    const double a = s * target, b = s * std::sin(theta);
    return -a + std::log(std::exp(a) + std::exp(b));
  };
  const double arc =
      margin_loss(e, id, w, margin_config(LossType::arcface, m, s)).loss.item<double>();
  CHECK(arc == Approx(expected(std::cos(theta + m))).epsilon(1e-4));
  const double cos =
      margin_loss(e, id, w, margin_config(LossType::cosface, m, s)).loss.item<double>();
  CHECK(cos == Approx(expected(std::cos(theta) - m)).epsilon(1e-4));
  // The classifier's rows are normalised inside: scaling a row changes nothing.
  const double scaled =
      margin_loss(e, id, w * 7.0, margin_config(LossType::arcface, m, s)).loss.item<double>();
  CHECK(scaled == Approx(arc).epsilon(1e-5));
  // A margin makes the loss larger than plain normalised softmax at the same point
  // (logit gaps 16 (cos 0.7 - sin 0.4) = 6.0 against 16 (cos 0.4 - sin 0.4) = 8.5).
  const double none =
      margin_loss(e, id, w, margin_config(LossType::cosface, 1e-9, s)).loss.item<double>();
  CHECK(arc > 5 * none);
}

TEST_CASE("margin loss: finite gradients at cos = +-1 and past pi - m", "[loss]") {
  const torch::Tensor w = torch::tensor({{1.0f, 0.0f}, {-1.0f, 0.0f}}).set_requires_grad(true);
  // Embedding 0 sits on its class (cos 1), embedding 1 opposite its class (cos -1, theta > pi - m).
  const torch::Tensor e = torch::tensor({{1.0f, 0.0f}, {1.0f, 0.0f}}).set_requires_grad(true);
  const torch::Tensor ids = torch::tensor({int64_t{0}, int64_t{1}});
  const LossOutput out = margin_loss(e, ids, w, margin_config(LossType::arcface, 0.5, 32.0));
  out.loss.backward();
  CHECK(std::isfinite(out.loss.item<double>()));
  CHECK(torch::isfinite(e.grad()).all().item<bool>());
  CHECK(torch::isfinite(w.grad()).all().item<bool>());
}

TEST_CASE("margin loss: gradient descent pulls each embedding to its class", "[loss]") {
  torch::manual_seed(3);
  const torch::Tensor w = unit_rows(torch::randn({5, 8}));
  torch::Tensor x = torch::randn({10, 8}).set_requires_grad(true);
  const torch::Tensor ids = torch::arange(10, torch::kInt64).remainder(5);
  torch::optim::SGD sgd({x}, torch::optim::SGDOptions(0.5));
  double first = 0, last = 0;
  for (int i = 0; i < 60; ++i) {
    const LossOutput out =
        margin_loss(unit_rows(x), ids, w, margin_config(LossType::arcface, 0.5, 16.0));
    if (i == 0) first = out.loss.item<double>();
    last = out.loss.item<double>();
    sgd.zero_grad();
    out.loss.backward();
    sgd.step();
  }
  CHECK(last < 0.2 * first);
  // Every embedding is now nearest to its own class.
  const auto nearest = torch::mm(unit_rows(x.detach()), w.t()).argmax(1);
  CHECK(torch::equal(nearest, ids));
}

TEST_CASE("config: margin losses need an angular margin and the P x K sampler", "[config]") {
  Config c;
  c.loss.type = LossType::arcface;
  c.train.sampler = SamplerKind::pk;
  // The contrastive default margin of 1.0 is not an arcface margin.
  CHECK_THAT(test::bad_input_message([&] { validate(c, "x.yaml"); }),
             Catch::Contains("loss.margin") && Catch::Contains("0.785"));
  c.loss.margin = 0.5;
  CHECK_NOTHROW(validate(c, "x.yaml"));
  c.train.sampler = SamplerKind::pairs;
  CHECK_THAT(test::bad_input_message([&] { validate(c, "x.yaml"); }),
             Catch::Contains("train.sampler") && Catch::Contains("pk"));
  c.train.sampler = SamplerKind::pk;
  c.loss.mining = Mining::batch_hard;
  CHECK_THAT(test::bad_input_message([&] { validate(c, "x.yaml"); }), Catch::Contains("loss.mining"));
  c.loss.mining = Mining::none;
  c.train.pk_frames = 3;
  CHECK_THAT(test::bad_input_message([&] { validate(c, "x.yaml"); }), Catch::Contains("even"));
  c.train.pk_frames = 6;
  c.train.batch_pairs = 32;  // 64 frames is not a multiple of 6
  CHECK_THAT(test::bad_input_message([&] { validate(c, "x.yaml"); }), Catch::Contains("multiple"));
  Config contrastive;
  contrastive.train.sampler = SamplerKind::pk;  // all genuine pairs: contrastive would collapse
  CHECK_THAT(test::bad_input_message([&] { validate(contrastive, "x.yaml"); }),
             Catch::Contains("batch_all"));
  CHECK_THAT(test::bad_input_message([] { parse_config("loss:\n  type: triplet\n", "t.yaml"); }),
             Catch::Contains("t.yaml:2") && Catch::Contains("loss.type"));
}

TEST_CASE("pk sampler: P distinct identities x K frames, deterministic, sharded exactly",
          "[sampler]") {
  // 7 persons: 5 with 6 frames, one with 3 (fewer than K), one with 1 (never drawn).
  std::vector<StoredFrame> frames;
  std::vector<std::string> persons;
  const int counts[] = {6, 6, 6, 3, 6, 1, 6};
  for (int p = 0; p < 7; ++p) {
    persons.push_back(fmt::format("p{}", p));
    for (int k = 0; k < counts[p]; ++k) {
      StoredFrame f;
      f.person = p;
      f.crop.size = 2;
      f.crop.chw.assign(kChannels * 4, 0.0f);
      frames.push_back(f);
    }
  }
  const FrameStore store(persons, frames);
  TrainConfig t;
  t.sampler = SamplerKind::pk;
  t.pk_frames = 4;
  t.batch_pairs = 6;  // 12 frames: 3 identities
  PairSampler sampler(store, t);
  std::set<int> drawn;
  for (int64_t b = 0; b < 40; ++b) {
    const auto batch = sampler.batch(2, b);
    REQUIRE(batch.size() == 6);
    std::set<int> ids;
    for (size_t i = 0; i < batch.size(); ++i) {
      const PairIndex& p = batch[i];
      CHECK(p.same == 1.0f);
      CHECK(p.person_a == p.person_b);
      CHECK(p.a != p.b);
      CHECK(store.frame(static_cast<size_t>(p.a)).person == p.person_a);
      CHECK(store.frame(static_cast<size_t>(p.b)).person == p.person_a);
      // K / 2 = 2 consecutive pairs per identity.
      CHECK(p.person_a == batch[i - i % 2].person_a);
      ids.insert(p.person_a);
      drawn.insert(p.person_a);
    }
    CHECK(ids.size() == 3);  // distinct identities
    if (batch[0].person_a != 3) {  // a person with >= K frames gives K distinct frames
      std::set<int> f = {batch[0].a, batch[0].b, batch[1].a, batch[1].b};
      CHECK(f.size() == 4);
    }
  }
  CHECK(drawn.count(5) == 0);  // one frame: no genuine pair
  CHECK(drawn.size() == 6);
  // The same batch again, and the two shards of a 2-rank run are the global batch's halves.
  CHECK(sampler.batch(2, 7).front().a == PairSampler(store, t).batch(2, 7).front().a);
  TrainConfig half = t;
  half.batch_pairs = 4;  // per rank: 2 identities; global 8 pairs = 4 identities
  PairSampler r0(store, half), r1(store, half);
  r0.shard(0, 2);
  r1.shard(1, 2);
  TrainConfig whole = t;
  whole.batch_pairs = 8;
  const auto global = PairSampler(store, whole).batch(1, 3);
  auto joined = r0.batch(1, 3);
  const auto second = r1.batch(1, 3);
  joined.insert(joined.end(), second.begin(), second.end());
  REQUIRE(joined.size() == global.size());
  for (size_t i = 0; i < global.size(); ++i) {
    CHECK(joined[i].a == global[i].a);
    CHECK(joined[i].b == global[i].b);
  }
}

TEST_CASE("frame store: compact crops decode within 1/510 of the colour range and 1e-3 depth",
          "[frame_store]") {
  DataConfig data;
  data.root = test::smoke_dataset().string();
  data.cache_dir.clear();
  PreprocessConfig pp;
  pp.input_size = 48;
  const Dataset dataset = scan_dataset(data.root, true);
  const std::vector<std::string> persons = {dataset.persons.at(0).identity, dataset.persons.at(1).identity};
  const FrameStore full = FrameStore::load(dataset, persons, data, pp);
  data.compact_crops = true;
  const FrameStore compact = FrameStore::load(dataset, persons, data, pp);
  REQUIRE(compact.compact());
  REQUIRE(!full.compact());
  REQUIRE(compact.size() == full.size());
  REQUIRE(full.size() > 4);
  CHECK(compact.memory_bytes() * 16 == full.memory_bytes() * 5);  // (3 + 2) / (4 * 4) bytes
  std::vector<float> s1, s2;
  const size_t plane = static_cast<size_t>(48) * 48;
  double worst_colour = 0, worst_depth = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    const float* a = full.crop_data(i, s1);
    const float* b = compact.crop_data(i, s2);
    for (int c = 0; c < kChannels; ++c) {
      for (size_t k = 0; k < plane; ++k) {
        const double d = std::abs(a[c * plane + k] - b[c * plane + k]);
        if (c < 3) {
          worst_colour = std::max(worst_colour, d * kColorStd[c]);  // in [0, 1] intensity units
        } else {
          worst_depth = std::max(worst_depth, d / std::max(1e-3, std::abs(double(a[c * plane + k]))));
        }
      }
    }
  }
  CHECK(worst_colour <= 0.5 / 255 + 1e-6);  // (exact here: the crops' colour is byte-valued)
  CHECK(worst_depth > 0);  // it does store half floats
  CHECK(worst_depth < 1e-3);
}

TEST_CASE("operating point: the largest threshold at the target FAR, with the rule of three",
          "[unlock_sim]") {
  // 4 persons x 4 frames in 2-d: each person's frames near its own direction.
  const int persons = 4, per = 4;
  Embeddings e(persons * per, 2);
  std::vector<int> labels;
  std::vector<FrameRef> frames;
  for (int p = 0; p < persons; ++p) {
    for (int k = 0; k < per; ++k) {
      const double a = p * M_PI / 2 + (k - 1.5) * 0.05;
      e.row(p * per + k) << static_cast<float>(std::cos(a)), static_cast<float>(std::sin(a));
      labels.push_back(p);
      FrameRef f;
      f.pose = k + 1;
      f.repetition = 1;
      frames.push_back(f);
    }
  }
  UnlockConfig u;
  u.enroll_frames = 2;
  u.min_enroll_frames = 2;
  u.min_pose_spread = 0;
  const OperatingPoint op = calibrate_operating_point(e, labels, frames, persons, u, 1e-3);
  CHECK(op.enrolled == 4);
  CHECK(op.genuine_attempts == 4 * 2);
  CHECK(op.impostor_attempts == 4 * 12);
  CHECK(op.resolvable_far == Approx(3.0 / 48));
  CHECK(op.far == 0.0);
  CHECK(op.frr == 0.0);  // genuine attempts lie within 0.1 rad, impostors at >= pi/2 - 0.15
  CHECK(op.threshold > 0.1);
  CHECK(op.threshold < 2 * std::sin((M_PI / 2 - 0.15) / 2) + 1e-6);  // nearest impostor chord
}

TEST_CASE("train: arcface over P x K batches learns, resumes exactly, and ships without its "
          "classifier", "[train]") {
  const Config config =
      test::smoke_config(arcface_overrides({"train.epochs=2", "train.steps_per_epoch=3"}));
  const auto full_dir = test::scratch_dir("arcface-full");
  const TrainResult full = run_training(config, test::quiet_options(full_dir));
  REQUIRE(full.step_losses.size() == 6);
  for (double l : full.step_losses) CHECK(std::isfinite(l));

  // Resume after epoch 1: the classifier and its optimiser state come back, losses bit-exact.
  const auto dir = test::scratch_dir("arcface-resume");
  const std::vector<double> joined = test::losses_with_resume(config, dir);
  REQUIRE(joined.size() == full.step_losses.size());
  for (size_t i = 0; i < joined.size(); ++i) {
    INFO("step " << i);
    CHECK(joined[i] == full.step_losses[i]);
  }

  // The training checkpoint holds the classifier (one row per training identity); model.pt does
  // not, nor the optimiser, and inference loads it with the operating threshold as default.
  const torch::Tensor classifier = load_classifier(full_dir / "last.pt");
  REQUIRE(classifier.defined());
  CHECK(classifier.size(0) == static_cast<int64_t>(full.train_persons.size()));
  CHECK(classifier.size(1) == config.model.embedding_dim);
  const auto model = full_dir / "model.pt";
  REQUIRE(std::filesystem::exists(model));
  CHECK_FALSE(load_classifier(model).defined());
  const CheckpointMeta meta = read_checkpoint_meta(model);
  CHECK(meta.optimizer.empty());
  CHECK(std::filesystem::file_size(model) < std::filesystem::file_size(full_dir / "best.pt") / 2);
  CHECK(std::isfinite(meta.operating_threshold));
  CHECK(meta.target_far == config.unlock.target_far);
  CHECK(meta.resolvable_far > 0);
  CHECK(meta.preprocess_version == kPreprocessVersion);
  const Embedder embedder(model, "cpu", 1);
  std::string source;
  CHECK(embedder.match_threshold(&source) == meta.operating_threshold);
  CHECK_THAT(source, Catch::Contains("operating"));
  CHECK(model_fingerprint(model) == model_fingerprint(full_dir / "best.pt"));

  // A resume whose checkpoint lacks the classifier is refused, naming it.
  const Config contrastive = test::smoke_config({"train.epochs=2", "train.steps_per_epoch=1"});
  const auto cdir = test::scratch_dir("arcface-from-contrastive");
  TrainOptions c1 = test::quiet_options(cdir);
  c1.stop_after_epochs = 1;
  run_training(contrastive, c1);
  TrainOptions c2 = test::quiet_options(cdir);
  c2.overwrite = false;
  c2.resume = cdir / "last.pt";
  CHECK_THAT(test::bad_input_message([&] { run_training(config, c2); }),
             Catch::Contains("classifier") && Catch::Contains("last.pt"));
}

TEST_CASE("train: train.init_from starts from a model file; --init-from overrides it", "[train]") {
  const auto src = test::scratch_dir("init-src");
  run_training(test::smoke_config({"train.epochs=1", "train.steps_per_epoch=1"}), test::quiet_options(src));
  const auto dir = test::scratch_dir("init-dst");
  std::vector<std::string> logs;
  TrainOptions o = test::quiet_options(dir);
  o.log = [&logs](const std::string& s) { logs.push_back(s); };
  const Config config = test::smoke_config(
      {"train.epochs=1", "train.steps_per_epoch=1", "train.init_from=" + (src / "model.pt").string()});
  run_training(config, o);
  CHECK(std::count_if(logs.begin(), logs.end(), [&](const std::string& s) {
          return s.find("initialised weights from " + (src / "model.pt").string()) != std::string::npos;
        }) == 1);
  const Config missing = test::smoke_config(
      {"train.epochs=1", "train.steps_per_epoch=1", "train.init_from=" + (dir / "nope.pt").string()});
  CHECK_THAT(test::bad_input_message([&] { run_training(missing, test::quiet_options(dir)); }),
             Catch::Contains("nope.pt"));
  TrainOptions cli = test::quiet_options(dir);
  cli.init_from = src / "best.pt";  // --init-from wins over the config key
  CHECK_NOTHROW(run_training(missing, cli));
}

TEST_CASE("embedder: a model of another preprocessing version is refused by name", "[checkpoint]") {
  const auto dir = test::scratch_dir("pp-version");
  run_training(test::smoke_config({"train.epochs=1", "train.steps_per_epoch=1"}), test::quiet_options(dir));
  LoadedCheckpoint ck = load_checkpoint(dir / "model.pt");
  CheckpointMeta meta = ck.meta;
  meta.preprocess_version = kPreprocessVersion - 1;
  save_checkpoint(dir / "old.pt", ck.model, nullptr, meta);
  const std::string msg = test::bad_input_message([&] { Embedder e(dir / "old.pt", "cpu", 1); });
  CHECK_THAT(msg, Catch::Contains("old.pt") &&
                      Catch::Contains(fmt::format("version {}", kPreprocessVersion - 1)));
}

TEST_CASE("apps: without --checkpoint the shipped model is used, and its absence is exit 2",
          "[apps]") {
  const auto dir = test::scratch_dir("shipped-default");
  run_training(test::smoke_config({"train.epochs=1", "train.steps_per_epoch=1",
                                   "unlock.enroll_frames=3", "unlock.min_enroll_frames=3",
                                   "unlock.min_pose_spread=0"}),
               test::quiet_options(dir));
  const std::string data = test::smoke_dataset().string();
  std::string out;
  CHECK(test::run_app("embed", fmt::format("--input {} --out {}/e.csv", data, dir.string()), &out,
                      fmt::format("FACEID_MODEL={}/model.pt", dir.string())) == 0);
  CHECK_THAT(out, Catch::Contains("using the shipped model " + (dir / "model.pt").string()));
  CHECK(std::filesystem::exists(dir / "e.csv"));
  CHECK(test::run_app("unlock_sim", fmt::format("--data {} --enroll-frames 3 --out {}/u", data, dir.string()),
                      &out, fmt::format("FACEID_MODEL={}/model.pt", dir.string())) == 0);
  CHECK_THAT(out, Catch::Contains("operating threshold"));
  CHECK(test::run_app("embed", fmt::format("--input {} --out {}/f.csv", data, dir.string()), &out,
                      fmt::format("FACEID_MODEL={}/none.pt", dir.string())) == 2);
  CHECK_THAT(out, Catch::Contains("none.pt") && Catch::Contains("--checkpoint"));
  CHECK_FALSE(std::filesystem::exists(dir / "f.csv"));
}
