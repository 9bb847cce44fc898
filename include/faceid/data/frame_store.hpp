// The cache of preprocessed frames that training reads from: every usable frame of a list of
// persons as a FaceCrop, in memory and (optionally) on disk, so text depth files are parsed once
// per dataset instead of once per step.
//
// Disk cache (DataConfig::cache_dir, relative paths under the dataset root): one file per frame,
// <cache_dir>/pp-<preprocess fingerprint>/<identity>/<depth file stem>.crop, keyed by the size and
// modification time of the depth and colour files and by preprocess_fingerprint(). A stale entry
// (any key differs), a corrupt or truncated file (magic, version, size and checksum are checked)
// is silently recomputed; frames with no face are cached too (with their reason). Files are
// written atomically. An unwritable cache folder gives one warning on stderr and loading goes on
// in memory. The format is native-endian (little-endian hosts): it is a cache, not an archive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "faceid/core/config.hpp"
#include "faceid/io/dataset.hpp"
#include "faceid/preprocess/preprocess.hpp"

namespace faceid {

// One usable frame.
struct StoredFrame {
  FaceCrop crop;  // crop.chw is empty when the store is not memory-resident (see crop_data)
  int person = 0; // index into FrameStore::persons()
  FrameRef ref;
};

// A frame left out, and why (e.g. the preprocess no-face reason). Never dropped silently.
struct SkippedFrame {
  FrameRef ref;
  std::string reason;
};

struct FrameStoreStats {
  size_t cache_hits = 0;       // frames read from the disk cache
  size_t computed = 0;         // frames loaded and preprocessed (cache miss, stale or corrupt)
  size_t cache_rejected = 0;   // cache files found but stale or corrupt (included in computed)
  size_t cache_writes = 0;     // cache files written
  bool cache_unwritable = false;  // the warning was given; frames were kept in memory
  double seconds = 0.0;        // wall time of load()
};

// (frames done, frames total); called from one thread at a time.
using LoadProgress = std::function<void(size_t done, size_t total)>;

class FrameStore {
 public:
  FrameStore() = default;
  FrameStore(FrameStore&&) = default;
  FrameStore& operator=(FrameStore&&) = default;
  FrameStore(const FrameStore&) = delete;  // it may hold gigabytes: move it or share a reference
  FrameStore& operator=(const FrameStore&) = delete;

  // A store over frames already in memory (synthetic crops, tests). Every frame must have a
  // person index into `persons` and a crop of one common size with kChannels*S*S floats.
  FrameStore(std::vector<std::string> persons, std::vector<StoredFrame> frames,
             std::vector<SkippedFrame> skipped = {});

  // Loads every frame of `persons` (identities of `dataset`, in this order: person indices follow
  // it) through load_frame + preprocess, or from the disk cache, on max(1, data.workers) threads.
  // data.max_frames_per_person > 0 keeps that many frames a person, evenly spaced over the
  // (pose, repetition) order, chosen before preprocessing (a no-face frame is not replaced).
  // For validation, pass a copy of `data` with max_frames_per_person = train.val_max_frames_per_person.
  // data.memory_cache = false keeps only metadata in memory and reads crops from the disk cache
  // (needs data.cache_dir). Throws Errc::bad_input for an unknown person or unreadable frame.
  static FrameStore load(const Dataset& dataset, const std::vector<std::string>& persons,
                         const DataConfig& data, const PreprocessConfig& preprocess,
                         const LoadProgress& progress = {});

  size_t size() const { return frames_.size(); }
  bool empty() const { return frames_.empty(); }
  int crop_size() const { return crop_size_; }  // S (0 when empty)
  size_t crop_floats() const { return static_cast<size_t>(kChannels) * crop_size_ * crop_size_; }

  const std::vector<std::string>& persons() const { return persons_; }
  const std::vector<StoredFrame>& frames() const { return frames_; }
  const StoredFrame& frame(size_t i) const { return frames_.at(i); }
  // Frame indices of each person (same order as persons()); may be empty for a person whose
  // frames were all skipped.
  const std::vector<std::vector<int>>& frames_by_person() const { return by_person_; }
  const std::vector<SkippedFrame>& skipped() const { return skipped_; }
  const FrameStoreStats& stats() const { return stats_; }

  // True when the crops are held compactly (data.compact_crops): colour as 8-bit values of the
  // unnormalised [0, 1] intensity (exact for crops resampled as 8-bit, as preprocess does;
  // within 1/510 otherwise), depth as 16-bit floats (relative error below 1e-3): 3.2x less
  // memory than floats.
  bool compact() const { return !compact_.empty(); }
  // Bytes the crops take in memory (floats or compact; 0 for crops left on disk).
  size_t memory_bytes() const;

  // The crop_floats() floats of frame i: a pointer into memory, or, for a frame kept only on
  // disk or compactly, the cache file read or the compact crop decoded into `scratch` (Errc::io
  // if the cache file changed since loading).
  // Thread-safe; the pointer stays valid while the store and `scratch` live unchanged.
  const float* crop_data(size_t i, std::vector<float>& scratch) const;

 private:
  void index_persons();

  std::vector<std::string> persons_;
  std::vector<StoredFrame> frames_;
  std::vector<std::filesystem::path> disk_paths_;  // per frame when not memory-resident
  std::vector<std::vector<uint8_t>> compact_;       // per frame when data.compact_crops
  std::vector<std::vector<int>> by_person_;
  std::vector<SkippedFrame> skipped_;
  FrameStoreStats stats_;
  int crop_size_ = 0;
};

// Pointers to every crop of `store`, in frame order; crops kept only in the disk cache are read
// into `owned`, which must outlive the pointers.
std::vector<const float*> crop_pointers(const FrameStore& store,
                                        std::vector<std::vector<float>>& owned);

}  // namespace faceid
