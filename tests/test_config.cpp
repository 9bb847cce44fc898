#include <catch2/catch.hpp>

#include <filesystem>

#include "test_util.hpp"

#include <fstream>
#include <limits>
#include <sstream>

#include "faceid/core/config.hpp"
#include "faceid/core/error.hpp"

using faceid::Config;
using faceid::Error;
using faceid::parse_config;

namespace {
const auto& message_of = faceid::test::bad_input_message;
}  // namespace

TEST_CASE("config: defaults and a valid file") {
  const Config c = parse_config("train:\n  lr: 0.01\n  epochs: 3\nmodel:\n  variant: faceid_beta\n",
                                "t.yaml");
  CHECK(c.train.lr == Approx(0.01));
  CHECK(c.train.epochs == 3);
  CHECK(c.model.variant == faceid::ModelVariant::faceid_beta);
  CHECK(c.model.embedding_dim == 128);  // default kept
  CHECK(c.loss.margin == Approx(1.0));
}

TEST_CASE("config: errors name the file, line and key path") {
  CHECK(message_of([] { parse_config("train:\n  lr: -1\n", "cfg.yaml"); }) ==
        "cfg.yaml:2: train.lr: expected a number > 0, got -1");
  CHECK(message_of([] { parse_config("train:\n  lrr: 1\n", "cfg.yaml"); }) ==
        "cfg.yaml:2: unknown key 'train.lrr'");
  CHECK(message_of([] { parse_config("trian:\n  lr: 1\n", "cfg.yaml"); }) ==
        "cfg.yaml:1: unknown section 'trian'");
  CHECK(message_of([] { parse_config("train:\n  epochs: three\n", "cfg.yaml"); }) ==
        "cfg.yaml:2: train.epochs: expected an integer, got 'three'");
  CHECK(message_of([] { parse_config("train:\n  epochs: 2.5\n", "cfg.yaml"); }) ==
        "cfg.yaml:2: train.epochs: expected an integer, got '2.5'");
  CHECK(message_of([] { parse_config("model:\n  variant: resnet\n", "cfg.yaml"); }) ==
        "cfg.yaml:2: model.variant: expected one of squeezenet1_1|faceid_beta, got 'resnet'");
  CHECK(message_of([] { parse_config("augment:\n  enabled: maybe\n", "cfg.yaml"); }) ==
        "cfg.yaml:2: augment.enabled: expected true or false, got 'maybe'");
  CHECK(message_of([] { parse_config("data:\n  val_persons: abc\n", "cfg.yaml"); }) ==
        "cfg.yaml:2: data.val_persons: expected a list, got abc");
  CHECK(message_of([] { parse_config("train: [1, 2]\n", "cfg.yaml"); }) ==
        "cfg.yaml:1: train: expected a mapping of keys");
  CHECK_THAT(message_of([] { parse_config("train:\n  lr: [\n", "cfg.yaml"); }),
             Catch::StartsWith("cfg.yaml:"));
  CHECK_THAT(message_of([] { faceid::load_config("/nonexistent/x.yaml"); }),
             Catch::Contains("/nonexistent/x.yaml: cannot open config file"));
}

TEST_CASE("config: --set overrides are validated like the file") {
  Config c = parse_config("", "t.yaml", {"train.lr=0.5", "data.val_persons=[a, b]"});
  CHECK(c.train.lr == Approx(0.5));
  CHECK(c.data.val_persons == std::vector<std::string>{"a", "b"});
  CHECK(message_of([] { parse_config("", "t.yaml", {"train.lr=-1"}); }) ==
        "--set train.lr=-1: train.lr: expected a number > 0, got -1");
  CHECK(message_of([] { parse_config("", "t.yaml", {"train.nope=1"}); }) ==
        "--set train.nope=1: unknown key 'train.nope'");
  CHECK(message_of([] { parse_config("", "t.yaml", {"trainlr"}); }) ==
        "--set trainlr: expected section.key=value");
}

TEST_CASE("config: choices are enums, parsed once and written back by name") {
  const Config c =
      parse_config("train:\n  schedule: step\n", "t.yaml",
                   {"unlock.distance=mean_k", "preprocess.crop=fixed", "train.amp=bf16"});
  CHECK(c.train.schedule == faceid::Schedule::step);
  CHECK(c.unlock.distance == faceid::TemplateDistance::mean_k);
  CHECK(c.preprocess.crop == faceid::CropMode::fixed);
  CHECK(c.train.amp == faceid::AmpMode::bf16);
  CHECK(c.train.optimizer == faceid::OptimizerKind::adam);  // default kept
  CHECK_THAT(faceid::to_yaml(c), Catch::Contains("  schedule: \"step\"\n") &&
                                     Catch::Contains("  distance: \"mean_k\"\n"));
  CHECK(std::string(faceid::to_string(faceid::Mining::batch_hard)) == "batch_hard");
  CHECK(message_of([] { parse_config("\ntrain:\n  schedule: cosin\n", "configs/x.yaml"); }) ==
        "configs/x.yaml:3: train.schedule: expected one of cosine|step|constant, got 'cosin'");
  CHECK(message_of([] { parse_config("", "t.yaml", {"train.amp="}); }) ==
        "--set train.amp=: train.amp: expected one of none|bf16|fp16, got ''");
  CHECK(faceid::parse_choice<faceid::ModelVariant>("faceid_beta", "m.pt") ==
        faceid::ModelVariant::faceid_beta);
  CHECK(message_of([] { faceid::parse_choice<faceid::ModelVariant>("resnet", "m.pt"); }) ==
        "m.pt: model.variant: expected one of squeezenet1_1|faceid_beta, got 'resnet'");
}

TEST_CASE("config: a Config built in code is checked by validate like a file") {
  Config c;
  CHECK_NOTHROW(faceid::validate(c, "code"));
  c.train.lr = -1;
  CHECK(message_of([&] { faceid::validate(c, "code"); }) ==
        "code: train.lr: expected a number > 0, got -1");
  c = Config{};
  c.pad.threshold = -std::numeric_limits<double>::infinity();
  CHECK(message_of([&] { faceid::validate(c, "code"); }) ==
        "code: pad.threshold: expected a number, got -inf");
  c = Config{};
  c.model.variant = static_cast<faceid::ModelVariant>(7);
  CHECK(message_of([&] { faceid::validate(c, "code"); }) ==
        "code: model.variant: expected one of squeezenet1_1|faceid_beta, got 7");
  c = Config{};
  c.loss.type = faceid::LossType::cosface;
  CHECK_THAT(message_of([&] { faceid::validate(c, "code"); }),
             Catch::StartsWith("code: loss.margin: cosface"));
}

TEST_CASE("config: cross-field validation") {
  CHECK(message_of([] {
          parse_config("preprocess:\n  min_depth_mm: 3000\n  max_depth_mm: 2000\n", "t.yaml");
        }) == "t.yaml: preprocess.min_depth_mm: must be below preprocess.max_depth_mm");
  CHECK(message_of([] { parse_config("train:\n  device: gpu\n", "t.yaml"); }) ==
        "t.yaml: train.device: expected auto|cpu|cuda|cuda:N, got 'gpu'");
}

TEST_CASE("config: to_yaml round-trips every key") {
  Config c = parse_config("", "t.yaml",
                          {"train.lr=0.00123", "data.val_persons=[p1, 'p 2']", "data.root=a b",
                           "augment.enabled=false", "train.seed=-5"});
  const std::string text = faceid::to_yaml(c);
  const Config back = parse_config(text, "resolved.yaml");
  CHECK(faceid::to_yaml(back) == text);
  CHECK(back.train.lr == c.train.lr);
  CHECK(back.data.val_persons == c.data.val_persons);
  CHECK(back.data.root == "a b");
  CHECK_FALSE(back.augment.enabled);
}

TEST_CASE("config: docs/config.md lists every key with its default") {
  std::ifstream in(std::string(FACEID_SOURCE_DIR) + "/docs/config.md");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  // The reference section of the docs is generated from the schema; keep them in step with
  // `build/bin/faceid_config --markdown`.
  CHECK_THAT(ss.str(), Catch::Contains(faceid::config_reference_markdown()));
}

TEST_CASE("config: shipped configs load") {
  int count = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::string(FACEID_SOURCE_DIR) + "/configs")) {
    if (e.path().extension() != ".yaml") continue;
    INFO(e.path().string());
    faceid::Config c;
    CHECK_NOTHROW(c = faceid::load_config(e.path().string()));
    // A config that fine-tunes names a model file of the repository (paths relative to its root).
    if (!c.train.init_from.empty()) {
      CHECK(std::filesystem::exists(std::filesystem::path(FACEID_SOURCE_DIR) / c.train.init_from));
    }
    ++count;
  }
  CHECK(count >= 5);  // synthetic, smoke, squeeze_rgbd, pretrain_synthetic, pretrain
  // The VAP config fine-tunes the shipped model, at the shipped model's input size.
  const faceid::Config vap =
      faceid::load_config(std::string(FACEID_SOURCE_DIR) + "/configs/squeeze_rgbd.yaml");
  CHECK(vap.train.init_from == "models/faceid_rgbd_v1.pt");
  CHECK(vap.preprocess.input_size == 64);
}
