#include "faceid/train/pad_protocol.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "faceid/core/error.hpp"
#include "faceid/core/json.hpp"

namespace faceid {

namespace {

bool contains(const std::vector<AttackType>& v, AttackType t) { return std::find(v.begin(), v.end(), t) != v.end(); }

}  // namespace

std::vector<PadFold> leave_one_out_folds(const std::vector<AttackType>& types, bool instruments, bool families) {
  std::vector<PadFold> folds{{"none", {}}};
  auto add = [&](std::string name, std::vector<AttackType> held) {
    if (held.size() < types.size()) folds.push_back({std::move(name), std::move(held)});
  };
  if (instruments) {
    for (AttackType t : types) add(to_string(t), {t});
  }
  if (families) {
    for (AttackFamily f : {AttackFamily::photo, AttackFamily::screen, AttackFamily::mask}) {
      std::vector<AttackType> held;
      for (AttackType t : types) {
        if (family_of(t) == f) held.push_back(t);
      }
      // A family of one instrument is already its instrument's fold.
      if (held.size() > 1 || (!instruments && held.size() == 1)) add(fmt::format("family:{}", to_string(f)), held);
    }
  }
  return folds;
}

PadSamples PadCrops::without(const std::vector<AttackType>& held_out) const {
  PadSamples s;
  s.bona_fide = bona_fide;
  for (const auto& [type, crops] : attacks) {
    if (!contains(held_out, type)) s.attacks.insert(s.attacks.end(), crops.begin(), crops.end());
  }
  return s;
}

std::vector<PadFoldResult> run_leave_one_out(const std::vector<PadFold>& folds, const PadCrops& fit,
                                             const PadCrops& validation, const PresentationSet& test,
                                             const PreprocessConfig& preprocess, const PadConfig& pad,
                                             const PadTrainOptions& options,
                                             const std::function<void(const PadFoldResult&)>& on_fold) {
  std::vector<PadFoldResult> results;
  for (const PadFold& fold : folds) {
    const PadSamples fit_set = fit.without(fold.held_out);
    if (fit_set.attacks.empty()) {
      throw_bad_input(fmt::format("leave-one-out fold {}: no attack frames left to train on", fold.name));
    }
    const PadModel model = train_pad_model(fit_set, validation.without(fold.held_out), preprocess, pad, options);
    PadConfig use = pad;
    use.threshold = -1;  // the fold model's own calibrated threshold
    const LivenessDetector detector(model, use, preprocess);
    results.push_back({fold, score_presentations(test, detector)});
    if (on_fold) on_fold(results.back());
  }
  return results;
}

std::string format_leave_one_out(const std::vector<PadFoldResult>& results) {
  std::string s = fmt::format(
      "unseen-instrument protocol: APCER and accepted as the target (IAPAR) of each held-out instrument, "
      "on held-out identities\n"
      "  {:<14} {:<14} {:>9} {:>9} | {:>9} {:>9} {:>8} | {:>12}\n",
      "fold", "instrument", "APCER@op", "IAPAR@op", "APCER", "IAPAR", "BPCER", "max APCER@op");
  s += fmt::format("  {:<14} {:<14} {:>9} {:>9} | {:>9} {:>9} {:>8} | {:>12}\n", "", "",
                   "BPCER<=1%", "", "model thr", "", "", "trained-on");
  for (const auto& r : results) {
    double seen_max = 0;
    for (const auto& a : r.report.attacks) {
      const bool held = contains(r.fold.held_out, parse_attack_type(a.type));
      if (!held) seen_max = std::max(seen_max, a.apcer_at_operating_point);
    }
    for (const auto& a : r.report.attacks) {
      const bool held = contains(r.fold.held_out, parse_attack_type(a.type));
      if (!held && r.fold.name != "none") continue;
      s += fmt::format("  {:<14} {:<14} {:>8.2f}% {:>8.2f}% | {:>8.2f}% {:>8.2f}% {:>7.2f}% | {:>11.2f}%\n",
                       r.fold.name, a.type, 100 * a.apcer_at_operating_point, 100 * a.iapar_at_operating_point,
                       100 * a.apcer, 100 * a.iapar, 100 * r.report.bpcer, 100 * seen_max);
    }
  }
  return s;
}

std::string leave_one_out_json(const std::vector<PadFoldResult>& results) {
  Json folds = Json::array();
  for (const auto& r : results) {
    Json f;
    f["fold"] = r.fold.name;
    Json held = Json::array();
    for (AttackType t : r.fold.held_out) held.push_back(to_string(t));
    f["held_out"] = std::move(held);
    f["report"] = Json::parse(pad_report_json(r.report));
    folds.push_back(std::move(f));
  }
  Json j;
  j["folds"] = std::move(folds);
  return dump_json(j);
}

}  // namespace faceid
