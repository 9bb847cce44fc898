#include "faceid/data/frame_store.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "data/crop_cache.hpp"
#include "faceid/core/error.hpp"

namespace faceid {

FrameStore::FrameStore(std::vector<std::string> persons, std::vector<StoredFrame> frames,
                       std::vector<SkippedFrame> skipped)
    : persons_(std::move(persons)), frames_(std::move(frames)), skipped_(std::move(skipped)) {
  for (size_t i = 0; i < frames_.size(); ++i) {
    const StoredFrame& f = frames_[i];
    if (f.person < 0 || static_cast<size_t>(f.person) >= persons_.size()) {
      throw_internal(fmt::format("FrameStore: frame {} has person index {} of {} persons", i,
                                 f.person, persons_.size()));
    }
    if (i == 0) crop_size_ = f.crop.size;
    const size_t floats = static_cast<size_t>(kChannels) * crop_size_ * crop_size_;
    if (f.crop.size != crop_size_ || f.crop.size <= 0 || f.crop.chw.size() != floats) {
      throw_internal(fmt::format(
          "FrameStore: frame {} is a crop of side {} with {} floats; expected side {} ({} floats)",
          i, f.crop.size, f.crop.chw.size(), crop_size_, floats));
    }
  }
  index_persons();
}

void FrameStore::index_persons() {
  by_person_.assign(persons_.size(), {});
  for (size_t i = 0; i < frames_.size(); ++i) {
    by_person_[static_cast<size_t>(frames_[i].person)].push_back(static_cast<int>(i));
  }
}

std::vector<uint8_t> encode_compact_crop(const std::vector<float>& chw, int size) {
  const size_t plane = static_cast<size_t>(size) * size;
  std::vector<uint8_t> out(3 * plane + plane * sizeof(uint16_t));
  for (int c = 0; c < 3; ++c) {
    const float* src = chw.data() + c * plane;
    uint8_t* dst = out.data() + c * plane;
    for (size_t k = 0; k < plane; ++k) {
      const float v = (src[k] * kColorStd[c] + kColorMean[c]) * 255.0f;
      dst[k] = static_cast<uint8_t>(std::lround(std::clamp(v, 0.0f, 255.0f)));
    }
  }
  const float* depth = chw.data() + 3 * plane;
  uint8_t* dst = out.data() + 3 * plane;
  for (size_t k = 0; k < plane; ++k) {
    const uint16_t bits = Eigen::numext::bit_cast<uint16_t>(Eigen::half(depth[k]));
    std::memcpy(dst + k * sizeof bits, &bits, sizeof bits);
  }
  return out;
}

void decode_compact_crop(const std::vector<uint8_t>& bytes, int size, float* chw) {
  const size_t plane = static_cast<size_t>(size) * size;
  for (int c = 0; c < 3; ++c) {
    float lut[256];
    for (int b = 0; b < 256; ++b) lut[b] = (static_cast<float>(b) / 255.0f - kColorMean[c]) / kColorStd[c];
    const uint8_t* src = bytes.data() + c * plane;
    float* dst = chw + c * plane;
    for (size_t k = 0; k < plane; ++k) dst[k] = lut[src[k]];
  }
  const uint8_t* src = bytes.data() + 3 * plane;
  float* dst = chw + 3 * plane;
  for (size_t k = 0; k < plane; ++k) {
    uint16_t bits;
    std::memcpy(&bits, src + k * sizeof bits, sizeof bits);
    dst[k] = static_cast<float>(Eigen::numext::bit_cast<Eigen::half>(bits));
  }
}

size_t FrameStore::memory_bytes() const {
  size_t bytes = 0;
  for (const auto& c : compact_) bytes += c.size();
  for (const auto& f : frames_) bytes += f.crop.chw.size() * sizeof(float);
  return bytes;
}

const float* FrameStore::crop_data(size_t i, std::vector<float>& scratch) const {
  const StoredFrame& f = frames_.at(i);
  if (!f.crop.chw.empty()) return f.crop.chw.data();
  if (!compact_.empty()) {
    scratch.resize(crop_floats());
    decode_compact_crop(compact_.at(i), crop_size_, scratch.data());
    return scratch.data();
  }
  const std::filesystem::path& path = disk_paths_.at(i);
  scratch.resize(crop_floats());
  if (!read_crop_cache_pixels(path, crop_size_, scratch.data())) {
    throw_io(fmt::format("{}: cache file of a loaded frame is missing, changed or corrupt "
                         "(something else writes to the cache folder?)",
                         path.string()));
  }
  return scratch.data();
}

std::vector<const float*> crop_pointers(const FrameStore& store,
                                        std::vector<std::vector<float>>& owned) {
  std::vector<const float*> ptrs;
  ptrs.reserve(store.size());
  owned.reserve(store.size());
  std::vector<float> scratch;
  for (size_t i = 0; i < store.size(); ++i) {
    const float* p = store.crop_data(i, scratch);
    if (p == scratch.data()) {
      owned.push_back(scratch);
      p = owned.back().data();
    }
    ptrs.push_back(p);
  }
  return ptrs;
}

}  // namespace faceid
