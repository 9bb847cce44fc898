// The one worker pool of faceid: run f(i) for every i in [0, n) on T threads, then return. Used by
// the frame store's loader, the synthetic generator, the all-pairs distances and inspect_data.
//
// Why not OpenMP or at::parallel_for: core is torch-free (eval, data and synth must not pull in
// LibTorch for a loop), and an OpenMP team here would compete with LibTorch's own OpenMP pool and
// with the threads of Debian's OpenMP build of OpenBLAS in the same process. The loops are coarse
// (a frame to load or render, a tile of a GEMM), so plain std::threads started per call cost
// nothing measurable, and the pool stays small enough to state exactly what it guarantees.
//
// Both forms run index work on the calling thread too (as worker 0) and start the other workers
// on new threads, joined before returning. Should the system refuse a thread, the caller runs that
// worker's share itself. The first exception thrown by f (or by progress) stops the hand-out of
// further indices: indices already running finish, then the exception is rethrown in the caller.
#pragma once

#include <cstddef>
#include <functional>

namespace faceid {

// A worker count: threads > 0 as given, threads <= 0 the hardware threads (1 when unknown).
int resolve_threads(int threads);

// Called after each index that finished without throwing: (finished so far, n). Calls are
// serialised and the count goes 1, 2, ..., n.
using PoolProgress = std::function<void(size_t done, size_t total)>;

// Runs f(i) for every i in [0, n) on min(resolve_threads(threads), n) threads, each taking the
// next index not yet started. Which thread runs an index varies from run to run: use it when the
// results land in per-index slots (or files), not when the assignment matters.
void parallel_for(size_t n, int threads, const std::function<void(size_t i)>& f,
                  const PoolProgress& progress = {});

// Runs f(worker, i) for every i in [0, n) with a fixed assignment: worker w of
// T = resolve_threads(threads) runs i = w, w + T, w + 2T, ... in increasing order (workers
// without an index, w >= n, do not start). For per-worker accumulators sized by
// resolve_threads(threads) and merged in worker order: the result does not depend on timing.
void parallel_for_round_robin(size_t n, int threads,
                              const std::function<void(int worker, size_t i)>& f);

}  // namespace faceid
