// Distributed data-parallel training: the torchrun-style environment and the local launcher
// (`train --nproc N`). Torch-free: the process group itself is private to src/train/.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace faceid {

// One process's place in a data-parallel run, as torchrun describes it in the environment.
struct DistEnv {
  int rank = 0;                 // RANK: 0 .. world_size-1; rank 0 writes the run folder
  int world_size = 1;           // WORLD_SIZE: processes in the run
  int local_rank = 0;           // LOCAL_RANK: index on this machine (picks cuda:LOCAL_RANK)
  int local_world_size = 1;     // LOCAL_WORLD_SIZE: processes on this machine (share its cores)
  std::string master_addr;      // MASTER_ADDR: host of rank 0's TCPStore
  int master_port = 0;          // MASTER_PORT: its port
  bool distributed() const { return world_size > 1; }
};

// Reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT through `getenv`. None of
// RANK and WORLD_SIZE set: a single process. Otherwise RANK, WORLD_SIZE, MASTER_ADDR and
// MASTER_PORT are required (LOCAL_RANK defaults to RANK, LOCAL_WORLD_SIZE to WORLD_SIZE); a missing, non-numeric or
// out-of-range value throws Errc::bad_input naming the variable.
DistEnv parse_dist_env(const std::function<const char*(const char*)>& getenv);
// The same from the process environment.
DistEnv dist_env_from_environment();

// `train --nproc N`: runs N copies of this executable (/proc/self/exe) with `args` (argv without
// argv[0] and without --nproc) and RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a
// free MASTER_PORT in their environment, then waits for all of them. When a worker fails, the
// others get `grace` to exit on their own (they notice the lost peer and stop), then SIGTERM.
// Returns 0 when every worker exited 0, else the first failure's exit code (1 for a signal).
// Throws Errc::bad_input when nproc < 1 or the environment already names a rank.
int launch_local_workers(int nproc, const std::vector<std::string>& args,
                         std::chrono::seconds grace,
                         const std::function<void(const std::string&)>& log);

// argv[1..] without `--nproc N` / `--nproc=N` (what launch_local_workers passes on).
std::vector<std::string> args_without_nproc(int argc, const char* const* argv);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
int free_local_port();

}  // namespace faceid
