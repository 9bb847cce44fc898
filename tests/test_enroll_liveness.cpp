// enroll screens every enrollment frame with the liveness model (issue 19, item 4): a frame that
// is not live refuses the whole enrollment and writes nothing; the store records, per user, which
// liveness model screened the enrollment ("" = none). Runs the real build/bin/enroll.
//
// The liveness models here are untrained PadNets whose threshold decides: 0 accepts every frame
// (score >= 0), 1 refuses every frame (an untrained net's sigmoid stays below 1, and a frame
// failing the geometric check scores 0). No training, deterministic.
#include "catch_torch.hpp"

#include <limits>
#include <set>
#include <sstream>

#include "faceid/core/binary.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/model/checkpoint.hpp"
#include "faceid/runtime/pad.hpp"
#include "faceid/runtime/pad_net.hpp"
#include "faceid/runtime/store_key.hpp"
#include "faceid/runtime/template_store.hpp"
#include "store_test_util.hpp"
#include "synth_fixture.hpp"

namespace fs = std::filesystem;
using faceid::StoreKey;
using faceid::TemplateStore;
using faceid::test::run_app;

namespace {

// An untrained smoke checkpoint (no pose-spread rule, one loader thread) with `extra` overrides
// in its stored config (e.g. pad.model=...).
fs::path tiny_checkpoint(const fs::path& dir, std::vector<std::string> extra = {}) {
  extra.insert(extra.begin(), {"unlock.min_pose_spread=0", "data.workers=1"});
  const faceid::Config config = faceid::test::smoke_config(extra);
  torch::manual_seed(3);
  faceid::EmbeddingNet net(config.model, config.preprocess.input_size);
  faceid::CheckpointMeta meta;
  meta.config_yaml = faceid::to_yaml(config);
  meta.eer_threshold = std::numeric_limits<double>::quiet_NaN();
  const fs::path ckpt = dir / "model.pt";
  faceid::save_checkpoint(ckpt, net, nullptr, meta);
  return ckpt;
}

// An untrained liveness model for the smoke preprocessing with calibrated `threshold`, saved
// as `file`. `fingerprint_offset` != 0: trained (supposedly) on another preprocessing.
fs::path pad_model(const fs::path& file, double threshold, uint64_t fingerprint_offset = 0) {
  const faceid::Config config = faceid::test::smoke_config();
  faceid::PadModelInfo info;
  info.input_size = config.preprocess.input_size;
  info.preprocess_fingerprint =
      faceid::preprocess_fingerprint(config.preprocess) + fingerprint_offset;
  info.threshold = threshold;
  info.min_relief_mm = config.pad.min_relief_mm;
  faceid::PadModel(faceid::seeded_pad_net(4, 1), info).save(file);
  return file;
}

// "NAME:FNV1A64" of a model file: the identity enroll records.
std::string identity_of(const fs::path& file) {
  const std::string bytes = faceid::read_file(file);
  faceid::Fnv1a64 hash;
  hash.update(bytes.data(), bytes.size());
  return fmt::format("{}:{:016x}", file.filename().string(), hash.digest());
}

// Three frames (poses 1, 3, 5) of smoke person 0.
std::vector<fs::path> three_frames() {
  const fs::path p = faceid::test::smoke_dataset() / "synth_00000";
  return {p / "001_1_d.png", p / "003_1_d.png", p / "005_1_d.png"};
}

struct Fixture {
  explicit Fixture(const std::string& name, std::vector<std::string> config = {})
      : dir(faceid::test::scratch_dir("enroll-liveness-" + name)),
        ckpt(tiny_checkpoint(dir, std::move(config))),
        store(dir / "store") {
    ::unsetenv(StoreKey::kEnvVar);
  }
  int enroll(const std::string& user, const std::string& extra, std::string* out) const {
    std::string frames;
    for (const auto& f : three_frames()) frames += " '" + f.string() + "'";
    return run_app("enroll", fmt::format("--device cpu --checkpoint '{}' --store '{}' --user '{}' "
                                         "--frames{} {}",
                                         ckpt.string(), store.string(), user, frames, extra),
                   out);
  }
  // The liveness model recorded for `user`, read from the store itself.
  std::string recorded(const std::string& user) const {
    const StoreKey key = StoreKey::resolve(store, "", false);
    return TemplateStore::load(store, key).get(user).liveness_model;
  }
  fs::path dir;
  fs::path ckpt;
  fs::path store;
};

}  // namespace

TEST_CASE("enroll liveness: a model that accepts every frame is recorded in the store",
          "[enroll_liveness][store]") {
  const Fixture fx("accept");
  const fs::path model = pad_model(fx.dir / "accept.bin", 0.0);
  std::string out;
  REQUIRE(fx.enroll("alice", fmt::format("--pad-model '{}'", model.string()), &out) == 0);
  INFO(out);
  CHECK(out.find("not screened") == std::string::npos);
  const std::string identity = identity_of(model);
  CHECK(identity.size() == std::string("accept.bin:").size() + 16);
  CHECK(fx.recorded("alice") == identity);
  REQUIRE(run_app("enroll", fmt::format("--store '{}' --list", fx.store.string()), &out) == 0);
  CHECK_THAT(out, Catch::Contains("alice: 3 enrolled") &&
                      Catch::Contains("liveness model " + identity));
}

TEST_CASE("enroll liveness: one frame that is not live refuses the enrollment, writing nothing",
          "[enroll_liveness][store]") {
  const Fixture fx("refuse");
  const fs::path model = pad_model(fx.dir / "refuse.bin", 1.0);
  std::string out;
  // A new store: not created.
  CHECK(fx.enroll("alice", fmt::format("--pad-model '{}'", model.string()), &out) == 2);
  INFO(out);
  CHECK_THAT(out, Catch::Contains("enroll: enrollment of alice refused: 3 of 3 frame(s) are not "
                                  "live (liveness score < 1.000): " +
                                  three_frames()[0].string() + " ("));
  CHECK_FALSE(fs::exists(fx.store / TemplateStore::kFileName));
  // An existing store: unchanged, byte for byte.
  REQUIRE(fx.enroll("bob", "--no-liveness", &out) == 0);
  const std::string before = faceid::read_file(fx.store / TemplateStore::kFileName);
  CHECK(fx.enroll("alice", fmt::format("--pad-model '{}'", model.string()), &out) == 2);
  CHECK_THAT(out, Catch::Contains("are not live"));
  CHECK(faceid::read_file(fx.store / TemplateStore::kFileName) == before);
  // --pad-threshold overrides the model's threshold: 0 accepts the same frames.
  REQUIRE(fx.enroll("alice", fmt::format("--pad-model '{}' --pad-threshold 0", model.string()),
                    &out) == 0);
  CHECK(fx.recorded("alice") == identity_of(model));
}

TEST_CASE("enroll liveness: the config's pad.model screens by default, --no-liveness records none",
          "[enroll_liveness][store]") {
  const fs::path models = faceid::test::scratch_dir("enroll-liveness-models");
  const fs::path refuse = pad_model(models / "refuse.bin", 1.0);
  const Fixture fx("config", {"pad.model=" + refuse.string()});
  std::string out;
  CHECK(fx.enroll("alice", "", &out) == 2);
  CHECK_THAT(out, Catch::Contains("are not live"));
  CHECK_FALSE(fs::exists(fx.store / TemplateStore::kFileName));
  REQUIRE(fx.enroll("alice", "--no-liveness", &out) == 0);
  INFO(out);
  CHECK(out.find("no liveness model") == std::string::npos);  // explicitly unscreened: no warning
  CHECK(fx.recorded("alice").empty());
  REQUIRE(run_app("enroll", fmt::format("--store '{}' --list", fx.store.string()), &out) == 0);
  CHECK_THAT(out, Catch::Contains("liveness model none"));
  // --no-liveness with a model is a contradiction: usage error.
  CHECK(fx.enroll("bob", fmt::format("--no-liveness --pad-model '{}'", refuse.string()), &out) ==
        2);
}

TEST_CASE("enroll liveness: without any liveness model enroll warns and records none",
          "[enroll_liveness][store]") {
  const Fixture fx("none");
  std::string out;
  REQUIRE(fx.enroll("alice", "", &out) == 0);
  INFO(out);
  CHECK_THAT(out, Catch::Contains("enroll: warning: no liveness model") &&
                      Catch::Contains("not screened for presentation attacks"));
  CHECK(fx.recorded("alice").empty());
}

TEST_CASE("enroll liveness: a missing or foreign --pad-model exits 2 naming it",
          "[enroll_liveness][store]") {
  const Fixture fx("bad-model");
  std::string out;
  const fs::path missing = fx.dir / "no-such-model.bin";
  CHECK(fx.enroll("alice", fmt::format("--pad-model '{}'", missing.string()), &out) == 2);
  INFO(out);
  CHECK_THAT(out, Catch::Contains(missing.string()) && Catch::Contains("--pad-model"));
  CHECK(out.find("internal error") == std::string::npos);
  CHECK_FALSE(fs::exists(fx.store / TemplateStore::kFileName));
  // A model trained on another preprocessing than the checkpoint's.
  const fs::path foreign = pad_model(fx.dir / "foreign.bin", 0.0, 1);
  CHECK(fx.enroll("alice", fmt::format("--pad-model '{}'", foreign.string()), &out) == 2);
  CHECK(out.find("internal error") == std::string::npos);
  CHECK_FALSE(fs::exists(fx.store / TemplateStore::kFileName));
}
