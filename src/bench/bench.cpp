// Statistics, figure formatting, process figures and the sgemm ceiling.
#include "faceid/bench/bench.hpp"

#include <fmt/format.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

#include "faceid/core/error.hpp"

namespace faceid {
namespace {

using Clock = std::chrono::steady_clock;

double interpolate(const std::vector<double>& sorted, double q) {
  const double k = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(k));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (k - static_cast<double>(lo));
}

std::string number(double v) {
  if (!std::isfinite(v)) return "nan";
  return fmt::format("{:.4g}", v);
}

}  // namespace

SampleStats summarize(std::vector<double> samples) {
  SampleStats s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.median = interpolate(samples, 0.5);
  s.p99 = interpolate(samples, 0.99);
  s.min = samples.front();
  s.max = samples.back();
  return s;
}

std::string format_figure(const BenchFigure& f) {
  std::string line = fmt::format("{}: {} ({})", f.name, number(f.stats.median), f.unit);
  if (f.show_p99) line += fmt::format(" p99 {}", number(f.stats.p99));
  if (std::isfinite(f.ratio)) line += fmt::format(" ratio {} {}", number(f.ratio), f.ratio_label);
  line += fmt::format(" [n={}]", f.stats.count);
  return line;
}

double thread_cpu_seconds() {
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) {
    throw_internal("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
  }
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double peak_rss_mib() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) throw_internal("getrusage(RUSAGE_SELF) failed");
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

int set_bench_threads(int threads) {
  if (threads < 0) throw_bad_input(fmt::format("--threads: expected >= 0, got {}", threads));
  if (threads > 0) torch::set_num_threads(threads);
  return torch::get_num_threads();
}

std::vector<double> bench_sgemm(int n, int repeat) {
  if (n < 1 || repeat < 1) {
    throw_bad_input(fmt::format("sgemm: expected size >= 1 and repeat >= 1, got {} and {}", n,
                                repeat));
  }
  torch::NoGradGuard no_grad;
  const auto a = torch::randn({n, n});
  const auto b = torch::randn({n, n});
  auto c = torch::empty({n, n});
  torch::mm_out(c, a, b);  // untimed: page in, spin up the thread pool
  const double flops = 2.0 * n * static_cast<double>(n) * n;
  std::vector<double> samples;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = Clock::now();
    int64_t count = 0;
    double seconds = 0.0;
    do {
      torch::mm_out(c, a, b);
      ++count;
      seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    } while (seconds < 0.2);
    samples.push_back(flops * static_cast<double>(count) / seconds / 1e9);
  }
  return samples;
}

}  // namespace faceid
