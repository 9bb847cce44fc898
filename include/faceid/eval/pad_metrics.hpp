// Presentation-attack metrics in ISO/IEC 30107-3 terms. A presentation is classified bona fide
// when its liveness score >= the threshold.
//   APCER  attack presentations classified bona fide / attack presentations (per attack type)
//   BPCER  bona fide presentations classified as attacks / bona fide presentations
//   IAPAR  (impostor attack presentation accept rate) attack presentations that unlock the
//          targeted user (liveness passed and distance <= the match threshold) / attack presentations
// Torch-free.
#pragma once

#include <string>
#include <vector>

namespace faceid {

// Fraction of `attack_scores` >= threshold (0 when empty).
double apcer(const std::vector<double>& attack_scores, double threshold);
// Fraction of `bona_fide_scores` < threshold (0 when empty).
double bpcer(const std::vector<double>& bona_fide_scores, double threshold);
// The largest threshold whose BPCER on `bona_fide_scores` is <= target (one of the scores; 0 when
// there are none). Errc::bad_input when target is outside [0, 1].
double threshold_for_bpcer(std::vector<double> bona_fide_scores, double target);

// The liveness threshold train_pad calibrates. T = threshold_for_bpcer(bona, target) gives the
// lowest APCER at that BPCER; every threshold between T and the highest attack score below T
// gives the same APCER and a BPCER no higher, so this returns the middle of that gap in logit
// space (where a network's sigmoid scores spread evenly), at least 1e-6: a margin on both sides.
// Scores are probabilities in [0, 1].
double margin_threshold(const std::vector<double>& bona_fide_scores, const std::vector<double>& attack_scores,
                        double target_bpcer);

// One attack type's presentations against their targeted users.
struct AttackPresentations {
  std::string type;             // "photo", "screen", "mask"
  std::vector<double> scores;   // liveness score of each presentation (0 when no face was found)
  std::vector<double> distances;  // distance to the targeted user's templates (NaN: no face)
};

struct AttackTypeMetrics {
  std::string type;
  size_t presentations = 0;
  size_t no_face = 0;        // presentations with no face found (counted as not accepted)
  double apcer = 0;
  double iapar = 0;          // accepted as the targeted user, PAD and distance both passed
  double iapar_without_pad = 0;  // accepted on distance alone: what PAD prevents
  double apcer_at_operating_point = 0;  // APCER at PadReport::operating_threshold
  double iapar_at_operating_point = 0;  // accepted as the target at the operating threshold
};

// The fixed operating point reported besides the configured threshold: the threshold whose
// BPCER on the evaluated bona fide presentations is <= 1 % (ISO/IEC 30107-3 "APCER @ BPCER").
constexpr double kPadOperatingBpcer = 0.01;

struct PadReport {
  double threshold = 0;         // liveness threshold
  double match_threshold = 0;   // distance threshold of the unlock
  size_t bona_fide = 0;
  double bpcer = 0;
  double frr_with_pad = 0;      // bona fide rejected by PAD or by distance (static templates)
  double operating_threshold = 0;  // threshold_for_bpcer(bona fide scores, kPadOperatingBpcer)
  double operating_bpcer = 0;      // the BPCER there (<= kPadOperatingBpcer)
  std::vector<AttackTypeMetrics> attacks;
};

// Distances NaN or above match_threshold never unlock. `bona_fide_distances` may be empty (then
// frr_with_pad is 0); otherwise it is parallel to bona_fide_scores.
PadReport pad_report(const std::vector<double>& bona_fide_scores,
                     const std::vector<double>& bona_fide_distances,
                     const std::vector<AttackPresentations>& attacks, double threshold,
                     double match_threshold);

std::string format_pad_report(const PadReport& report);  // human-readable lines
// JSON: liveness_threshold, match_threshold, bona_fide, bpcer, frr_with_pad, operating_threshold,
// operating_bpcer, then attacks (type → presentations, no_face, apcer, iapar, iapar_without_pad,
// apcer_at_operating_point, iapar_at_operating_point); a NaN metric is null.
std::string pad_report_json(const PadReport& report);

}  // namespace faceid
