// Shared fixtures of the data-stage tests: FrameStores of synthetic crops, no dataset needed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "faceid/core/rng.hpp"
#include "faceid/data/frame_store.hpp"

namespace faceid::test {

// A store with counts[p] frames for person p ("p0", "p1", ...); crops of side `size` filled with
// reproducible pseudo-random values (depth: some zeros, like invalid pixels).
inline FrameStore make_store(const std::vector<int>& counts, int size = 8, uint64_t seed = 1) {
  std::vector<std::string> persons;
  std::vector<StoredFrame> frames;
  Rng rng(seed);
  for (size_t p = 0; p < counts.size(); ++p) {
    persons.push_back(fmt::format("p{}", p));
    for (int k = 0; k < counts[p]; ++k) {
      StoredFrame f;
      f.person = static_cast<int>(p);
      f.ref.identity = persons.back();
      f.ref.pose = k + 1;
      f.ref.repetition = 1;
      f.crop.size = size;
      f.crop.chw.resize(static_cast<size_t>(kChannels) * size * size);
      for (float& v : f.crop.chw) v = static_cast<float>(rng.uniform(-2.0, 2.0));
      float* depth = f.crop.channel(3);
      for (int i = 0; i < size * size; i += 7) depth[i] = 0.0f;
      frames.push_back(std::move(f));
    }
  }
  return FrameStore(std::move(persons), std::move(frames));
}

}  // namespace faceid::test
