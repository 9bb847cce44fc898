// Crash safety of training: build/bin/train is killed with SIGKILL at random points, several
// times; every time last.pt (or the one before it) must load, and `--resume` must continue from
// it, until a resumed run completes. Also: the exit codes and messages of train for a missing,
// corrupt or other-variant checkpoint and for a checkpoint write that fails.
#include "catch_torch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "faceid/core/config.hpp"
#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/model/checkpoint.hpp"
#include "synth_fixture.hpp"

extern char** environ;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Starts build/bin/<app> with `args` (no shell), stdout and stderr into `log`.
pid_t spawn_app(const std::string& app, const std::vector<std::string>& args,
                const fs::path& log) {
  const std::string exe = std::string(FACEID_BIN_DIR) + "/" + app;
  std::vector<std::string> all = {exe};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  return pid;
}

// Like spawn_app, with the child's file-size limit at `fsize` bytes (what a full disk does to
// write(): it fails part-way; the limit holds for root, a read-only folder would not).
pid_t spawn_app_limited(const std::string& app, const std::vector<std::string>& args,
                        const fs::path& log, rlim_t fsize) {
  const std::string exe = std::string(FACEID_BIN_DIR) + "/" + app;
  std::vector<std::string> all = {exe};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // only async-signal-safe calls until exec
    struct rlimit lim {};
    ::getrlimit(RLIMIT_FSIZE, &lim);
    lim.rlim_cur = fsize;
    ::setrlimit(RLIMIT_FSIZE, &lim);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;  // EFBIG from write() instead of SIGXFSZ; kept across exec
    ::sigaction(SIGXFSZ, &ignore, nullptr);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) ::_exit(126);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// waitpid with a deadline; kills the child when it runs past it. Returns the wait status.
int wait_for(pid_t pid, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      FAIL("child " << pid << " ran past " << seconds << " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The lines of a log that were written out in full (a SIGKILL can cut the last one short).
std::vector<std::string> complete_lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// The complete line of `text` that starts with `prefix`, or "".
std::string line_starting(const std::string& text, const std::string& prefix) {
  for (const auto& l : complete_lines(text)) {
    if (l.rfind(prefix, 0) == 0) return l;
  }
  return {};
}

// Polls `log` until it contains `text` (true) or the child exits / `seconds` pass (false).
bool wait_for_text(pid_t pid, const fs::path& log, const std::string& text, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    if (slurp(log).find(text) != std::string::npos) return true;
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
        info.si_pid != 0) {
      return false;  // exited (reaped later by wait_for)
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

TEST_CASE("kill -9 during training: last.pt stays loadable and --resume continues from it",
          "[kill][train]") {
  const auto data = faceid::test::smoke_dataset();
  const auto dir = faceid::test::scratch_dir("kill-train");
  const fs::path run = dir / "run";
  const fs::path last = run / "last.pt";
  constexpr int kEpochs = 14;
  // One step per epoch and a frame cache: every epoch writes last.pt (and often best.pt), so the
  // kills land before, between and during checkpoint writes.
  const std::vector<std::string> fresh = {
      "--config", std::string(FACEID_SOURCE_DIR) + "/configs/smoke.yaml",
      "--set", "data.root=" + data.string(),
      "--set", "data.cache_dir=" + (dir / "cache").string(),
      "--set", fmt::format("train.epochs={}", kEpochs),
      "--set", "train.steps_per_epoch=1",
      "--set", "train.batch_pairs=4",
      "--out", run.string(), "--overwrite"};
  const std::vector<std::string> resume = {"--resume", last.string()};

  std::mt19937 rng(20240611);
  std::uniform_real_distribution<double> early(0.05, 1.5);  // seconds: while starting up
  std::uniform_real_distribution<double> phase(0.0, 1.0);   // of an epoch: step, validation,
                                                            // best.pt and last.pt writes
  std::bernoulli_distribution kill_early(0.2);
  int64_t epoch_seen = 0;  // epoch of last.pt after the previous kill
  int kills_with_checkpoint = 0;
  int resumes_verified = 0;
  for (int k = 0; k < 4; ++k) {
    const bool resuming = fs::exists(last);
    const fs::path log = dir / fmt::format("train_{}.log", k);
    const auto spawned = Clock::now();
    const pid_t pid = spawn_app("train", resuming ? resume : fresh, log);
    const int64_t start = resuming ? epoch_seen : 0;
    auto step_line = [&](int64_t epoch) { return fmt::format("epoch {}/{} step", epoch, kEpochs); };
    if (kill_early(rng)) {
      // While starting up: at a random time, but no later than its first step (a quiet machine
      // runs the remaining epochs of the smoke config in about a second).
      wait_for_text(pid, log, step_line(start + 1), early(rng));
    } else {
      // A random point of this process's second epoch, whatever the machine's pace: the time of
      // its first epoch scales the phase.
      REQUIRE(wait_for_text(pid, log, step_line(start + 1), 30.0));
      const auto t1 = Clock::now();
      REQUIRE(wait_for_text(pid, log, step_line(start + 2), 30.0));
      std::this_thread::sleep_for(phase(rng) * (Clock::now() - t1));
    }
    ::kill(pid, SIGKILL);
    const double delay = std::chrono::duration<double>(Clock::now() - spawned).count();
    const int status = wait_for(pid, 10.0);
    const std::string out = slurp(log);
    INFO("kill " << k << " after " << delay << " s; resuming " << resuming << "\n" << out);
    REQUIRE(WIFSIGNALED(status));  // it had not finished: the kill interrupted it
    CHECK(WTERMSIG(status) == SIGKILL);
    if (const std::string line = line_starting(out, "resumed from "); resuming && !line.empty()) {
      // --resume continued from exactly the checkpoint that the previous kill left.
      CHECK_THAT(line, Catch::StartsWith(fmt::format("resumed from {} at epoch {},",
                                                     last.string(), epoch_seen)));
      ++resumes_verified;
    }
    if (fs::exists(last)) {
      // Loadable, verified, and never behind what an earlier kill left.
      const auto loaded = faceid::load_checkpoint(last);
      CHECK(loaded.meta.epoch >= epoch_seen);
      CHECK(loaded.meta.epoch < kEpochs);
      CHECK(loaded.meta.optimizer == "adam");
      epoch_seen = loaded.meta.epoch;
      ++kills_with_checkpoint;
    }
    if (fs::exists(run / "best.pt")) CHECK_NOTHROW(faceid::read_checkpoint_meta(run / "best.pt"));
  }
  REQUIRE(kills_with_checkpoint >= 2);
  REQUIRE(fs::exists(last));

  // A last, unkilled resume completes the schedule.
  const fs::path log = dir / "train_final.log";
  const pid_t pid = spawn_app("train", resume, log);
  const int status = wait_for(pid, 40.0);
  const std::string out = slurp(log);
  INFO(out);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK_THAT(out, Catch::Contains(fmt::format("resumed from {} at epoch {},", last.string(),
                                              epoch_seen)));
  ++resumes_verified;
  CHECK(resumes_verified >= 2);
  CHECK(faceid::read_checkpoint_meta(last).epoch == kEpochs);
  CHECK(faceid::read_checkpoint_meta(last).step == kEpochs);  // one step per epoch, none lost

  // An epoch that a kill interrupted after its step and that a resumed run repeated has exactly
  // the same loss both times: the resume restored weights, optimiser and RNG state.
  std::map<int64_t, std::string> loss_of;
  for (int k = 0; k <= 4; ++k) {
    const std::string tag = fmt::format("/{} loss ", kEpochs);
    const fs::path file = k < 4 ? dir / fmt::format("train_{}.log", k) : log;
    for (const std::string& l : complete_lines(slurp(file))) {
      const auto at = l.find(tag);
      if (l.rfind("epoch ", 0) != 0 || at == std::string::npos) continue;
      const int64_t epoch = std::strtoll(l.c_str() + 6, nullptr, 10);
      const size_t from = at + tag.size();
      const std::string loss = l.substr(from, l.find(' ', from) - from);
      const auto [it, fresh_epoch] = loss_of.emplace(epoch, loss);
      if (!fresh_epoch) {
        CHECK(it->second == loss);
      }
    }
  }
  CHECK(loss_of.size() == kEpochs);

  // metrics.csv holds every epoch exactly once, in order, whatever the kills cut short.
  std::istringstream csv(slurp(run / "metrics.csv"));
  std::string line;
  std::getline(csv, line);
  CHECK_THAT(line, Catch::StartsWith("epoch,step,"));
  int64_t expect = 1;
  while (std::getline(csv, line)) {
    CHECK(std::strtoll(line.c_str(), nullptr, 10) == expect);
    ++expect;
  }
  CHECK(expect == kEpochs + 1);
  // No temporary of a killed write is left behind.
  for (const auto& e : fs::directory_iterator(run)) {
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
  }
}

namespace {

// A squeezenet1_1 checkpoint of the smoke config with Adam state, as train writes after `epoch`.
void write_smoke_checkpoint(const fs::path& path, int64_t epoch) {
  const faceid::Config config = faceid::test::smoke_config();
  torch::manual_seed(5);
  faceid::EmbeddingNet net(config.model, config.preprocess.input_size);
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(config.train.lr));
  faceid::CheckpointMeta meta;
  meta.epoch = epoch;
  meta.step = epoch * config.train.steps_per_epoch;
  meta.config_yaml = faceid::to_yaml(config);
  meta.metrics = {{"val_eer", 0.0}};  // unbeatable: a resumed run writes last.pt only
  meta.eer_threshold = 0.5;
  faceid::save_checkpoint(path, net, &adam, meta);
}

}  // namespace

TEST_CASE("apps: train refuses missing, corrupt and other-variant checkpoints with exit 2",
          "[kill][apps]") {
  const auto data = faceid::test::smoke_dataset();
  const auto dir = faceid::test::scratch_dir("ckpt-errors");
  const fs::path good = dir / "good.pt";
  write_smoke_checkpoint(good, 1);
  std::string out;

  const fs::path missing = dir / "missing.pt";
  CHECK(faceid::test::run_app("train", "--resume " + missing.string(), &out) == 2);
  CHECK_THAT(out, Catch::Contains("train: error: " + missing.string() + ": checkpoint not found"));

  std::string bytes = faceid::read_file(good);
  bytes[bytes.size() / 3] ^= 0x20;
  const fs::path bad = dir / "bad.pt";
  faceid::write_file_atomic(bad, bytes);
  CHECK(faceid::test::run_app("train", "--resume " + bad.string(), &out) == 2);
  CHECK_THAT(out, Catch::Contains("train: error: " + bad.string() +
                                  ": corrupt checkpoint (checksum mismatch)"));

  CHECK(faceid::test::run_app(
            "train",
            fmt::format("--config {}/configs/smoke.yaml --set data.root={} --set "
                        "model.variant=faceid_beta --init-from {} --out {}/run",
                        FACEID_SOURCE_DIR, data.string(), good.string(), dir.string()),
            &out) == 2);
  CHECK_THAT(out, Catch::Contains("train: error: " + good.string() +
                                  ": model.variant is squeezenet1_1, expected faceid_beta"));
  CHECK_FALSE(fs::exists(dir / "run" / "last.pt"));
}

TEST_CASE("apps: a checkpoint write that fails (disk full) exits 1 and keeps last.pt",
          "[kill][apps]") {
  faceid::test::smoke_dataset();
  const auto dir = faceid::test::scratch_dir("ckpt-write-fail");
  const fs::path last = dir / "last.pt";
  write_smoke_checkpoint(last, 1);
  fs::copy_file(last, dir / "best.pt");  // val_eer 0: this run finds no better one
  const std::string before = faceid::read_file(last);
  REQUIRE(before.size() > 2u << 20);  // the weights alone: well past the 1 MiB limit below
  // What killed writes leave behind goes; a file that only looks similar stays.
  for (const char* stale : {"last.pt.tmp.999.0", "config.yaml.tmp.12.3", "notes.tmp.txt"}) {
    std::ofstream(dir / stale) << "partial";
  }
  const fs::path log = dir / "train.log";
  const pid_t pid = spawn_app_limited("train", {"--resume", last.string()}, log, 1u << 20);
  const int status = wait_for(pid, 40.0);
  const std::string out = slurp(log);
  INFO(out);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  CHECK_THAT(out, Catch::Contains("resumed from " + last.string() + " at epoch 1,"));
  CHECK_THAT(out, Catch::Contains("train: error: " + last.string() +
                                  ": write failed: File too large"));
  CHECK(faceid::read_file(last) == before);  // the previous checkpoint, intact
  CHECK(faceid::read_file(dir / "best.pt") == before);
  CHECK(faceid::read_checkpoint_meta(last).epoch == 1);
  std::vector<std::string> temporaries;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp.") != std::string::npos) temporaries.push_back(name);
  }
  CHECK(temporaries == std::vector<std::string>{"notes.tmp.txt"});
}
