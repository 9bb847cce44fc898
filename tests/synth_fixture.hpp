// A small synthetic RGB-D dataset shared by the training and inference tests: generated once into
// the build folder (compact layout, deterministic), reused by later test processes.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "faceid/core/config.hpp"
#include "faceid/synth/synth.hpp"
#include "faceid/train/trainer.hpp"
#include "synth/params.hpp"

namespace faceid::test {

// The source and build folders compiled in, unless FACEID_TEST_SOURCE_DIR / FACEID_TEST_BIN_DIR
// name others: the bundle of scripts/gpu_bundle.sh runs the [cuda] tests on another machine,
// where the compiled-in folders do not exist (scripts/gpu_check.sh sets both).
inline std::filesystem::path source_dir() {
  const char* dir = std::getenv("FACEID_TEST_SOURCE_DIR");
  return dir != nullptr && *dir != '\0' ? dir : FACEID_SOURCE_DIR;
}
inline std::filesystem::path bin_dir() {
  const char* dir = std::getenv("FACEID_TEST_BIN_DIR");
  return dir != nullptr && *dir != '\0' ? dir : FACEID_BIN_DIR;
}

// A 6 persons x 1 session x 6 poses set, compact PNG layout, generated once into the build
// folder. The folder name carries the generator version, so a new generator never reuses an old
// set.
inline std::filesystem::path fixture_dataset(const std::string& name, uint64_t seed,
                                             const Distractors& distractors) {
  const std::filesystem::path root = bin_dir().parent_path() / "test-data" /
                                     fmt::format("{}-6x6-v{}", name, synth::kGeneratorVersion);
  if (!std::filesystem::exists(root / "synth_manifest.yaml")) {
    SynthOptions o;
    o.out = root;
    o.persons = 6;
    o.sessions = 1;
    o.poses = 6;
    o.seed = seed;
    o.threads = 1;
    o.compact = true;
    o.distractors = distractors;
    generate_synth_dataset(o);
  }
  return root;
}

// The clean scene (no distractors: the training and inference tests measure learning, not head
// finding).
inline std::filesystem::path smoke_dataset() {
  return fixture_dataset("smoke", 11, Distractors::none());
}

// What real captures contain, for head-finding tests: the default distractors plus 10% empty
// scenes, and NNN_K_truth.yaml beside each frame (faceid/io/face_truth.hpp).
inline std::filesystem::path distractor_dataset() {
  Distractors d;
  d.empty = 0.1f;
  return fixture_dataset("distractors", 12, d);
}

// configs/smoke.yaml on the smoke dataset, plus `extra` overrides.
inline Config smoke_config(std::vector<std::string> extra = {}) {
  std::vector<std::string> overrides = {"data.root=" + smoke_dataset().string()};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return load_config((source_dir() / "configs/smoke.yaml").string(), overrides);
}

// A fresh empty folder under the build tree for one test.
inline std::filesystem::path scratch_dir(const std::string& name) {
  const auto dir = bin_dir().parent_path() / "test-scratch" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// TrainOptions that write the run into `dir` (replacing a run there) and log nothing.
inline TrainOptions quiet_options(const std::filesystem::path& dir) {
  TrainOptions o;
  o.run_dir = dir;
  o.overwrite = true;
  o.log = [](const std::string&) {};
  return o;
}

// The step losses of `config` trained in `dir` in two invocations: the first epoch, then
// `--resume` from its last.pt for the rest.
inline std::vector<double> losses_with_resume(const Config& config,
                                              const std::filesystem::path& dir) {
  TrainOptions first = quiet_options(dir);
  first.stop_after_epochs = 1;
  std::vector<double> losses = run_training(config, first).step_losses;
  TrainOptions second = quiet_options(dir);
  second.overwrite = false;
  second.resume = dir / "last.pt";
  const std::vector<double> rest = run_training(config, second).step_losses;
  losses.insert(losses.end(), rest.begin(), rest.end());
  return losses;
}

// Runs build/bin/<app> with `args` (a shell fragment) and `env` ("NAME=value ..." assignments for
// the app alone); returns the exit code and captures stdout+stderr into *output.
inline int run_app(const std::string& app, const std::string& args, std::string* output = nullptr,
                   const std::string& env = "") {
  const std::string cmd = fmt::format("{} {}/{} {} 2>&1", env, bin_dir().string(), app, args);
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace faceid::test
