// Liveness on data sets: the crops train_pad fits on, and the attack evaluation of
// unlock_sim --attacks. Frames go through FrameStore (load_frame + the one preprocess path),
// exactly as the embedder's training and inference see them.
#pragma once

#include <string>
#include <vector>

#include "faceid/core/config.hpp"
#include "faceid/data/frame_store.hpp"
#include "faceid/runtime/embedder.hpp"
#include "faceid/io/dataset.hpp"
#include "faceid/runtime/pad.hpp"
#include "faceid/eval/pad_metrics.hpp"
#include "faceid/io/attacks.hpp"

namespace faceid {

// The attack types present under ROOT/attacks/ (those whose folder exists), in kAttackTypes order.
std::vector<AttackType> attack_types_in(const std::filesystem::path& root);

// The preprocessed crops of every usable frame of `persons` (identities of `dataset`; persons
// missing from it are skipped, so an attack root may lack some). Frames with no face are left
// out and listed in `skipped` when given. Loads on data.workers threads, in memory only.
FrameStore load_pad_frames(const Dataset& dataset, const std::vector<std::string>& persons,
                           const DataConfig& data, const PreprocessConfig& preprocess,
                           std::vector<SkippedFrame>* skipped = nullptr);

// Pointers to the crops of a store (valid while the store lives).
std::vector<const FaceCrop*> crops_of(const FrameStore& store);

// The presentations of an attack evaluation with everything but the liveness verdicts: the crops,
// and each presentation's distance to the targeted user's templates. Built once, scored by any
// number of liveness models (the leave-one-out protocol trains one per held-out instrument).
struct PresentationSet {
  double match_threshold = 0;
  FrameStore live;                        // every frame of the enrolled persons
  std::vector<size_t> bona_fide_rows;     // rows of `live` that are attempts (not enrollment)
  std::vector<double> bona_fide_distances;
  struct Attack {
    AttackType type = AttackType::photo;
    FrameStore store;
    std::vector<double> distances;        // per row of `store`
    size_t no_face = 0;                   // frames where no face was found: score 0, distance NaN
  };
  std::vector<Attack> attacks;
};

// Every person of `persons` enrolls as unlock_sim does (choose_enrollment_rows,
// unlock.enroll_frames); the person's other frames are bona fide attempts; every frame under
// ROOT/attacks/<type>/<person>/ is an attack on that person, for each type of `types` (empty: every
// type present). Errc::bad_input when nobody could enroll or no attack folder is there.
PresentationSet prepare_presentations(const Embedder& embedder, const Dataset& dataset,
                                      const std::vector<std::string>& persons, const DataConfig& data,
                                      const UnlockConfig& unlock, double match_threshold,
                                      const std::vector<AttackType>& types = {});
// The liveness scores of a prepared set and its PadReport at the detector's threshold.
PadReport score_presentations(const PresentationSet& set, const LivenessDetector& detector);

// The presentation-attack evaluation of unlock_sim --attacks: score_presentations of
// prepare_presentations. Each presentation gets the detector's score and the distance to the
// targeted user's templates (unlock.distance); an attack with no face found scores 0 with distance
// NaN.
PadReport evaluate_presentation_attacks(const Embedder& embedder, const LivenessDetector& detector,
                                        const Dataset& dataset, const std::vector<std::string>& persons,
                                        const DataConfig& data, const UnlockConfig& unlock,
                                        double match_threshold);

// Burst attempts (unlock_sim --bursts): ROOT/bursts/live/<person>/NNN_F_* are the bona fide bursts
// (one per pose NNN, frames F in order), ROOT/bursts/<type>/<person>/NNN_F_* the attack bursts on
// that person. Enrollment as prepare_presentations (from the still frames of ROOT). An attempt
// is scored by LivenessDetector::assess_burst on the frames where a face was found and matched
// with burst_embedding (faceid/runtime/unlock.hpp); an attack burst with no face at all scores 0,
// distance NaN (it cannot unlock); a bona fide one is a failure to acquire, counted apart.
struct BurstSet {
  double match_threshold = 0;
  struct Bursts {
    std::string kind;                          // "live" or the attack type
    FrameStore store;                          // every frame with a face
    std::vector<std::vector<size_t>> bursts;   // rows of `store` per burst, in frame order
    std::vector<double> distances;             // per burst (NaN: no face in any frame)
    size_t frames = 0;                         // burst frames on disk, with a face or not
  };
  Bursts live;
  std::vector<Bursts> attacks;
  int frames_per_burst = 0;                    // the largest burst
};
BurstSet prepare_bursts(const Embedder& embedder, const Dataset& dataset, const std::vector<std::string>& persons,
                        const DataConfig& data, const UnlockConfig& unlock, double match_threshold);

struct BurstEvaluation {
  PadReport report;                          // burst-level: one presentation per burst (bona fide
                                             // bursts with no face in any frame left out)
  size_t live_no_face = 0;                   // those bona fide bursts (failures to acquire)
  std::vector<double> live_motion;           // BurstMotion::nonrigid per bona fide burst
  std::vector<std::vector<double>> attack_motion;  // per attack kind (report.attacks order)
};
BurstEvaluation score_bursts(const BurstSet& set, const LivenessDetector& detector);
// Lines: the report, then the motion evidence (share of bursts whose nonrigid ratio exceeds 1.5,
// 2 and 3, live and per attack).
std::string format_burst_evaluation(const BurstEvaluation& evaluation);
std::string burst_evaluation_json(const BurstEvaluation& evaluation);

}  // namespace faceid
