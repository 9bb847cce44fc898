#include "faceid/data/frame_store.hpp"

#include <fmt/format.h>

#include "data/crop_cache.hpp"
#include "faceid/error.hpp"

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

const float* FrameStore::crop_data(size_t i, std::vector<float>& scratch) const {
  const StoredFrame& f = frames_.at(i);
  if (!f.crop.chw.empty()) return f.crop.chw.data();
  const std::filesystem::path& path = disk_paths_.at(i);
  scratch.resize(crop_floats());
  if (!read_crop_cache_pixels(path, crop_size_, scratch.data())) {
    throw_io(fmt::format("{}: cache file of a loaded frame is missing, changed or corrupt "
                         "(something else writes to the cache folder?)",
                         path.string()));
  }
  return scratch.data();
}

}  // namespace faceid
