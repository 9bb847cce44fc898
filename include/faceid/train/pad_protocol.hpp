// Unseen-instrument protocols for liveness (ISO/IEC 30107-3 evaluations and the PAD literature
// report them because a detector learns the instruments it was shown): for each fold, PadNet is
// trained on every attack instrument but the held-out ones and evaluated on identities it never
// saw, the held-out instruments included. Folds hold out one instrument (a mask make, the head
// form, the photo, the screen) or one whole family (every mask-like instrument at once).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "faceid/eval/pad_eval.hpp"
#include "faceid/train/pad_train.hpp"

namespace faceid {

struct PadFold {
  std::string name;                  // "none" (train on everything), "mask_paper", "family:mask", ...
  std::vector<AttackType> held_out;  // not trained on (empty for "none")
};

// The folds over the instruments `types`: "none" first (the in-distribution reference), then one
// per instrument (when `instruments`), then one per family with at least one instrument in
// `types` (when `families`). A fold that would leave nothing to train on is left out.
std::vector<PadFold> leave_one_out_folds(const std::vector<AttackType>& types, bool instruments, bool families);

// The crops of one set of persons by instrument (pointers into FrameStores the caller keeps).
struct PadCrops {
  std::vector<const FaceCrop*> bona_fide;
  std::vector<std::pair<AttackType, std::vector<const FaceCrop*>>> attacks;
  // Bona fide and every attack but those of `held_out`.
  PadSamples without(const std::vector<AttackType>& held_out) const;
};

struct PadFoldResult {
  PadFold fold;
  PadReport report;  // on the test set, every instrument it holds, at the model's threshold
};

// Trains one PadNet per fold on `fit` (epoch and threshold chosen on `validation`, both without
// the held-out instruments) and scores `test` with it. `on_fold` (when set) gets each result as
// soon as it exists.
std::vector<PadFoldResult> run_leave_one_out(const std::vector<PadFold>& folds, const PadCrops& fit,
                                             const PadCrops& validation, const PresentationSet& test,
                                             const PreprocessConfig& preprocess, const PadConfig& pad,
                                             const PadTrainOptions& options,
                                             const std::function<void(const PadFoldResult&)>& on_fold = {});

// The unseen-instrument table: per fold and held-out instrument, APCER and accepted-as-target at
// the operating point (BPCER <= 1 % on the test bona fide presentations) and at the model's
// calibrated threshold (with its BPCER), then the largest APCER at the operating point among the
// instruments the fold trained on (in-distribution).
std::string format_leave_one_out(const std::vector<PadFoldResult>& results);
// JSON: {"folds": [{"fold", "held_out": [...], "report": pad_report_json}, ...]}.
std::string leave_one_out_json(const std::vector<PadFoldResult>& results);

}  // namespace faceid
