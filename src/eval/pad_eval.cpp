#include "faceid/eval/pad_eval.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "faceid/core/error.hpp"
#include "faceid/runtime/unlock_policy.hpp"
#include "faceid/eval/unlock_sim.hpp"

namespace faceid {

namespace {

// Only the persons the dataset holds, in the given order.
std::vector<std::string> present(const Dataset& dataset, const std::vector<std::string>& persons) {
  std::vector<std::string> out;
  for (const auto& p : persons) {
    if (dataset.find(p)) out.push_back(p);
  }
  return out;
}

FrameStore load_store(const Dataset& dataset, const std::vector<std::string>& persons, const DataConfig& data,
                      const PreprocessConfig& preprocess) {
  DataConfig dc = data;
  dc.cache_dir.clear();  // attack roots are not the configured data root: keep it in memory
  dc.memory_cache = true;
  dc.max_frames_per_person = 0;
  return FrameStore::load(dataset, present(dataset, persons), dc, preprocess);
}

}  // namespace

std::vector<AttackType> attack_types_in(const std::filesystem::path& root) {
  std::vector<AttackType> out;
  std::error_code ec;
  for (AttackType t : kAttackTypes) {
    if (std::filesystem::is_directory(attack_dataset_root(root, t), ec)) out.push_back(t);
  }
  return out;
}

FrameStore load_pad_frames(const Dataset& dataset, const std::vector<std::string>& persons,
                           const DataConfig& data, const PreprocessConfig& preprocess,
                           std::vector<SkippedFrame>* skipped) {
  FrameStore store = load_store(dataset, persons, data, preprocess);
  if (skipped) skipped->insert(skipped->end(), store.skipped().begin(), store.skipped().end());
  return store;
}

std::vector<const FaceCrop*> crops_of(const FrameStore& store) {
  std::vector<const FaceCrop*> crops;
  crops.reserve(store.size());
  for (const auto& f : store.frames()) crops.push_back(&f.crop);
  return crops;
}

PadReport evaluate_presentation_attacks(const Embedder& embedder, const LivenessDetector& detector,
                                        const Dataset& dataset, const std::vector<std::string>& persons,
                                        const DataConfig& data, const UnlockConfig& unlock,
                                        double match_threshold) {
  const PreprocessConfig& pp = embedder.config().preprocess;
  // A policy only for its distance (validates the unlock config and the threshold).
  const UnlockPolicy policy(unlock, match_threshold, false);
  auto embed_store = [&](const FrameStore& store) {
    const std::vector<const FaceCrop*> crops = crops_of(store);
    return crops.empty() ? Embeddings() : embedder.embed(crops);
  };

  // Bona fide: enroll, then the other frames are attempts.
  const FrameStore live = load_store(dataset, persons, data, pp);
  const Embeddings live_emb = embed_store(live);
  const std::vector<PadDecision> live_pad = detector.assess(crops_of(live));
  std::vector<FrameRef> refs;
  refs.reserve(live.size());
  for (const auto& f : live.frames()) refs.push_back(f.ref);
  std::map<std::string, UserTemplates> users;
  std::vector<double> bona_scores, bona_distances;
  for (size_t p = 0; p < live.persons().size(); ++p) {
    std::vector<size_t> rows;
    for (int r : live.frames_by_person()[p]) rows.push_back(static_cast<size_t>(r));
    const std::vector<size_t> chosen = choose_enrollment_rows(rows, refs, unlock.enroll_frames);
    if (static_cast<int>(chosen.size()) < unlock.min_enroll_frames) continue;
    UserTemplates& user = users[live.persons()[p]];
    user.user = live.persons()[p];
    user.enrolled.resize(static_cast<Eigen::Index>(chosen.size()), live_emb.cols());
    for (size_t i = 0; i < chosen.size(); ++i) {
      user.enrolled.row(static_cast<Eigen::Index>(i)) = live_emb.row(static_cast<Eigen::Index>(chosen[i]));
    }
    for (size_t r : rows) {
      if (std::find(chosen.begin(), chosen.end(), r) != chosen.end()) continue;
      bona_scores.push_back(live_pad[r].score);
      bona_distances.push_back(policy.distance(user, live_emb.row(static_cast<Eigen::Index>(r))));
    }
  }
  if (users.empty()) throw_bad_input(fmt::format("{}: no person could enroll", dataset.root.string()));
  std::vector<std::string> enrolled;
  for (const auto& kv : users) enrolled.push_back(kv.first);

  // Attacks on the enrolled users.
  std::vector<AttackPresentations> attacks;
  for (AttackType type : attack_types_in(dataset.root)) {
    const Dataset attack_set = scan_dataset(attack_dataset_root(dataset.root, type));
    const FrameStore store = load_store(attack_set, enrolled, data, pp);
    const Embeddings emb = embed_store(store);
    const std::vector<PadDecision> pad = detector.assess(crops_of(store));
    AttackPresentations a;
    a.type = to_string(type);
    for (size_t i = 0; i < store.size(); ++i) {
      const StoredFrame& f = store.frame(i);
      a.scores.push_back(pad[i].score);
      a.distances.push_back(policy.distance(users.at(f.ref.identity), emb.row(static_cast<Eigen::Index>(i))));
    }
    for (size_t i = 0; i < store.skipped().size(); ++i) {
      a.scores.push_back(0.0);
      a.distances.push_back(std::numeric_limits<double>::quiet_NaN());
    }
    attacks.push_back(std::move(a));
  }
  if (attacks.empty()) {
    throw_bad_input(fmt::format("{}: no attack folder {}/photo|screen|mask (make one with synth --attacks)",
                                dataset.root.string(), kAttackFolderName));
  }
  return pad_report(bona_scores, bona_distances, attacks, detector.threshold(), match_threshold);
}

}  // namespace faceid
