#include "faceid/core/worker_pool.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace faceid {
namespace {

// The first exception of a run, and the flag that tells every worker to stop taking indices.
class FirstError {
 public:
  bool raised() const { return raised_.load(); }

  // Called from a catch block: keeps the exception in flight if it is the first one.
  void capture() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = std::current_exception();
    raised_.store(true);
  }

  // After every worker has returned.
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::atomic<bool> raised_{false};
  std::mutex mutex_;
  std::exception_ptr error_;
};

// Runs body(w) for every w in [0, workers): 0 on the calling thread, the others on new threads,
// all joined before returning. A worker whose thread the system refuses runs here after body(0).
// body must not throw.
void run_workers(int workers, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(std::max(0, workers - 1)));
  int started = 1;
  for (; started < workers; ++started) {
    try {
      threads.emplace_back([&body, w = started] { body(w); });
    } catch (const std::system_error&) {
      break;
    }
  }
  body(0);
  for (int w = started; w < workers; ++w) body(w);
  for (auto& t : threads) t.join();
}

}  // namespace

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void parallel_for(size_t n, int threads, const std::function<void(size_t i)>& f,
                  const PoolProgress& progress) {
  if (n == 0) return;
  const auto workers = static_cast<int>(std::min(static_cast<size_t>(resolve_threads(threads)), n));
  std::atomic<size_t> next{0};
  FirstError error;
  std::mutex progress_mutex;  // guards done and the progress callback
  size_t done = 0;
  run_workers(workers, [&](int) {
    while (!error.raised()) {
      const size_t i = next.fetch_add(1);
      if (i >= n) return;
      try {
        f(i);
        if (progress) {
          std::lock_guard<std::mutex> lock(progress_mutex);
          progress(++done, n);
        }
      } catch (...) {
        error.capture();
        return;
      }
    }
  });
  error.rethrow();
}

void parallel_for_round_robin(size_t n, int threads,
                              const std::function<void(int worker, size_t i)>& f) {
  if (n == 0) return;
  const auto stride = static_cast<size_t>(resolve_threads(threads));
  const auto workers = static_cast<int>(std::min(stride, n));
  FirstError error;
  run_workers(workers, [&](int w) {
    try {
      for (size_t i = static_cast<size_t>(w); i < n && !error.raised(); i += stride) f(w, i);
    } catch (...) {
      error.capture();
    }
  });
  error.rethrow();
}

}  // namespace faceid
