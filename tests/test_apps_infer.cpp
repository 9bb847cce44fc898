// CLI smoke tests of train → embed → evaluate → unlock_sim → enroll on a checkpoint made here.
#include "catch_torch.hpp"

#include <fstream>
#include <sstream>

#include "faceid/core/fs.hpp"
#include "faceid/runtime/store_key.hpp"
#include "faceid/runtime/template_store.hpp"
#include "faceid/model/checkpoint.hpp"
#include "synth_fixture.hpp"

using faceid::test::run_app;

namespace {
std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
std::vector<std::string> json_keys(const std::string& json) {
  // Top-level keys of the flat JSON objects the apps write: lines `  "key": value`.
  std::vector<std::string> keys;
  std::istringstream in(json);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("  \"", 0) == 0) keys.push_back(line.substr(3, line.find('"', 3) - 3));
  }
  return keys;
}
}  // namespace

TEST_CASE("apps: --help exits 0 and an unknown flag exits 2", "[apps]") {
  for (const char* app : {"train", "embed", "evaluate", "unlock_sim", "enroll", "faceid_config"}) {
    INFO(app);
    std::string out;
    CHECK(run_app(app, "--help", &out) == 0);
    CHECK_THAT(out, Catch::Contains("--"));
    CHECK(run_app(app, "--no-such-flag", &out) == 2);
  }
}

TEST_CASE("apps: train rejects bad configs with exit 2 and the key path", "[apps]") {
  const auto dir = faceid::test::scratch_dir("apps-badcfg");
  std::ofstream(dir / "bad.yaml") << "train:\n  lr: -1\n";
  std::string out;
  CHECK(run_app("train", fmt::format("--config {}/bad.yaml --out {}/run", dir.string(), dir.string()),
                &out) == 2);
  CHECK_THAT(out, Catch::Contains("bad.yaml:2: train.lr: expected a number > 0, got -1"));
  CHECK(run_app("train", "--config /nonexistent.yaml", &out) == 2);
  CHECK_THAT(out, Catch::Contains("/nonexistent.yaml: cannot open config file"));
  CHECK(run_app("train", fmt::format("--config {}/configs/smoke.yaml --set train.nope=1",
                                     FACEID_SOURCE_DIR), &out) == 2);
  CHECK_THAT(out, Catch::Contains("unknown key 'train.nope'"));
  CHECK(!std::filesystem::exists(dir / "run" / "last.pt"));
}

TEST_CASE("apps: train, embed, evaluate, unlock_sim and enroll on a smoke checkpoint", "[apps]") {
  const auto data = faceid::test::smoke_dataset();
  const auto dir = faceid::test::scratch_dir("apps-flow");
  const std::string run = (dir / "run").string();
  std::string out;
  REQUIRE(run_app("train", fmt::format("--config {}/configs/smoke.yaml --set data.root={} --out {}",
                                       FACEID_SOURCE_DIR, data.string(), run),
                  &out) == 0);
  INFO(out);
  const std::string ckpt = run + "/best.pt";
  REQUIRE(std::filesystem::exists(ckpt));

  // embed: CSV with one row per frame; NPY loadable (header) with a sidecar.
  REQUIRE(run_app("embed", fmt::format("--checkpoint {} --input {} --out {}/e.csv", ckpt,
                                       data.string(), dir.string()), &out) == 0);
  {
    std::istringstream csv(slurp(dir / "e.csv"));
    std::string header, line;
    std::getline(csv, header);
    CHECK_THAT(header, Catch::StartsWith("identity,pose,repetition,file,status,e0,"));
    CHECK_THAT(header, Catch::EndsWith(",e15"));
    int rows = 0;
    while (std::getline(csv, line)) ++rows;
    CHECK(rows == 36);
  }
  REQUIRE(run_app("embed", fmt::format("--checkpoint {} --input {}/synth_00001 --out {}/e.npy",
                                       ckpt, data.string(), dir.string()), &out) == 0);
  const std::string npy = slurp(dir / "e.npy");
  CHECK(npy.substr(1, 5) == "NUMPY");
  CHECK_THAT(npy, Catch::Contains("'shape': (6, 16)"));
  CHECK(std::filesystem::exists(dir / "e.labels.csv"));
  CHECK(run_app("embed", fmt::format("--checkpoint {} --input {} --out {}/e.txt", ckpt,
                                     data.string(), dir.string()), &out) == 2);
  CHECK(run_app("embed", fmt::format("--checkpoint {}/missing.pt --input {}", dir.string(),
                                     data.string()), &out) == 2);
  CHECK_THAT(out, Catch::Contains("missing.pt"));

  // evaluate: JSON keys, plots.
  REQUIRE(run_app("evaluate", fmt::format("--checkpoint {} --data {} --out {}/eval --json {}/eval.json --no-tsne",
                                          ckpt, data.string(), dir.string(), dir.string()), &out) == 0);
  CHECK(json_keys(slurp(dir / "eval.json")) ==
        std::vector<std::string>{"eer", "eer_threshold", "auc", "tar_at_far", "genuine_pairs",
                                 "impostor_pairs", "far_upper_bound_95", "exact"});
  CHECK_THAT(slurp(dir / "eval.json"), Catch::Contains("\"genuine_pairs\": 90"));
  CHECK(std::filesystem::exists(dir / "eval" / "roc.png"));
  CHECK(std::filesystem::exists(dir / "eval" / "det.png"));
  CHECK(std::filesystem::exists(dir / "eval" / "pca.png"));
  CHECK(run_app("evaluate", fmt::format("--checkpoint {} --far-targets 1e-3,abc", ckpt), &out) == 2);
  CHECK_THAT(out, Catch::Contains("'abc' is not a FAR"));

  // unlock_sim: JSON with exactly the documented keys; histogram.
  REQUIRE(run_app("unlock_sim", fmt::format("--checkpoint {} --data {} --enroll-frames 3 --out {}/unlock --json {}/unlock.json",
                                            ckpt, data.string(), dir.string(), dir.string()), &out) == 0);
  CHECK(json_keys(slurp(dir / "unlock.json")) ==
        std::vector<std::string>{"threshold", "genuine_mean", "impostor_mean", "frr", "far",
                                 "genuine_attempts", "impostor_attempts", "lockouts"});
  CHECK_THAT(slurp(dir / "unlock.json"), Catch::Contains("\"genuine_attempts\": 18"));
  CHECK_THAT(slurp(dir / "unlock.json"), Catch::Contains("\"impostor_attempts\": 180"));
  CHECK(std::filesystem::exists(dir / "unlock" / "histogram.png"));
  CHECK(std::filesystem::exists(dir / "unlock" / "per_user.csv"));

  // enroll: a user from a person folder; list; a refusal for one frame; remove.
  const std::string store = (dir / "store").string();
  REQUIRE(run_app("enroll", fmt::format("--checkpoint {} --store {} --user alice --frames {}/synth_00000",
                                        ckpt, store, data.string()), &out) == 0);
  REQUIRE(run_app("enroll", fmt::format("--store {} --list", store), &out) == 0);
  CHECK_THAT(out, Catch::Contains("alice: 6 enrolled"));
  CHECK(run_app("enroll", fmt::format("--checkpoint {} --store {} --user bob --frames {}/synth_00001/001_1_d.png",
                                      ckpt, store, data.string()), &out) == 2);
  CHECK_THAT(out, Catch::Contains("refused"));
  REQUIRE(run_app("enroll", fmt::format("--store {} --user alice --remove", store), &out) == 0);
  REQUIRE(run_app("enroll", fmt::format("--store {} --list", store), &out) == 0);
  CHECK_THAT(out, Catch::Contains("0 user(s)"));
}

TEST_CASE("apps: enroll writes an encrypted 0600 store, a wrong key or a flipped bit exits 2",
          "[apps][template_store]") {
  namespace fs = std::filesystem;
  const auto data = faceid::test::smoke_dataset();
  const auto dir = faceid::test::scratch_dir("apps-store");
  // An untrained smoke checkpoint embeds well enough to enroll (no pose-spread rule here).
  const faceid::Config config = faceid::test::smoke_config({"unlock.min_pose_spread=0"});
  torch::manual_seed(3);
  faceid::EmbeddingNet net(config.model, config.preprocess.input_size);
  faceid::CheckpointMeta meta;
  meta.config_yaml = faceid::to_yaml(config);
  const fs::path ckpt = dir / "model.pt";
  faceid::save_checkpoint(ckpt, net, nullptr, meta);
  const fs::path store = dir / "store";
  ::unsetenv(faceid::StoreKey::kEnvVar);
  std::string out;
  REQUIRE(run_app("enroll", fmt::format("--checkpoint {} --store {} --user alice --frames {}/synth_00000",
                                        ckpt.string(), store.string(), data.string()), &out) == 0);
  INFO(out);
  const fs::path key_file = store / faceid::StoreKey::kDefaultFileName;
  const fs::path file = store / faceid::TemplateStore::kFileName;
  for (const auto& f : {key_file, file}) {
    CHECK((fs::status(f).permissions() & fs::perms::mask) ==
          (fs::perms::owner_read | fs::perms::owner_write));
  }
  // The known embeddings: what enroll stored, decrypted here with the key. No pair of
  // consecutive floats of them occurs in any file of the folder or in enroll's output.
  const faceid::StoreKey key = faceid::StoreKey::read_file(key_file);
  const faceid::TemplateStore opened = faceid::TemplateStore::load(store, key);
  const faceid::Embeddings& e = opened.get("alice").enrolled;
  REQUIRE(e.rows() == 6);
  std::vector<std::string> needles;
  for (Eigen::Index r = 0; r < e.rows(); ++r) {
    const Eigen::RowVectorXf row = e.row(r);
    for (Eigen::Index k = 0; k + 1 < row.size(); ++k) {
      needles.emplace_back(reinterpret_cast<const char*>(row.data() + k), 8);
    }
  }
  CHECK(opened.serialize().find(needles.front()) != std::string::npos);  // the probe works
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(store)) {
    names.push_back(entry.path().filename().string());
    const std::string bytes = slurp(entry.path());
    for (const auto& n : needles) REQUIRE(bytes.find(n) == std::string::npos);
  }
  std::sort(names.begin(), names.end());
  CHECK(names ==
        std::vector<std::string>{"store.bin", "store.generation", "store.key", "store.lock"});
  for (const auto& n : needles) REQUIRE(out.find(n) == std::string::npos);

  // A wrong key from the environment: exit 2, naming the file and both key ids.
  ::setenv(faceid::StoreKey::kEnvVar, std::string(64, 'a').c_str(), 1);
  const int wrong = run_app("enroll", fmt::format("--store {} --list", store.string()), &out);
  ::unsetenv(faceid::StoreKey::kEnvVar);
  CHECK(wrong == 2);
  CHECK_THAT(out, Catch::Contains("enroll: error: " + file.string() +
                                  ": wrong key for the template store: it was encrypted with key "
                                  "id " + key.id() + ", the key from $FACEID_STORE_KEY has id "));
  // One flipped bit: exit 2, naming the file.
  std::string sealed = faceid::read_file(file);
  sealed[sealed.size() / 2] ^= 0x01;
  faceid::write_file_atomic(file, sealed, 0600);
  CHECK(run_app("enroll", fmt::format("--store {} --list", store.string()), &out) == 2);
  CHECK_THAT(out, Catch::Contains("enroll: error: " + file.string() +
                                  ": corrupt template store: authentication failed (the file was "
                                  "altered or damaged)"));
}
