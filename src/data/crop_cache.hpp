// The on-disk cache file of one preprocessed frame (private to the data stage).
//
// Layout (native-endian), 96-byte header, payload, 8-byte checksum of everything before it:
//   0  char[8] magic "FIDCROP\n"      8  u32 version            12 u32 status (1 crop, 0 no face)
//   16 u64 preprocess fingerprint     24 u64 depth file size     32 i64 depth mtime (ns)
//   40 u64 colour file size           48 i64 colour mtime (ns)   56 i32 S   60 i32 channels
//   64 f32 box x, y, w, h, head_z_mm, valid_fraction             88 u32 reason bytes  92 u32 0
//   96 payload: channels*S*S f32 (status 1) or the no-face reason (status 0)
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "faceid/io/frame.hpp"
#include "faceid/preprocess/preprocess.hpp"

namespace faceid {

constexpr uint32_t kCropCacheVersion = 1;

// What makes an entry current: the preprocessing config and both source files.
struct CropCacheKey {
  uint64_t fingerprint = 0;
  uint64_t depth_size = 0;
  int64_t depth_mtime_ns = 0;
  uint64_t color_size = 0;
  int64_t color_mtime_ns = 0;
  bool operator==(const CropCacheKey& o) const {
    return fingerprint == o.fingerprint && depth_size == o.depth_size &&
           depth_mtime_ns == o.depth_mtime_ns && color_size == o.color_size &&
           color_mtime_ns == o.color_mtime_ns;
  }
};

// The compact in-memory form of a crop (data.compact_crops): the 3 colour planes as 8-bit
// unnormalised intensities, then the depth plane as IEEE half floats (native-endian), and back.
std::vector<uint8_t> encode_compact_crop(const std::vector<float>& chw, int size);
void decode_compact_crop(const std::vector<uint8_t>& bytes, int size, float* chw);

// Stats both source files; false when either cannot be stat'ed (load_frame will name it).
bool crop_cache_key(const FrameRef& ref, uint64_t fingerprint, CropCacheKey& key);

// <root>/pp-<fingerprint hex>/<identity>/<depth stem>.crop
std::filesystem::path crop_cache_path(const std::filesystem::path& root, uint64_t fingerprint,
                                      const FrameRef& ref);

// The bytes of a cache file for `result` (a crop, or no face with its reason).
std::string encode_crop_cache(const CropCacheKey& key, const PreprocessResult& result);

enum class CacheLookup { hit, missing, stale, corrupt };

// Reads and verifies a cache file against `key`; on a hit fills `out` (crop with pixels, or the
// no-face reason). Never throws for a bad file: a cache problem is a miss.
CacheLookup read_crop_cache(const std::filesystem::path& path, const CropCacheKey& key,
                            PreprocessResult& out);

// Reads only the pixels of a verified crop file of side `size` into `pixels` (training-time read
// of a store that is not memory-resident). False when the file is missing, changed or corrupt.
bool read_crop_cache_pixels(const std::filesystem::path& path, int size, float* pixels);

// A fast 64-bit checksum (4 lanes of multiply-xorshift, ~10 GB/s): detects corruption, not
// tampering. Incremental: update() any number of times, then finish().
class Checksum64 {
 public:
  void update(const void* data, size_t bytes);
  uint64_t finish() const;

 private:
  void block(const unsigned char* p);
  uint64_t lanes_[4] = {0x9E3779B97F4A7C15ULL, 0xC2B2AE3D27D4EB4FULL, 0x165667B19E3779F9ULL,
                        0x85EBCA77C2B2AE63ULL};
  unsigned char pending_[32] = {};
  size_t pending_bytes_ = 0;
  uint64_t total_ = 0;
};

}  // namespace faceid
