// The realism bar of the synthetic set: identities must not be separable by a trivial cue. On
// held-out identities, nearest-neighbour verification on (a) the face crop's mean colour alone and
// (b) the raw depth channel alone must stay above 10% EER. The data goes the real way: synth
// writes it, scan_dataset/load_frame read it, preprocess crops it.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "faceid/core/config.hpp"
#include "faceid/io/dataset.hpp"
#include "faceid/preprocess/preprocess.hpp"
#include "faceid/synth/synth.hpp"

namespace fs = std::filesystem;

namespace {

// Equal error rate of verification by thresholding pair distances: every pair of samples, genuine
// when both belong to one identity. Test-local on purpose (the eval module has the real metrics).
double pair_eer(const std::vector<std::vector<float>>& features, const std::vector<int>& identity) {
  struct Pair {
    double distance;
    bool genuine;
  };
  std::vector<Pair> pairs;
  for (size_t i = 0; i < features.size(); ++i) {
    for (size_t j = i + 1; j < features.size(); ++j) {
      double d2 = 0;
      for (size_t k = 0; k < features[i].size(); ++k) {
        const double e = features[i][k] - features[j][k];
        d2 += e * e;
      }
      pairs.push_back({std::sqrt(d2), identity[i] == identity[j]});
    }
  }
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.distance < b.distance; });
  double genuine = 0, impostor = 0;
  for (const Pair& p : pairs) (p.genuine ? genuine : impostor) += 1;
  REQUIRE(genuine > 0);
  REQUIRE(impostor > 0);
  // Accepting the k nearest pairs: FRR = genuine pairs left out, FAR = impostors let in.
  double accepted_genuine = 0, accepted_impostor = 0;
  double eer = 1.0;
  for (const Pair& p : pairs) {
    (p.genuine ? accepted_genuine : accepted_impostor) += 1;
    const double frr = 1 - accepted_genuine / genuine;
    const double far = accepted_impostor / impostor;
    eer = std::min(eer, std::max(frr, far));
  }
  return eer;
}

}  // namespace

TEST_CASE("synth: trivial cues do not separate identities", "[synth][realism]") {
  const fs::path root = fs::temp_directory_path() / fmt::format("faceid_test_cues_{}", ::getpid());
  fs::remove_all(root);
  faceid::SynthOptions o;
  o.out = root;
  o.first_person = 5000;  // identities no default data set uses
  o.persons = 12;
  o.sessions = 2;
  o.poses = 5;
  o.seed = 1;
  o.compact = true;
  o.threads = 0;
  // The default distractors but the raised hand: the locator answers "no face" for about a third
  // to a half of the hand frames (docs/benchmarks.md, "Head localisation"), and this test counts
  // every frame.
  o.distractors.hand = 0;
  faceid::generate_synth_dataset(o);

  const faceid::Dataset data = faceid::scan_dataset(root);
  REQUIRE(data.persons.size() == 12);
  const faceid::PreprocessConfig config;
  std::vector<std::vector<float>> mean_color, raw_depth;
  std::vector<int> identity;
  int no_face = 0;
  for (size_t p = 0; p < data.persons.size(); ++p) {
    REQUIRE(data.persons[p].frames.size() == 10);
    for (const faceid::FrameRef& ref : data.persons[p].frames) {
      const faceid::PreprocessResult r = faceid::preprocess(faceid::load_frame(ref), config);
      if (!r.ok) {
        ++no_face;
        continue;
      }
      const int s = r.crop.size;
      const size_t n = static_cast<size_t>(s) * s;
      std::vector<float> rgb(3, 0.0f);
      for (int c = 0; c < 3; ++c) {
        const float* ch = r.crop.channel(c);
        double sum = 0;
        for (size_t i = 0; i < n; ++i) sum += ch[i];
        rgb[static_cast<size_t>(c)] = static_cast<float>(sum / static_cast<double>(n));
      }
      mean_color.push_back(rgb);
      // Raw depth: the D channel averaged down to 16 x 16.
      constexpr int kGrid = 16;
      std::vector<float> depth(kGrid * kGrid, 0.0f);
      const float* d = r.crop.channel(3);
      for (int y = 0; y < s; ++y) {
        for (int x = 0; x < s; ++x) {
          const size_t cell_index = static_cast<size_t>((y * kGrid / s) * kGrid + x * kGrid / s);
          depth[cell_index] += d[static_cast<size_t>(y) * s + x];
        }
      }
      const float cell = static_cast<float>(s * s) / (kGrid * kGrid);
      for (float& v : depth) v /= cell;
      raw_depth.push_back(depth);
      identity.push_back(static_cast<int>(p));
    }
  }
  std::error_code ec;
  fs::remove_all(root, ec);
  CHECK(no_face == 0);  // the preprocessing finds every synthetic head
  const double eer_color = pair_eer(mean_color, identity);
  const double eer_depth = pair_eer(raw_depth, identity);
  std::printf("trivial-cue EER on %zu held-out frames of 12 identities: mean colour %.1f%%, "
              "raw depth %.1f%%\n",
              identity.size(), 100 * eer_color, 100 * eer_depth);
  CHECK(eer_color > 0.10);
  CHECK(eer_depth > 0.10);
}
