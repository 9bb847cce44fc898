// The torchrun-style environment and the local launcher of `train --nproc N`.
#include "faceid/train/distributed.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "faceid/core/error.hpp"

extern char** environ;

namespace faceid {
namespace {

constexpr const char* kTorchrunVars = "RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT";

int env_int(const std::function<const char*(const char*)>& getenv, const char* name, int lo,
            int hi) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') {
    throw_bad_input(fmt::format("environment: {} is not set (a torchrun-style launch sets {}; "
                                "LOCAL_RANK is optional)", name, kTorchrunVars));
  }
  errno = 0;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0') {
    throw_bad_input(fmt::format("environment: {}='{}' is not an integer", name, v));
  }
  if (x < lo || x > hi) {
    throw_bad_input(fmt::format("environment: {}={} is out of range [{}, {}]", name, x, lo, hi));
  }
  return static_cast<int>(x);
}

}  // namespace

DistEnv parse_dist_env(const std::function<const char*(const char*)>& getenv) {
  DistEnv env;
  const char* rank = getenv("RANK");
  const char* world = getenv("WORLD_SIZE");
  if (rank == nullptr && world == nullptr) return env;
  env.world_size = env_int(getenv, "WORLD_SIZE", 1, 1 << 16);
  env.rank = env_int(getenv, "RANK", 0, env.world_size - 1);
  const char* local = getenv("LOCAL_RANK");
  env.local_rank = local == nullptr ? env.rank : env_int(getenv, "LOCAL_RANK", 0, 1 << 16);
  const char* local_world = getenv("LOCAL_WORLD_SIZE");
  env.local_world_size = local_world == nullptr
                             ? env.world_size
                             : env_int(getenv, "LOCAL_WORLD_SIZE", 1, 1 << 16);
  const char* addr = getenv("MASTER_ADDR");
  if (addr == nullptr || *addr == '\0') {
    throw_bad_input(fmt::format("environment: MASTER_ADDR is not set (a torchrun-style launch "
                                "sets {}; LOCAL_RANK is optional)", kTorchrunVars));
  }
  env.master_addr = addr;
  env.master_port = env_int(getenv, "MASTER_PORT", 1, 65535);
  return env;
}

DistEnv dist_env_from_environment() {
  return parse_dist_env([](const char* name) { return std::getenv(name); });
}

std::vector<std::string> args_without_nproc(int argc, const char* const* argv) {
  std::vector<std::string> out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--nproc") {
      ++i;  // and its value
      continue;
    }
    if (a.rfind("--nproc=", 0) == 0) continue;
    out.push_back(a);
  }
  return out;
}

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw_io(fmt::format("free port: socket(): {}", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw_io(fmt::format("free port: cannot bind 127.0.0.1:0: {}", why));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

int launch_local_workers(int nproc, const std::vector<std::string>& args,
                         std::chrono::seconds grace,
                         const std::function<void(const std::string&)>& log) {
  if (nproc < 1) throw_bad_input(fmt::format("--nproc: expected >= 1, got {}", nproc));
  if (std::getenv("RANK") != nullptr || std::getenv("WORLD_SIZE") != nullptr) {
    throw_bad_input("--nproc launches its own workers: unset RANK and WORLD_SIZE (or launch "
                    "with torchrun-style variables and without --nproc)");
  }
  const int port = free_local_port();
  const std::string exe = "/proc/self/exe";

  // The environment of every worker: ours without the torchrun variables, then rank's own.
  std::vector<std::string> base_env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('='));
    if (key == "RANK" || key == "WORLD_SIZE" || key == "LOCAL_RANK" || key == "MASTER_ADDR" ||
        key == "MASTER_PORT") {
      continue;
    }
    base_env.push_back(kv);
  }
  std::vector<pid_t> pids;
  auto stop_all = [&](int sig) {
    for (pid_t p : pids) {
      if (p > 0) ::kill(p, sig);
    }
  };
  for (int r = 0; r < nproc; ++r) {
    std::vector<std::string> env = base_env;
    env.push_back(fmt::format("RANK={}", r));
    env.push_back(fmt::format("LOCAL_RANK={}", r));
    env.push_back(fmt::format("WORLD_SIZE={}", nproc));
    env.push_back(fmt::format("LOCAL_WORLD_SIZE={}", nproc));
    env.push_back("MASTER_ADDR=127.0.0.1");
    env.push_back(fmt::format("MASTER_PORT={}", port));
    std::vector<char*> envp;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_s = {"train"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), envp.data());
    if (rc != 0) {
      stop_all(SIGTERM);
      for (pid_t p : pids) ::waitpid(p, nullptr, 0);
      throw_io(fmt::format("--nproc: cannot start worker {} ({}): {}", r, exe, std::strerror(rc)));
    }
    pids.push_back(pid);
  }
  log(fmt::format("launched {} workers on 127.0.0.1:{}", nproc, port));

  int first_failure = 0;
  auto deadline = std::chrono::steady_clock::time_point::max();
  int running = nproc;
  bool terminated = false;
  while (running > 0) {
    for (int r = 0; r < nproc; ++r) {
      if (pids[static_cast<size_t>(r)] <= 0) continue;
      int status = 0;
      const pid_t got = ::waitpid(pids[static_cast<size_t>(r)], &status, WNOHANG);
      if (got == 0) continue;
      pids[static_cast<size_t>(r)] = -1;
      --running;
      int code = 0;
      if (got < 0) {
        code = 1;
        log(fmt::format("worker rank {}: lost ({})", r, std::strerror(errno)));
      } else if (WIFEXITED(status)) {
        code = WEXITSTATUS(status);
        if (code != 0) log(fmt::format("worker rank {} exited with code {}", r, code));
      } else if (WIFSIGNALED(status)) {
        code = 1;
        if (!terminated) {
          log(fmt::format("worker rank {} killed by signal {}", r, WTERMSIG(status)));
        }
      }
      if (code != 0 && first_failure == 0) {
        first_failure = code;
        deadline = std::chrono::steady_clock::now() + grace;
      }
    }
    if (running > 0 && !terminated && std::chrono::steady_clock::now() >= deadline) {
      log(fmt::format("stopping the {} remaining worker(s)", running));
      stop_all(SIGTERM);
      terminated = true;
    }
    if (running > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return first_failure;
}

}  // namespace faceid
