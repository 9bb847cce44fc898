#include "faceid/eval/pad_metrics.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "faceid/core/error.hpp"
#include "faceid/core/json.hpp"

namespace faceid {

double apcer(const std::vector<double>& attack_scores, double threshold) {
  if (attack_scores.empty()) return 0.0;
  const auto n = std::count_if(attack_scores.begin(), attack_scores.end(),
                               [&](double s) { return s >= threshold; });
  return static_cast<double>(n) / static_cast<double>(attack_scores.size());
}

double bpcer(const std::vector<double>& bona_fide_scores, double threshold) {
  if (bona_fide_scores.empty()) return 0.0;
  const auto n = std::count_if(bona_fide_scores.begin(), bona_fide_scores.end(),
                               [&](double s) { return s < threshold; });
  return static_cast<double>(n) / static_cast<double>(bona_fide_scores.size());
}

double threshold_for_bpcer(std::vector<double> scores, double target) {
  if (!(target >= 0.0 && target <= 1.0)) {
    throw_bad_input(fmt::format("threshold_for_bpcer: target BPCER must be in [0, 1], got {}", target));
  }
  if (scores.empty()) return 0.0;
  std::sort(scores.begin(), scores.end());
  // At threshold scores[r], the scores below it number at most r.
  const auto allowed = static_cast<size_t>(std::floor(target * static_cast<double>(scores.size()) + 1e-9));
  return scores[std::min(allowed, scores.size() - 1)];
}

double margin_threshold(const std::vector<double>& bona_fide_scores, const std::vector<double>& attack_scores,
                        double target_bpcer) {
  const double high = threshold_for_bpcer(bona_fide_scores, target_bpcer);
  double below = 0;
  for (double a : attack_scores) {
    if (a < high) below = std::max(below, a);
  }
  auto logit = [](double p) {
    const double q = std::clamp(p, 1e-6, 1.0 - 1e-6);
    return std::log(q / (1.0 - q));
  };
  const double mid = 0.5 * (logit(below) + logit(high));
  return std::max(1e-6, std::min(high, 1.0 / (1.0 + std::exp(-mid))));
}

PadReport pad_report(const std::vector<double>& bona_fide_scores,
                     const std::vector<double>& bona_fide_distances,
                     const std::vector<AttackPresentations>& attacks, double threshold,
                     double match_threshold) {
  if (!bona_fide_distances.empty() && bona_fide_distances.size() != bona_fide_scores.size()) {
    throw_bad_input(fmt::format("pad_report: {} bona fide scores but {} distances", bona_fide_scores.size(),
                                bona_fide_distances.size()));
  }
  PadReport r;
  r.threshold = threshold;
  r.match_threshold = match_threshold;
  r.bona_fide = bona_fide_scores.size();
  r.bpcer = bpcer(bona_fide_scores, threshold);
  r.operating_threshold = threshold_for_bpcer(bona_fide_scores, kPadOperatingBpcer);
  r.operating_bpcer = bpcer(bona_fide_scores, r.operating_threshold);
  auto matches = [&](double d) { return std::isfinite(d) && d <= match_threshold; };
  if (!bona_fide_distances.empty()) {
    size_t rejected = 0;
    for (size_t i = 0; i < bona_fide_scores.size(); ++i) {
      if (bona_fide_scores[i] < threshold || !matches(bona_fide_distances[i])) ++rejected;
    }
    r.frr_with_pad = static_cast<double>(rejected) / static_cast<double>(bona_fide_scores.size());
  }
  for (const auto& a : attacks) {
    if (a.distances.size() != a.scores.size()) {
      throw_bad_input(fmt::format("pad_report: attack type {}: {} scores but {} distances", a.type,
                                  a.scores.size(), a.distances.size()));
    }
    AttackTypeMetrics m;
    m.type = a.type;
    m.presentations = a.scores.size();
    m.apcer = apcer(a.scores, threshold);
    m.apcer_at_operating_point = apcer(a.scores, r.operating_threshold);
    size_t accepted = 0, matched = 0, accepted_at_operating = 0;
    for (size_t i = 0; i < a.scores.size(); ++i) {
      if (std::isnan(a.distances[i])) ++m.no_face;
      if (!matches(a.distances[i])) continue;
      ++matched;
      if (a.scores[i] >= threshold) ++accepted;
      if (a.scores[i] >= r.operating_threshold) ++accepted_at_operating;
    }
    if (m.presentations > 0) {
      m.iapar = static_cast<double>(accepted) / static_cast<double>(m.presentations);
      m.iapar_at_operating_point =
          static_cast<double>(accepted_at_operating) / static_cast<double>(m.presentations);
      m.iapar_without_pad = static_cast<double>(matched) / static_cast<double>(m.presentations);
    }
    r.attacks.push_back(m);
  }
  return r;
}

std::string format_pad_report(const PadReport& r) {
  std::string s = fmt::format(
      "presentation-attack detection (ISO/IEC 30107-3), liveness threshold {:.4f}, match threshold {:.4f}\n"
      "  bona fide: {} presentations, BPCER {:.2f}%, FRR with PAD and distance {:.2f}%\n",
      r.threshold, r.match_threshold, r.bona_fide, 100 * r.bpcer, 100 * r.frr_with_pad);
  for (const auto& a : r.attacks) {
    s += fmt::format(
        "  {:<13}: {} presentations ({} no face), APCER {:.2f}%, accepted as the target {:.2f}% "
        "(without PAD {:.2f}%)\n",
        a.type, a.presentations, a.no_face, 100 * a.apcer, 100 * a.iapar, 100 * a.iapar_without_pad);
  }
  s += fmt::format("  at BPCER <= {:.0f}% on these bona fide presentations (threshold {:.4f}, BPCER {:.2f}%):",
                   100 * kPadOperatingBpcer, r.operating_threshold, 100 * r.operating_bpcer);
  for (const auto& a : r.attacks) s += fmt::format(" APCER {} {:.2f}%", a.type, 100 * a.apcer_at_operating_point);
  s += "\n";
  return s;
}

std::string pad_report_json(const PadReport& r) {
  Json j;
  j["liveness_threshold"] = json_number(r.threshold);
  j["match_threshold"] = json_number(r.match_threshold);
  j["bona_fide"] = r.bona_fide;
  j["bpcer"] = json_number(r.bpcer);
  j["frr_with_pad"] = json_number(r.frr_with_pad);
  j["operating_threshold"] = json_number(r.operating_threshold);
  j["operating_bpcer"] = json_number(r.operating_bpcer);
  Json attacks = Json::object();
  for (const auto& a : r.attacks) {
    Json& t = attacks[a.type];
    t["presentations"] = a.presentations;
    t["no_face"] = a.no_face;
    t["apcer"] = json_number(a.apcer);
    t["iapar"] = json_number(a.iapar);
    t["iapar_without_pad"] = json_number(a.iapar_without_pad);
    t["apcer_at_operating_point"] = json_number(a.apcer_at_operating_point);
    t["iapar_at_operating_point"] = json_number(a.iapar_at_operating_point);
  }
  j["attacks"] = std::move(attacks);
  return dump_json(j);
}

}  // namespace faceid
