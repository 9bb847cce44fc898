// The data path: .dat parsing, text frame loading + preprocessing, and the FrameStore cache.
#include <chrono>

#include <fmt/format.h>

#include "faceid/bench/bench.hpp"
#include "faceid/data/frame_store.hpp"
#include "faceid/core/error.hpp"
#include "faceid/io/dataset.hpp"
#include "faceid/io/depth_io.hpp"
#include "faceid/preprocess/preprocess.hpp"
#include "faceid/synth/synth.hpp"

namespace faceid {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::vector<std::string> identities(const Dataset& dataset) {
  std::vector<std::string> names;
  for (const Person& p : dataset.persons) names.push_back(p.identity);
  return names;
}

void check_repeat(int repeat, const char* what) {
  if (repeat < 1) throw_bad_input(fmt::format("{}: expected repeat >= 1, got {}", what, repeat));
}

}  // namespace

std::filesystem::path ensure_bench_dataset(const std::filesystem::path& root, int persons,
                                           int sessions, int poses) {
  SynthOptions options;
  options.out = root;
  options.persons = persons;
  options.sessions = sessions;
  options.poses = poses;
  options.seed = 1;
  options.compact = false;  // BMP + text .dat: what "from text files" measures
  generate_synth_dataset(options);  // keeps complete frames that are already there
  return root;
}

TimedSamples bench_parse_dat(int repeat, size_t* bytes) {
  check_repeat(repeat, "parse bench");
  const std::string text = format_depth_dat(render_synth_frame(1, 0, 1, 9).depth_raw);
  if (bytes) *bytes = text.size();
  (void)parse_depth_dat(text, "bench.dat");  // untimed: page in
  TimedSamples samples;
  const auto mb = static_cast<double>(text.size()) / 1e6;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_seconds();
    int64_t count = 0;
    double seconds = 0.0;
    do {
      const DepthMap depth = parse_depth_dat(text, "bench.dat");
      if (depth.mm.empty()) throw_internal("parse bench: empty depth map");
      ++count;
      seconds = seconds_since(t0);
    } while (seconds < 0.2);
    samples.wall.push_back(mb * static_cast<double>(count) / seconds);
    samples.cpu.push_back(mb * static_cast<double>(count) / (thread_cpu_seconds() - c0));
  }
  return samples;
}

LoadBench bench_load_text(const std::filesystem::path& root, const PreprocessConfig& preprocess,
                          int repeat) {
  check_repeat(repeat, "load bench");
  const Dataset dataset = scan_dataset(root, /*strict=*/true);
  std::vector<const FrameRef*> refs;
  for (const Person& p : dataset.persons) {
    for (const FrameRef& f : p.frames) refs.push_back(&f);
  }
  LoadBench out;
  out.frames = refs.size();
  const auto n = static_cast<double>(refs.size());
  for (int r = 0; r < repeat; ++r) {
    double read_s = 0.0;
    double pre_s = 0.0;
    const double c0 = thread_cpu_seconds();
    for (const FrameRef* ref : refs) {
      const auto t0 = Clock::now();
      const Frame frame = load_frame(*ref);
      const auto t1 = Clock::now();
      const PreprocessResult result = faceid::preprocess(frame, preprocess);
      pre_s += seconds_since(t1);
      read_s += std::chrono::duration<double>(t1 - t0).count();
      if (result.ok && result.crop.chw.empty()) throw_internal("load bench: empty crop");
    }
    out.read_fps.push_back(n / read_s);
    out.preprocess_fps.push_back(n / pre_s);
    out.total_fps.push_back(n / (read_s + pre_s));
    out.total_fps_cpu.push_back(n / (thread_cpu_seconds() - c0));
  }
  return out;
}

std::vector<double> bench_frame_store(const std::filesystem::path& root, const DataConfig& data,
                                      const PreprocessConfig& preprocess,
                                      const std::filesystem::path& cache_dir, bool from_cache,
                                      int repeat) {
  check_repeat(repeat, "frame store bench");
  const Dataset dataset = scan_dataset(root, /*strict=*/true);
  const std::vector<std::string> persons = identities(dataset);
  DataConfig d = data;
  d.memory_cache = true;
  d.max_frames_per_person = 0;
  d.cache_dir = from_cache ? cache_dir.string() : std::string();
  if (from_cache) (void)FrameStore::load(dataset, persons, d, preprocess);  // fill, untimed
  std::vector<double> samples;
  for (int r = 0; r < repeat; ++r) {
    const FrameStore store = FrameStore::load(dataset, persons, d, preprocess);
    if (from_cache && store.stats().computed != 0) {
      throw_internal(fmt::format("frame store bench: {} frames missed the warm cache in {}",
                                 store.stats().computed, cache_dir.string()));
    }
    const size_t frames = store.size() + store.skipped().size();
    samples.push_back(static_cast<double>(frames) / store.stats().seconds);
  }
  return samples;
}

}  // namespace faceid
