// Data-parallel training on c10d (Gloo, loopback): the torchrun environment, 1 vs 2 processes
// end in the same weights, a lost rank ends the run with an error instead of a hang.
#include "catch_torch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "faceid/model/device.hpp"
#include "faceid/core/error.hpp"
#include "faceid/model/model.hpp"
#include "faceid/model/checkpoint.hpp"
#include "faceid/train/distributed.hpp"
#include "synth_fixture.hpp"

extern char** environ;

using namespace faceid;

namespace {

using Clock = std::chrono::steady_clock;

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// build/bin/train with `args` and `env` added to ours; stdout and stderr into `log`.
pid_t spawn_train(const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env, const std::filesystem::path& log) {
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    if (env.count(kv.substr(0, kv.find('='))) == 0) env_s.push_back(kv);
  }
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  std::vector<std::string> argv_s = {std::string(FACEID_BIN_DIR) + "/train"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  return pid;
}

// Exit code of `pid` within `limit` (-1: killed by a signal; -2: still running, then killed).
int wait_exit(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -2;
}

// Sets environment variables for the scope (apps started with popen inherit them).
class EnvGuard {
 public:
  explicit EnvGuard(const std::map<std::string, std::string>& vars) {
    for (const auto& [k, v] : vars) {
      ::setenv(k.c_str(), v.c_str(), 1);
      names_.push_back(k);
    }
  }
  ~EnvGuard() {
    for (const auto& k : names_) ::unsetenv(k.c_str());
  }

 private:
  std::vector<std::string> names_;
};

std::string smoke_args(const std::vector<std::string>& sets) {
  std::string s = fmt::format("--config {}/configs/smoke.yaml --set data.root={}",
                              FACEID_SOURCE_DIR, test::smoke_dataset().string());
  for (const auto& x : sets) s += " --set " + x;
  return s;
}

}  // namespace

TEST_CASE("distributed: the torchrun environment is read strictly", "[distributed]") {
  using Env = std::map<std::string, std::string>;
  auto parse = [](const Env& env) {
    return parse_dist_env([&env](const char* name) -> const char* {
      auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    });
  };
  auto message = [&](const Env& env) {
    try {
      parse(env);
    } catch (const Error& e) {
      CHECK(e.code() == Errc::bad_input);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const DistEnv alone = parse({});
  CHECK(alone.world_size == 1);
  CHECK_FALSE(alone.distributed());
  const Env full = {{"RANK", "1"}, {"WORLD_SIZE", "3"}, {"LOCAL_RANK", "0"},
                    {"MASTER_ADDR", "10.0.0.5"}, {"MASTER_PORT", "29500"}};
  const DistEnv d = parse(full);
  CHECK(d.rank == 1);
  CHECK(d.world_size == 3);
  CHECK(d.local_rank == 0);
  CHECK(d.master_addr == "10.0.0.5");
  CHECK(d.master_port == 29500);
  CHECK(d.distributed());
  Env no_local = full;
  no_local.erase("LOCAL_RANK");
  CHECK(parse(no_local).local_rank == 1);
  CHECK(d.local_world_size == 3);  // LOCAL_WORLD_SIZE unset: all ranks may share this machine
  Env two_here = full;
  two_here["LOCAL_WORLD_SIZE"] = "2";
  CHECK(parse(two_here).local_world_size == 2);
  two_here["LOCAL_WORLD_SIZE"] = "0";
  CHECK_THAT(message(two_here), Catch::Contains("LOCAL_WORLD_SIZE"));

  Env e = full;
  e.erase("MASTER_PORT");
  CHECK_THAT(message(e), Catch::Contains("MASTER_PORT is not set"));
  e = full;
  e.erase("MASTER_ADDR");
  CHECK_THAT(message(e), Catch::Contains("MASTER_ADDR is not set"));
  e = full;
  e.erase("WORLD_SIZE");
  CHECK_THAT(message(e), Catch::Contains("WORLD_SIZE is not set"));
  e = full;
  e["RANK"] = "3";
  CHECK_THAT(message(e), Catch::Contains("RANK=3 is out of range [0, 2]"));
  e = full;
  e["RANK"] = "one";
  CHECK_THAT(message(e), Catch::Contains("RANK='one' is not an integer"));
  e = full;
  e["MASTER_PORT"] = "70000";
  CHECK_THAT(message(e), Catch::Contains("MASTER_PORT=70000 is out of range"));

  const char* argv[] = {"train", "--nproc", "2", "--config", "c.yaml", "--nproc=3", "--overwrite"};
  CHECK(args_without_nproc(7, argv) ==
        std::vector<std::string>{"--config", "c.yaml", "--overwrite"});
  const int port = free_local_port();
  CHECK(port > 0);
  CHECK(port < 65536);
}

TEST_CASE("distributed: threads 0 shares the cores among the ranks of one machine",
          "[distributed]") {
  const int before = torch::get_num_threads();
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  CHECK(configure_cpu_threads(0, 1) == cores);
  CHECK(configure_cpu_threads(0, 2) == std::max(1, cores / 2));
  CHECK(torch::get_num_threads() == std::max(1, cores / 2));
  CHECK(configure_cpu_threads(0, 4 * cores) == 1);
  CHECK(configure_cpu_threads(3, 8) == 3);  // an explicit count is kept
  configure_cpu_threads(before);
}

TEST_CASE("distributed: a bad environment or a failing worker exits 2", "[distributed]") {
  const auto dir = test::scratch_dir("dist-env");
  std::string out;
  {
    EnvGuard env({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "29999"}});
    CHECK(test::run_app("train", smoke_args({}) + " --out " + (dir / "a").string(), &out) == 2);
    CHECK_THAT(out, Catch::Contains("MASTER_ADDR is not set"));
  }
  {
    // --nproc refuses to run inside a torchrun-style environment.
    EnvGuard env({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"},
                  {"MASTER_PORT", "29999"}});
    CHECK(test::run_app("train", "--nproc 2 " + smoke_args({}), &out) == 2);
    CHECK_THAT(out, Catch::Contains("--nproc launches its own workers"));
  }
  {
    EnvGuard env(std::map<std::string, std::string>{{"WORLD_SIZE", "two"}});
    CHECK(test::run_app("train", smoke_args({}), &out) == 2);
    CHECK_THAT(out, Catch::Contains("WORLD_SIZE='two' is not an integer"));
  }
  // Both workers fail on the missing dataset (bad input): the launcher returns their code.
  CHECK(test::run_app("train", "--nproc 2 --config " + std::string(FACEID_SOURCE_DIR) +
                                   "/configs/smoke.yaml --set data.root=" +
                                   (dir / "missing").string() + " --out " + (dir / "b").string(),
                      &out) == 2);
  CHECK_THAT(out, Catch::Contains("worker rank 0 exited with code 2"));
  CHECK_FALSE(std::filesystem::exists(dir / "b" / "last.pt"));
}

// 2 ranks x 4 pairs against 1 process x 8 pairs, 3 optimiser steps, fine-tuning from a short
// ordinary run (gradient clipping and augmentation on). Exact only where the two runs compute the
// same function (docs/distributed.md, "Equivalence with one process"):
// - BatchNorm in train mode normalises with the statistics of each rank's own batch (as PyTorch's
//   DistributedDataParallel without SyncBatchNorm does), which are not those of the global batch:
//   train.freeze_batch_norm=true makes BatchNorm use the running statistics of the first run.
// - Dropout draws its masks from each process's generator: model.dropout=0.
// - The sampler gives every rank's slice positive_fraction genuine pairs (a balanced shard), so
//   the union of the slices is the 1-process batch only when the fraction is 0 or 1: 1 here
//   (the pair draws and the augmentation are keyed by the global pair index, so with a fraction of
//   1 the 8 pairs are the same pairs in both runs).
// - SGD without weight decay: its step is linear in the gradient, so the different reduction
//   order stays at float rounding (Adam divides each component by its own RMS and turns the
//   rounding noise of near-zero components into steps of about lr).
// - From a fresh network with frozen BatchNorm every embedding is nearly the same vector and the
//   genuine distances (~1e-3) are differences of nearly equal numbers: the rounding of the two
//   batch layouts then shows at ~1e-5. Fine-tuning from trained weights keeps it well-posed.
// - The step is small enough that the steps do not amplify each other's rounding: measured, one
//   step at lr 0.05 agrees within 1e-6, three steps at lr 0.05 only within 5e-4, three at 0.01
//   within 1e-6 while the weights move by ~1e-2.
// What "agree" means: the two runs sum the same per-pair gradients in a different order (one
// process over 8 pairs; two over 4 each, then a Gloo all-reduce), and the kernels that do the
// summing are chosen per machine (OpenBLAS/oneDNN per CPU, OpenMP's reduction order), so their
// difference is float rounding carried through three steps, not a fixed number. An absolute
// 1e-5 on the weights failed deterministically on one machine (2.8e-5, issue 13) and passed on
// another. The comparison is therefore relative to what the training did: the distance between
// the two final weight vectors over the distance each moved from the start, both as L2 norms
// over every parameter, must stay under 1e-2.
// - Measured spread (issue 13): 30 runs in a row on the 2-core development machine while a
//   training demo loaded both cores gave 7.61e-6 every time (the run is deterministic on one
//   machine; it is the machine, not the timing, that moves the figure). The bound is 1300x that.
// - It separates right from wrong by orders of magnitude. Run once by hand with the all-reduce
//   broken in src/train/communicator.cpp: the ranks' gradients summed, not averaged
//   (`scale = 1.0`): 0.221 (gradient clipping caps the doubled step); each rank keeping only its
//   own gradient, the other's dropped (the reduced buffer overwritten with the local one):
//   0.988. Both fail the 1e-2 bound by more than 20x.
TEST_CASE("distributed: 2 processes end with the weights of 1 process with the global batch",
          "[distributed]") {
  const auto dir = test::scratch_dir("dist-equiv");
  // The starting point: a short ordinary run (BatchNorm in batch mode, dropout on).
  REQUIRE(test::run_app("train", smoke_args({"train.epochs=1", "train.steps_per_epoch=8"}) +
                                     " --out " + (dir / "pre").string()) == 0);
  const auto init = dir / "pre" / "last.pt";
  const std::vector<std::string> common = {
      "model.dropout=0",     "train.freeze_batch_norm=true", "train.positive_fraction=1",
      "train.optimizer=sgd", "train.lr=0.01",                "train.weight_decay=0",
      "train.epochs=1",      "train.steps_per_epoch=3"};
  auto with = [&](const std::string& batch) {
    auto v = common;
    v.push_back("train.batch_pairs=" + batch);
    return smoke_args(v) + " --init-from " + init.string();
  };
  std::string out1, out2;
  REQUIRE(test::run_app("train", with("8") + " --out " + (dir / "one").string(), &out1) == 0);
  REQUIRE(test::run_app("train", "--nproc 2 --dist-timeout 30 " + with("4") + " --out " +
                                     (dir / "two").string(),
                        &out2) == 0);
  INFO(out2);
  CHECK_THAT(out2, Catch::Contains("data-parallel: 2 ranks"));
  CHECK_THAT(out2, Catch::Contains("global batch 8 pairs (4 a rank)"));

  const Config config = test::smoke_config(common);
  EmbeddingNet start(config.model, config.preprocess.input_size);
  EmbeddingNet one(config.model, config.preprocess.input_size);
  EmbeddingNet two(config.model, config.preprocess.input_size);
  load_weights_into(init, start);
  load_weights_into(dir / "one" / "last.pt", one);
  load_weights_into(dir / "two" / "last.pt", two);
  const auto p0 = start->named_parameters();
  const auto p1 = one->named_parameters();
  const auto p2 = two->named_parameters();
  REQUIRE(p1.size() == p2.size());
  double diff2 = 0, moved2 = 0, max_moved = 0;
  for (const auto& item : p1) {
    const auto a = item.value().to(torch::kDouble);
    const auto b = p2[item.key()].to(torch::kDouble);
    const auto a0 = p0[item.key()].to(torch::kDouble);
    diff2 += (a - b).pow(2).sum().item<double>();
    moved2 += (a - a0).pow(2).sum().item<double>();
    max_moved = std::max(max_moved, (a - a0).abs().max().item<double>());
  }
  const double ratio = std::sqrt(diff2) / std::sqrt(moved2);
  INFO("|w1 - w2| / |w1 - w0| = " << ratio << " (|w1 - w2| = " << std::sqrt(diff2)
                                  << ", |w1 - w0| = " << std::sqrt(moved2) << ")");
  std::fprintf(stderr, "distributed equivalence: |w1 - w2| / |w1 - w0| = %.3g\n", ratio);
  CHECK(ratio < 1e-2);
  // The runs trained: the weights moved far more than float rounding.
  CHECK(max_moved > 1e-3);
  // Only rank 0 wrote the run folder, once.
  CHECK(std::filesystem::exists(dir / "two" / "metrics.csv"));
  const std::string metrics = read_text(dir / "two" / "metrics.csv");
  CHECK(std::count(metrics.begin(), metrics.end(), '\n') == 2);
}

TEST_CASE("distributed: when a rank dies the other exits with an error, not a hang",
          "[distributed]") {
  const auto dir = test::scratch_dir("dist-fail");
  const int port = free_local_port();
  std::vector<std::string> args = {"--config",
                                   std::string(FACEID_SOURCE_DIR) + "/configs/smoke.yaml",
                                   "--set", "data.root=" + test::smoke_dataset().string(),
                                   "--set", "train.epochs=1000", "--dist-timeout", "10",
                                   "--out", (dir / "run").string()};
  auto env = [&](int rank) {
    return std::map<std::string, std::string>{{"RANK", std::to_string(rank)},
                                              {"WORLD_SIZE", "2"},
                                              {"MASTER_ADDR", "127.0.0.1"},
                                              {"MASTER_PORT", std::to_string(port)}};
  };
  const pid_t r0 = spawn_train(args, env(0), dir / "rank0.log");
  const pid_t r1 = spawn_train(args, env(1), dir / "rank1.log");
  // Wait until rank 0 is training (its step log lines), then kill rank 1 without warning.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline &&
         read_text(dir / "rank0.log").find(" step ") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  INFO(read_text(dir / "rank0.log"));
  REQUIRE(read_text(dir / "rank0.log").find(" step ") != std::string::npos);
  ::kill(r1, SIGKILL);
  ::waitpid(r1, nullptr, 0);
  const auto t0 = Clock::now();
  const int code = wait_exit(r0, std::chrono::seconds(20));
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const std::string log = read_text(dir / "rank0.log");
  INFO(log);
  CHECK(code == 1);
  CHECK(seconds < 15);
  CHECK_THAT(log, Catch::Contains("train: error: distributed"));
  CHECK_THAT(log, Catch::Contains("on rank 0 of 2"));
}
