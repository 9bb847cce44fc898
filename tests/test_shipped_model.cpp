// The shipped model's accuracy on identities it never saw (another generator seed than its
// pretraining), through the whole path a user runs: synth -> preprocess -> embed -> distances.
// The bounds are measured values of models/faceid_rgbd_v1.pt with headroom (docs/models.md); a
// worse model, or broken preprocessing, fails here.
#include <catch2/catch.hpp>

#include "faceid/core/app.hpp"
#include "faceid/eval/metrics.hpp"
#include "faceid/eval/embed_dataset.hpp"
#include "faceid/eval/unlock_sim.hpp"
#include "synth_fixture.hpp"

using namespace faceid;

namespace {

// 20 identities x 2 sessions x 6 poses with the default distractors, seed 2 (the model was
// pretrained on seed 1 from identity 1,000,000): generated once into the build folder.
std::filesystem::path unseen_identities() {
  const std::filesystem::path root = std::filesystem::path(FACEID_BIN_DIR).parent_path() /
                                     "test-data" /
                                     fmt::format("unseen-20x12-v{}", synth::kGeneratorVersion);
  if (!std::filesystem::exists(root / "synth_manifest.yaml")) {
    SynthOptions o;
    o.out = root;
    o.persons = 20;
    o.sessions = 2;
    o.poses = 6;
    o.seed = 2;
    o.threads = 2;
    o.compact = true;
    generate_synth_dataset(o);
  }
  return root;
}

}  // namespace

TEST_CASE("shipped model: EER and distances on 20 identities it never saw", "[model][accuracy]") {
  const std::filesystem::path model = std::filesystem::path(FACEID_SOURCE_DIR) / "models" / "faceid_rgbd_v1.pt";
  REQUIRE(std::filesystem::exists(model));
  const Embedder embedder(model, "cpu", 2);
  const Dataset dataset = scan_dataset(unseen_identities(), /*strict=*/true);
  DataConfig data = embedder.config().data;
  data.cache_dir.clear();
  data.workers = 2;
  const EmbeddedSet set = embed_dataset(embedder, dataset, {}, data);
  // The head locator finds (nearly) every face of the default distractor mix.
  const size_t frames = set.frames.size() + set.skipped.size();
  REQUIRE(frames == 240);
  CHECK(set.skipped.size() <= 12);

  PairDistances pd = all_pair_distances_exact(set.embeddings, set.labels, 2);
  ExactRoc roc(std::move(pd.genuine), std::move(pd.impostor));
  const RocSummary s = roc.summary({1e-3});
  INFO("EER " << s.eer << ", genuine mean " << s.genuine_mean << ", impostor mean "
              << s.impostor_mean << ", TAR@FAR1e-3 " << s.at_far.front().tar);
  // Measured on 2026-12-02: EER 0.80%, genuine 0.215, impostor 1.369 (docs/models.md). The
  // contrastive demo model from scratch has 14% EER; broken preprocessing 30% or worse.
  CHECK(s.eer <= 0.02);
  CHECK(s.genuine_mean <= 0.30);
  CHECK(s.impostor_mean >= 1.2);

  // Unlock attempts at the model's own operating threshold (FAR 1e-4 on its validation
  // identities): no false accept among these ~4,500 impostor attempts; measured FRR 38% (the
  // model misses the FaceID operating point, docs/benchmarks.md), bounded so that a threshold
  // that stopped matching the embeddings (FRR -> 100%) fails.
  UnlockConfig unlock = embedder.config().unlock;
  const OperatingPoint op = calibrate_operating_point(set.embeddings, set.labels, set.frames,
                                                      set.persons.size(), unlock, 1e-3);
  const double threshold = embedder.match_threshold();
  REQUIRE(std::isfinite(threshold));
  UnlockSimOptions options;
  options.unlock = unlock;
  options.threshold = threshold;
  const UnlockSimReport r =
      simulate_unlock(set.embeddings, set.labels, set.frames, set.persons, options);
  INFO("FRR " << r.frr_static << " FAR " << r.far_static << " at " << threshold
              << "; this set's own 1e-3 threshold " << op.threshold);
  CHECK(r.far_static <= 1e-3);
  CHECK(r.frr_static <= 0.50);
}
