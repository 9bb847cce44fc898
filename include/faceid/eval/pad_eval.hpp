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

// The presentation-attack evaluation of unlock_sim --attacks. Every person of `persons` enrolls
// as unlock_sim does (choose_enrollment_rows, unlock.enroll_frames); the person's other frames
// are bona fide attempts; every frame under ROOT/attacks/<type>/<person>/ is an attack on that
// person. Each presentation gets the detector's score and the distance to the targeted user's
// templates (unlock.distance); an attack with no face found scores 0 with distance NaN.
PadReport evaluate_presentation_attacks(const Embedder& embedder, const LivenessDetector& detector,
                                        const Dataset& dataset, const std::vector<std::string>& persons,
                                        const DataConfig& data, const UnlockConfig& unlock,
                                        double match_threshold);

}  // namespace faceid
