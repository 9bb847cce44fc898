// FrameStore::load: the only part of the data stage that reads the dataset (load_frame) and runs
// preprocess; kept in its own file so the rest links without the reader.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <system_error>

#include <fmt/format.h>

#include "data/crop_cache.hpp"
#include "faceid/data/frame_store.hpp"
#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/core/worker_pool.hpp"

namespace faceid {
namespace {

struct Job {
  int person = 0;
  const FrameRef* ref = nullptr;
};

struct JobResult {
  PreprocessResult result;
  std::filesystem::path disk_path;  // set when the pixels are left on disk only
  std::vector<uint8_t> compact;     // set when data.compact_crops (result.crop.chw then freed)
};

// Evenly spaced indices: keep frames floor(j * n / m) for j < m.
std::vector<size_t> pick_frames(size_t n, int max_frames) {
  const size_t m = max_frames > 0 ? std::min(n, static_cast<size_t>(max_frames)) : n;
  std::vector<size_t> picked(m);
  for (size_t j = 0; j < m; ++j) picked[j] = j * n / m;
  return picked;
}

class CacheWriter {
 public:
  explicit CacheWriter(std::filesystem::path folder) : folder_(std::move(folder)) {}

  bool writable() const { return !failed_.load(); }
  bool warned() const { return failed_.load(); }

  // Creates the folder; false (after the one warning) when it cannot be created.
  bool prepare(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) warn(ec.message());
    return !ec;
  }

  // Writes one entry; false (after the one warning) when the cache is unwritable.
  bool write(const std::filesystem::path& path, const std::string& bytes) {
    if (failed_.load()) return false;
    try {
      write_file_atomic(path, bytes);
      return true;
    } catch (const Error& e) {
      warn(e.what());
      return false;
    }
  }

 private:
  void warn(const std::string& why) {
    if (!failed_.exchange(true)) {
      std::fprintf(stderr,
                   "faceid: warning: cache folder %s is not writable (%s); preprocessed frames "
                   "are kept in memory only\n",
                   folder_.string().c_str(), why.c_str());
    }
  }

  std::filesystem::path folder_;
  std::atomic<bool> failed_{false};
};

}  // namespace

FrameStore FrameStore::load(const Dataset& dataset, const std::vector<std::string>& persons,
                            const DataConfig& data, const PreprocessConfig& preprocess,
                            const LoadProgress& progress) {
  const auto start = std::chrono::steady_clock::now();

  std::vector<Job> jobs;
  for (size_t p = 0; p < persons.size(); ++p) {
    const Person* person = dataset.find(persons[p]);
    if (person == nullptr) {
      throw_bad_input(
          fmt::format("dataset {}: unknown person '{}'", dataset.root.string(), persons[p]));
    }
    for (const size_t i : pick_frames(person->frames.size(), data.max_frames_per_person)) {
      jobs.push_back({static_cast<int>(p), &person->frames[i]});
    }
  }

  std::filesystem::path cache_root;
  if (!data.cache_dir.empty()) {
    const std::filesystem::path dir(data.cache_dir);
    cache_root = dir.is_absolute() ? dir : dataset.root / dir;
  }
  if (!data.memory_cache && cache_root.empty()) {
    throw_bad_input("data.memory_cache: false needs data.cache_dir (crops are then read from the "
                    "disk cache)");
  }
  const bool use_cache = !cache_root.empty();
  const uint64_t fingerprint = preprocess_fingerprint(preprocess);
  CacheWriter writer(cache_root);
  if (use_cache) {
    const std::filesystem::path folder = cache_root / fmt::format("pp-{:016x}", fingerprint);
    for (const std::string& name : persons) {
      if (!writer.prepare(folder / name)) break;
    }
  }

  std::vector<JobResult> results(jobs.size());
  std::atomic<size_t> hits{0}, computed{0}, rejected{0}, writes{0};

  auto run_job = [&](size_t j) {
    const FrameRef& ref = *jobs[j].ref;
    JobResult& out = results[j];
    CropCacheKey key;
    std::filesystem::path path;
    const bool keyed = use_cache && crop_cache_key(ref, fingerprint, key);
    if (keyed) {
      path = crop_cache_path(cache_root, fingerprint, ref);
      const CacheLookup found = read_crop_cache(path, key, out.result);
      if (found == CacheLookup::hit) {
        if (out.result.ok && !data.memory_cache) {
          out.disk_path = path;
          std::vector<float>().swap(out.result.crop.chw);
        }
        ++hits;
        return;
      }
      if (found != CacheLookup::missing) ++rejected;
    }
    out.result = faceid::preprocess(load_frame(ref), preprocess);
    ++computed;
    if (keyed && writer.writable()) {
      if (writer.write(path, encode_crop_cache(key, out.result))) {
        ++writes;
        if (out.result.ok && !data.memory_cache) {
          out.disk_path = path;
          std::vector<float>().swap(out.result.crop.chw);
        }
      }
    }
  };

  const bool compact = data.compact_crops && data.memory_cache;
  auto load_job = [&](size_t j) {
    run_job(j);
    JobResult& r = results[j];
    if (compact && r.result.ok && !r.result.crop.chw.empty()) {
      r.compact = encode_compact_crop(r.result.crop.chw, r.result.crop.size);
      std::vector<float>().swap(r.result.crop.chw);
    }
  };
  parallel_for(jobs.size(), std::max(1, data.workers), load_job, progress);

  FrameStore store;
  store.persons_ = persons;
  for (size_t j = 0; j < jobs.size(); ++j) {
    JobResult& r = results[j];
    if (!r.result.ok) {
      store.skipped_.push_back({*jobs[j].ref, std::move(r.result.no_face_reason)});
      continue;
    }
    if (store.frames_.empty()) {
      store.crop_size_ = r.result.crop.size;
    } else if (r.result.crop.size != store.crop_size_) {
      throw_internal(fmt::format("{}: crop of side {}, others have side {}",
                                 jobs[j].ref->depth_path.string(), r.result.crop.size,
                                 store.crop_size_));
    }
    if (!r.disk_path.empty()) {
      store.disk_paths_.resize(store.frames_.size() + 1);
      store.disk_paths_.back() = std::move(r.disk_path);
    }
    if (compact) store.compact_.push_back(std::move(r.compact));
    store.frames_.push_back({std::move(r.result.crop), jobs[j].person, *jobs[j].ref});
  }
  store.index_persons();
  store.stats_.cache_hits = hits.load();
  store.stats_.computed = computed.load();
  store.stats_.cache_rejected = rejected.load();
  store.stats_.cache_writes = writes.load();
  store.stats_.cache_unwritable = writer.warned();
  store.stats_.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return store;
}

}  // namespace faceid
