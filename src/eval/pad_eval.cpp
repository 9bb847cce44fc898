#include "faceid/eval/pad_eval.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "faceid/core/error.hpp"
#include "faceid/core/json.hpp"
#include "faceid/runtime/unlock.hpp"
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
  dc.compact_crops = false;  // liveness and the embedder read the crops' floats (crops_of)
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

namespace {

struct Enrollment {
  FrameStore live;
  std::map<std::string, UserTemplates> users;
  std::vector<size_t> attempt_rows;  // live rows that are not enrollment frames
  Embeddings embeddings;             // of `live`
};

Enrollment enroll_persons(const Embedder& embedder, const Dataset& dataset, const std::vector<std::string>& persons,
                          const DataConfig& data, const UnlockConfig& unlock) {
  Enrollment e;
  e.live = load_store(dataset, persons, data, embedder.config().preprocess);
  const std::vector<const FaceCrop*> crops = crops_of(e.live);
  e.embeddings = crops.empty() ? Embeddings() : embedder.embed(crops);
  std::vector<FrameRef> refs;
  refs.reserve(e.live.size());
  for (const auto& f : e.live.frames()) refs.push_back(f.ref);
  for (size_t p = 0; p < e.live.persons().size(); ++p) {
    std::vector<size_t> rows;
    for (int r : e.live.frames_by_person()[p]) rows.push_back(static_cast<size_t>(r));
    const std::vector<size_t> chosen = choose_enrollment_rows(rows, refs, unlock.enroll_frames);
    if (static_cast<int>(chosen.size()) < unlock.min_enroll_frames) continue;
    UserTemplates& user = e.users[e.live.persons()[p]];
    user.user = e.live.persons()[p];
    user.enrolled.resize(static_cast<Eigen::Index>(chosen.size()), e.embeddings.cols());
    for (size_t i = 0; i < chosen.size(); ++i) {
      user.enrolled.row(static_cast<Eigen::Index>(i)) = e.embeddings.row(static_cast<Eigen::Index>(chosen[i]));
    }
    for (size_t r : rows) {
      if (std::find(chosen.begin(), chosen.end(), r) == chosen.end()) e.attempt_rows.push_back(r);
    }
  }
  if (e.users.empty()) throw_bad_input(fmt::format("{}: no person could enroll", dataset.root.string()));
  return e;
}

std::vector<std::string> enrolled_names(const Enrollment& e) {
  std::vector<std::string> names;
  for (const auto& kv : e.users) names.push_back(kv.first);
  return names;
}

std::vector<double> scores_of(const LivenessDetector& detector, const FrameStore& store) {
  std::vector<double> out;
  if (store.empty()) return out;
  for (const auto& d : detector.assess(crops_of(store))) out.push_back(d.score);
  return out;
}

// The bursts of one root: rows grouped by (identity, pose), frames in repetition order.
BurstSet::Bursts load_bursts(const Embedder& embedder, const std::filesystem::path& root, const std::string& kind,
                             const Enrollment& e, const UnlockPolicy& policy, const DataConfig& data) {
  BurstSet::Bursts b;
  b.kind = kind;
  const Dataset set = scan_dataset(root);
  b.frames = set.frame_count();
  b.store = load_store(set, enrolled_names(e), data, embedder.config().preprocess);
  // Every burst on disk, including those whose frames all lost the face.
  std::map<std::pair<std::string, int>, std::vector<std::pair<int, size_t>>> groups;
  for (const auto& person : set.persons) {
    if (!e.users.count(person.identity)) continue;
    for (const auto& f : person.frames) groups[{person.identity, f.pose}];
  }
  for (size_t i = 0; i < b.store.size(); ++i) {
    const FrameRef& ref = b.store.frame(i).ref;
    groups[{ref.identity, ref.pose}].emplace_back(ref.repetition, i);
  }
  const Embeddings emb = b.store.empty() ? Embeddings() : embedder.embed(crops_of(b.store));
  for (auto& [key, frames] : groups) {
    std::sort(frames.begin(), frames.end());
    std::vector<size_t> rows;
    for (const auto& fr : frames) rows.push_back(fr.second);
    double distance = std::numeric_limits<double>::quiet_NaN();
    if (!rows.empty()) {
      Embeddings burst(static_cast<Eigen::Index>(rows.size()), emb.cols());
      for (size_t k = 0; k < rows.size(); ++k) {
        burst.row(static_cast<Eigen::Index>(k)) = emb.row(static_cast<Eigen::Index>(rows[k]));
      }
      distance = policy.distance(e.users.at(key.first), burst_embedding(burst));
    }
    b.bursts.push_back(std::move(rows));
    b.distances.push_back(distance);
  }
  return b;
}

}  // namespace

PresentationSet prepare_presentations(const Embedder& embedder, const Dataset& dataset,
                                      const std::vector<std::string>& persons, const DataConfig& data,
                                      const UnlockConfig& unlock, double match_threshold,
                                      const std::vector<AttackType>& types) {
  // A policy only for its distance (validates the unlock config and the threshold).
  const UnlockPolicy policy(unlock, match_threshold, false);
  Enrollment e = enroll_persons(embedder, dataset, persons, data, unlock);
  PresentationSet set;
  set.match_threshold = match_threshold;
  for (size_t r : e.attempt_rows) {
    const std::string& who = e.live.frame(r).ref.identity;
    set.bona_fide_rows.push_back(r);
    set.bona_fide_distances.push_back(policy.distance(e.users.at(who), e.embeddings.row(static_cast<Eigen::Index>(r))));
  }
  const std::vector<std::string> enrolled = enrolled_names(e);
  const std::vector<AttackType> present = attack_types_in(dataset.root);
  for (AttackType type : types.empty() ? present : types) {
    if (std::find(present.begin(), present.end(), type) == present.end()) {
      throw_bad_input(fmt::format("{}: no attack folder {} (make it with synth --attacks)", dataset.root.string(),
                                  attack_dataset_root(dataset.root, type).string()));
    }
    PresentationSet::Attack a;
    a.type = type;
    a.store = load_store(scan_dataset(attack_dataset_root(dataset.root, type)), enrolled, data,
                         embedder.config().preprocess);
    const Embeddings emb = a.store.empty() ? Embeddings() : embedder.embed(crops_of(a.store));
    for (size_t i = 0; i < a.store.size(); ++i) {
      a.distances.push_back(
          policy.distance(e.users.at(a.store.frame(i).ref.identity), emb.row(static_cast<Eigen::Index>(i))));
    }
    a.no_face = a.store.skipped().size();
    set.attacks.push_back(std::move(a));
  }
  if (set.attacks.empty()) {
    throw_bad_input(fmt::format("{}: no attack folder under {}/ (make one with synth --attacks)",
                                dataset.root.string(), kAttackFolderName));
  }
  set.live = std::move(e.live);
  return set;
}

PadReport score_presentations(const PresentationSet& set, const LivenessDetector& detector) {
  const std::vector<double> live = scores_of(detector, set.live);
  std::vector<double> bona;
  for (size_t r : set.bona_fide_rows) bona.push_back(live[r]);
  std::vector<AttackPresentations> attacks;
  for (const auto& a : set.attacks) {
    AttackPresentations p;
    p.type = to_string(a.type);
    p.scores = scores_of(detector, a.store);
    p.distances = a.distances;
    p.scores.resize(p.scores.size() + a.no_face, 0.0);
    p.distances.resize(p.distances.size() + a.no_face, std::numeric_limits<double>::quiet_NaN());
    attacks.push_back(std::move(p));
  }
  return pad_report(bona, set.bona_fide_distances, attacks, detector.threshold(), set.match_threshold);
}

PadReport evaluate_presentation_attacks(const Embedder& embedder, const LivenessDetector& detector,
                                        const Dataset& dataset, const std::vector<std::string>& persons,
                                        const DataConfig& data, const UnlockConfig& unlock,
                                        double match_threshold) {
  return score_presentations(prepare_presentations(embedder, dataset, persons, data, unlock, match_threshold),
                             detector);
}

BurstSet prepare_bursts(const Embedder& embedder, const Dataset& dataset, const std::vector<std::string>& persons,
                        const DataConfig& data, const UnlockConfig& unlock, double match_threshold) {
  const UnlockPolicy policy(unlock, match_threshold, false);
  const Enrollment e = enroll_persons(embedder, dataset, persons, data, unlock);
  std::error_code ec;
  if (!std::filesystem::is_directory(live_burst_root(dataset.root), ec)) {
    throw_bad_input(fmt::format("{}: no bursts (make them with synth --bursts K)",
                                live_burst_root(dataset.root).string()));
  }
  BurstSet set;
  set.match_threshold = match_threshold;
  set.live = load_bursts(embedder, live_burst_root(dataset.root), kLiveBurstName, e, policy, data);
  for (AttackType type : kAttackTypes) {
    const std::filesystem::path root = attack_burst_root(dataset.root, type);
    if (std::filesystem::is_directory(root, ec)) {
      set.attacks.push_back(load_bursts(embedder, root, to_string(type), e, policy, data));
    }
  }
  for (const auto* b : {&set.live}) {
    for (const auto& rows : b->bursts) set.frames_per_burst = std::max(set.frames_per_burst, static_cast<int>(rows.size()));
  }
  if (set.live.bursts.empty()) {
    throw_bad_input(fmt::format("{}: no burst of an enrolled person", live_burst_root(dataset.root).string()));
  }
  return set;
}

namespace {

// Scores (and motion) of every burst of `b`; a burst with no face in any frame scores 0 when
// `keep_no_face` (an attack that cannot unlock), else it is left out (a bona fide failure to
// acquire, as still frames without a face are) and counted in `no_face`.
void score_burst_kind(const BurstSet::Bursts& b, const LivenessDetector& detector, bool keep_no_face,
                      std::vector<double>& scores, std::vector<double>& distances, std::vector<double>& motion,
                      size_t& no_face) {
  const std::vector<const FaceCrop*> crops = crops_of(b.store);
  for (size_t k = 0; k < b.bursts.size(); ++k) {
    const auto& rows = b.bursts[k];
    if (rows.empty()) {
      ++no_face;
      if (!keep_no_face) continue;
      scores.push_back(0.0);
      distances.push_back(b.distances[k]);
      motion.push_back(0.0);
      continue;
    }
    std::vector<const FaceCrop*> frames;
    for (size_t r : rows) frames.push_back(crops[r]);
    const BurstDecision d = detector.assess_burst(frames);
    scores.push_back(d.score);
    distances.push_back(b.distances[k]);
    motion.push_back(d.motion.nonrigid);
  }
}

constexpr double kMotionLevels[] = {1.5, 2.0, 3.0};

double share_above(const std::vector<double>& v, double level) {
  if (v.empty()) return 0;
  return static_cast<double>(std::count_if(v.begin(), v.end(), [&](double x) { return x > level; })) /
         static_cast<double>(v.size());
}

}  // namespace

BurstEvaluation score_bursts(const BurstSet& set, const LivenessDetector& detector) {
  BurstEvaluation out;
  std::vector<double> live_scores, live_distances;
  score_burst_kind(set.live, detector, false, live_scores, live_distances, out.live_motion, out.live_no_face);
  std::vector<AttackPresentations> attacks;
  for (const auto& b : set.attacks) {
    AttackPresentations p;
    p.type = b.kind;
    out.attack_motion.emplace_back();
    size_t no_face = 0;
    score_burst_kind(b, detector, true, p.scores, p.distances, out.attack_motion.back(), no_face);
    attacks.push_back(std::move(p));
  }
  out.report = pad_report(live_scores, live_distances, attacks, detector.threshold(), set.match_threshold);
  return out;
}

std::string format_burst_evaluation(const BurstEvaluation& e) {
  std::string s = fmt::format(
      "burst attempts (liveness on the burst, match on the mean embedding; {} bona fide burst(s) with no face in "
      "any frame left out, as still frames without a face are):\n",
      e.live_no_face);
  s += format_pad_report(e.report);
  s += "  rigid-versus-living evidence (share of bursts with nonrigid ratio > 1.5 / 2 / 3):\n";
  auto line = [&](const std::string& kind, const std::vector<double>& v) {
    s += fmt::format("    {:<13} {:6.2f}% {:6.2f}% {:6.2f}%\n", kind, 100 * share_above(v, kMotionLevels[0]),
                     100 * share_above(v, kMotionLevels[1]), 100 * share_above(v, kMotionLevels[2]));
  };
  line("bona fide", e.live_motion);
  for (size_t i = 0; i < e.attack_motion.size(); ++i) line(e.report.attacks[i].type, e.attack_motion[i]);
  return s;
}

std::string burst_evaluation_json(const BurstEvaluation& e) {
  Json j = Json::parse(pad_report_json(e.report));
  j["bona_fide_no_face"] = e.live_no_face;
  Json motion = Json::object();
  auto shares = [&](const std::vector<double>& v) {
    Json m = Json::object();
    for (double level : kMotionLevels) m[fmt::format("above_{}", level)] = json_number(share_above(v, level));
    return m;
  };
  motion["bona_fide"] = shares(e.live_motion);
  for (size_t i = 0; i < e.attack_motion.size(); ++i) motion[e.report.attacks[i].type] = shares(e.attack_motion[i]);
  j["nonrigid_motion"] = std::move(motion);
  return dump_json(j);
}

}  // namespace faceid
