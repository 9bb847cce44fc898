#include "faceid/eval/unlock_sim.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "faceid/core/error.hpp"
#include "faceid/core/json.hpp"
#include "faceid/eval/metrics.hpp"
#include "faceid/eval/plot.hpp"
#include "faceid/runtime/enrollment.hpp"
#include "faceid/runtime/template_store.hpp"
#include "faceid/runtime/unlock_policy.hpp"

namespace faceid {
namespace {

double mean_of(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double rate(size_t num, size_t den) { return den == 0 ? 0.0 : static_cast<double>(num) / den; }

struct Replay {
  size_t accepted = 0;
  size_t attempts = 0;
  size_t lockouts = 0;
  size_t added = 0;
};

// Replays attempts of one claimant through a fresh policy; after a lockout the passcode is entered
// (as a user would) and the replay goes on, so every attempt is counted.
Replay replay(UnlockPolicy& policy, UserTemplates& user, const Embeddings& embeddings,
              const std::vector<size_t>& rows) {
  Replay r;
  for (size_t row : rows) {
    if (policy.locked()) policy.reset_with_passcode();
    const UnlockDecision d = policy.attempt(user, embeddings.row(static_cast<Eigen::Index>(row)));
    ++r.attempts;
    if (d.outcome == UnlockOutcome::accepted) ++r.accepted;
    if (d.template_added) ++r.added;
  }
  r.lockouts = policy.lockout_events();
  return r;
}

}  // namespace

std::vector<size_t> choose_enrollment_rows(const std::vector<size_t>& rows,
                                           const std::vector<FrameRef>& frames, int k) {
  if (rows.empty() || k <= 0) return {};
  std::vector<size_t> sorted = rows;
  std::sort(sorted.begin(), sorted.end(), [&](size_t a, size_t b) {
    const auto& fa = frames[a];
    const auto& fb = frames[b];
    return std::tie(fa.repetition, fa.pose) < std::tie(fb.repetition, fb.pose);
  });
  std::vector<size_t> pool;
  const int first_rep = frames[sorted.front()].repetition;
  for (size_t r : sorted) {
    if (frames[r].repetition == first_rep) pool.push_back(r);
  }
  if (static_cast<int>(pool.size()) < k) pool = sorted;
  const size_t n = pool.size();
  const size_t want = std::min(n, static_cast<size_t>(k));
  std::vector<size_t> chosen;
  for (size_t i = 0; i < want; ++i) {
    const size_t idx = want == 1 ? n / 2 : (i * (n - 1) + (want - 1) / 2) / (want - 1);
    chosen.push_back(pool[idx]);
  }
  chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
  return chosen;
}

UnlockSimReport simulate_unlock(const Embeddings& embeddings, const std::vector<int>& labels,
                                const std::vector<FrameRef>& frames,
                                const std::vector<std::string>& persons,
                                const UnlockSimOptions& options) {
  if (labels.size() != static_cast<size_t>(embeddings.rows()) || frames.size() != labels.size()) {
    throw_internal("simulate_unlock: embeddings, labels and frames differ in length");
  }
  if (persons.size() < 2) {
    throw_bad_input(fmt::format("unlock simulation needs at least 2 persons, got {}", persons.size()));
  }
  std::vector<std::vector<size_t>> rows_of(persons.size());
  for (size_t i = 0; i < labels.size(); ++i) rows_of.at(static_cast<size_t>(labels[i])).push_back(i);

  UnlockSimReport report;
  // Enrollment and the static (enrolled-only) attempt distances first: they calibrate --far.
  struct Enrolled {
    UserTemplates templates;
    std::vector<size_t> genuine_rows;
    std::vector<size_t> impostor_rows;
  };
  std::vector<Enrolled> enrolled(persons.size());
  std::vector<UnlockSimUser> users(persons.size());
  for (size_t p = 0; p < persons.size(); ++p) {
    UnlockSimUser& u = users[p];
    u.user = persons[p];
    const std::vector<size_t> chosen =
        choose_enrollment_rows(rows_of[p], frames, options.unlock.enroll_frames);
    u.enroll_frames = static_cast<int>(chosen.size());
    Embeddings e(static_cast<Eigen::Index>(chosen.size()), embeddings.cols());
    for (size_t i = 0; i < chosen.size(); ++i) {
      e.row(static_cast<Eigen::Index>(i)) = embeddings.row(static_cast<Eigen::Index>(chosen[i]));
    }
    u.refusal = enrollment_refusal(e, options.unlock);
    if (!u.refusal.empty()) continue;
    u.enrolled = true;
    enrolled[p].templates.user = persons[p];
    enrolled[p].templates.enrolled = std::move(e);
    for (size_t r : rows_of[p]) {
      if (std::find(chosen.begin(), chosen.end(), r) == chosen.end()) enrolled[p].genuine_rows.push_back(r);
    }
    for (size_t q = 0; q < persons.size(); ++q) {
      if (q != p) enrolled[p].impostor_rows.insert(enrolled[p].impostor_rows.end(),
                                                    rows_of[q].begin(), rows_of[q].end());
    }
    // Static (enrolled-only) attempt distances: per-user means, histograms, --far calibration.
    auto distances = [&](const std::vector<size_t>& rows, std::vector<float>& all) {
      std::vector<double> d;
      for (size_t r : rows) {
        d.push_back(template_distance(enrolled[p].templates,
                                      embeddings.row(static_cast<Eigen::Index>(r)),
                                      options.unlock.distance, options.unlock.mean_k));
        all.push_back(static_cast<float>(d.back()));
      }
      return mean_of(d);
    };
    u.genuine_mean = distances(enrolled[p].genuine_rows, report.genuine_distances);
    const size_t first = report.impostor_distances.size();
    u.impostor_mean = distances(enrolled[p].impostor_rows, report.impostor_distances);
    for (size_t k = 0; k < enrolled[p].impostor_rows.size(); ++k) {
      const ImpostorMatch m{report.impostor_distances[first + k], enrolled[p].impostor_rows[k], p};
      auto& top = report.closest_impostors;
      constexpr size_t kKept = 25;
      if (top.size() == kKept && !(m.distance < top.back().distance)) continue;
      top.insert(std::upper_bound(top.begin(), top.end(), m,
                                  [](const ImpostorMatch& a, const ImpostorMatch& b) {
                                    return a.distance < b.distance;
                                  }),
                 m);
      if (top.size() > kKept) top.pop_back();
    }
  }

  if (options.threshold >= 0) {
    report.threshold = options.threshold;
    report.threshold_source = "--threshold";
  } else if (options.far > 0) {
    if (report.impostor_distances.empty()) throw_bad_input("--far: no impostor attempts to calibrate on");
    report.threshold = threshold_for_far(report.impostor_distances, options.far);
    report.threshold_source = fmt::format("--far {:g} calibration", options.far);
  } else {
    if (!(options.checkpoint_threshold >= 0)) {
      throw_bad_input("the checkpoint has no EER threshold (never validated): pass --threshold or --far");
    }
    report.threshold = options.checkpoint_threshold;
    report.threshold_source = options.checkpoint_threshold_source;
  }

  size_t g_acc_static = 0, i_acc_static = 0, g_acc = 0, i_acc = 0;
  for (size_t p = 0; p < persons.size(); ++p) {
    UnlockSimUser& u = users[p];
    if (!u.enrolled) {
      ++report.refused_enrollments;
      report.users.push_back(u);
      continue;
    }
    const Enrolled& e = enrolled[p];
    for (bool adaptive : {false, true}) {
      UserTemplates templates = e.templates;
      UnlockPolicy genuine_policy(options.unlock, report.threshold, adaptive);
      const Replay g = replay(genuine_policy, templates, embeddings, e.genuine_rows);
      // Impostors try against the templates as the genuine use left them.
      UnlockPolicy impostor_policy(options.unlock, report.threshold, /*adaptive_update=*/false);
      const Replay im = replay(impostor_policy, templates, embeddings, e.impostor_rows);
      const double frr = 1.0 - rate(g.accepted, g.attempts);
      const double far = rate(im.accepted, im.attempts);
      if (adaptive) {
        u.frr = g.attempts ? frr : 0.0;
        u.far = far;
        u.lockouts = g.lockouts;
        u.impostor_lockouts = im.lockouts;
        u.templates_added = g.added;
        g_acc += g.accepted;
        i_acc += im.accepted;
      } else {
        u.frr_static = g.attempts ? frr : 0.0;
        u.far_static = far;
        g_acc_static += g.accepted;
        i_acc_static += im.accepted;
      }
    }
    u.genuine_attempts = e.genuine_rows.size();
    u.impostor_attempts = e.impostor_rows.size();
    report.genuine_attempts += u.genuine_attempts;
    report.impostor_attempts += u.impostor_attempts;
    report.lockouts += u.lockouts;
    report.impostor_lockouts += u.impostor_lockouts;
    report.users.push_back(u);
  }
  auto mean_f = [](const std::vector<float>& v) {
    return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  };
  report.genuine_mean = mean_f(report.genuine_distances);
  report.impostor_mean = mean_f(report.impostor_distances);
  report.frr = 1.0 - rate(g_acc, report.genuine_attempts);
  report.far = rate(i_acc, report.impostor_attempts);
  report.frr_static = 1.0 - rate(g_acc_static, report.genuine_attempts);
  report.far_static = rate(i_acc_static, report.impostor_attempts);
  if (report.genuine_attempts == 0) report.frr = report.frr_static = 0.0;
  return report;
}

OperatingPoint calibrate_operating_point(const Embeddings& embeddings,
                                         const std::vector<int>& labels,
                                         const std::vector<FrameRef>& frames, size_t persons,
                                         const UnlockConfig& unlock, double target_far) {
  if (labels.size() != static_cast<size_t>(embeddings.rows()) || frames.size() != labels.size()) {
    throw_internal("calibrate_operating_point: embeddings, labels and frames differ in length");
  }
  std::vector<std::vector<size_t>> rows_of(persons);
  for (size_t i = 0; i < labels.size(); ++i) rows_of.at(static_cast<size_t>(labels[i])).push_back(i);
  OperatingPoint op;
  op.target_far = target_far;
  op.persons = persons;
  std::vector<float> genuine, impostor;
  for (size_t p = 0; p < persons; ++p) {
    const std::vector<size_t> chosen = choose_enrollment_rows(rows_of[p], frames, unlock.enroll_frames);
    UserTemplates user;
    user.enrolled = Embeddings(static_cast<Eigen::Index>(chosen.size()), embeddings.cols());
    for (size_t i = 0; i < chosen.size(); ++i) {
      user.enrolled.row(static_cast<Eigen::Index>(i)) = embeddings.row(static_cast<Eigen::Index>(chosen[i]));
    }
    if (chosen.empty() || !enrollment_refusal(user.enrolled, unlock).empty()) continue;
    ++op.enrolled;
    for (size_t r = 0; r < labels.size(); ++r) {
      const bool own = static_cast<size_t>(labels[r]) == p;
      if (own && std::find(chosen.begin(), chosen.end(), r) != chosen.end()) continue;
      const auto d = static_cast<float>(template_distance(
          user, embeddings.row(static_cast<Eigen::Index>(r)), unlock.distance, unlock.mean_k));
      (own ? genuine : impostor).push_back(d);
    }
  }
  op.genuine_attempts = genuine.size();
  op.impostor_attempts = impostor.size();
  if (impostor.empty() || genuine.empty()) {
    op.threshold = std::numeric_limits<double>::quiet_NaN();
    op.why_none = fmt::format("no {} attempts: {} of {} person(s) enrolled",
                              impostor.empty() ? "impostor" : "genuine", op.enrolled, persons);
    return op;
  }
  op.threshold = threshold_for_far(impostor, target_far);
  size_t accepted = 0, rejected = 0;
  for (float d : impostor) accepted += d <= op.threshold;
  for (float d : genuine) rejected += d > op.threshold;
  op.far = rate(accepted, impostor.size());
  op.frr = rate(rejected, genuine.size());
  op.resolvable_far = 3.0 / static_cast<double>(impostor.size());
  return op;
}

std::string closest_impostors_csv(const UnlockSimReport& report,
                                  const std::vector<FrameRef>& frames,
                                  const std::vector<int>& labels,
                                  const std::vector<std::string>& persons) {
  std::string out = "distance,attempt_frame,attempt_person,claimed_user\n";
  for (const auto& m : report.closest_impostors) {
    out += fmt::format("{:.6f},{},{},{}\n", m.distance, frames.at(m.row).depth_path.string(),
                       persons.at(static_cast<size_t>(labels.at(m.row))), persons.at(m.claimed));
  }
  return out;
}

namespace {
// A rate of `attempts` trials: the percentage, or "n/a" when there was no trial.
std::string percent_or_na(double rate, size_t attempts, int decimals) {
  return attempts == 0 ? std::string("n/a") : fmt::format("{:.{}f}%", 100 * rate, decimals);
}
// A JSON number of `attempts` trials, or null when there was none: never a rate from nothing.
Json json_rate(double value, size_t attempts) {
  return attempts == 0 ? Json(nullptr) : json_number(value);
}
}  // namespace

std::string unlock_report_unusable(const UnlockSimReport& r) {
  std::string reasons;
  for (const auto& u : r.users) {
    if (!u.enrolled && reasons.size() < 300) {
      reasons += fmt::format("; {}: {}", u.user, u.refusal);
    }
  }
  const size_t enrolled = r.users.size() - r.refused_enrollments;
  if (r.genuine_attempts == 0) {
    return fmt::format(
        "no genuine attempts, so no FRR: {} of {} person(s) enrolled{}{}",
        enrolled, r.users.size(),
        enrolled > 0 ? ", and every frame of theirs was used for enrollment (lower "
                       "--enroll-frames or give more frames per person)"
                     : "",
        reasons);
  }
  if (r.impostor_attempts == 0) {
    return fmt::format(
        "no impostor attempts, so no FAR: {} of {} person(s) enrolled and no other person has a "
        "usable frame (give at least two persons){}",
        enrolled, r.users.size(), reasons);
  }
  return "";
}

std::string format_unlock_report(const UnlockSimReport& r) {
  std::string out = fmt::format("{:<28} {:>9} {:>9} {:>7} {:>9} {:>8} {:>8}\n", "user",
                                "genuine", "impostor", "FRR", "FAR", "attempts", "lockouts");
  for (const auto& u : r.users) {
    if (!u.enrolled) {
      out += fmt::format("{:<28} enrollment refused: {}\n", u.user, u.refusal);
      continue;
    }
    out += fmt::format("{:<28} {:>9.3f} {:>9.3f} {:>7} {:>9} {:>8} {:>8}\n", u.user,
                       u.genuine_mean, u.impostor_mean, percent_or_na(u.frr, u.genuine_attempts, 2),
                       percent_or_na(u.far, u.impostor_attempts, 4),
                       u.genuine_attempts + u.impostor_attempts, u.lockouts);
  }
  out += fmt::format(
      "\ngenuine mean distance {:.3f} vs impostor mean distance {:.3f}\n"
      "threshold {:.4f} ({})\n"
      "with adaptive update:    FRR {} ({} genuine attempts), FAR {} ({} impostor attempts)\n"
      "without adaptive update: FRR {}, FAR {}\n"
      "genuine lockouts {} (a user had to enter the passcode), impostor lockouts {}, "
      "refused enrollments {}\n",
      r.genuine_mean, r.impostor_mean, r.threshold, r.threshold_source,
      percent_or_na(r.frr, r.genuine_attempts, 2), r.genuine_attempts,
      percent_or_na(r.far, r.impostor_attempts, 4), r.impostor_attempts,
      percent_or_na(r.frr_static, r.genuine_attempts, 2),
      percent_or_na(r.far_static, r.impostor_attempts, 4), r.lockouts, r.impostor_lockouts,
      r.refused_enrollments);
  if (r.impostor_attempts > 0) {
    const auto accepted = static_cast<long long>(std::llround(r.far_static * r.impostor_attempts));
    const double bound = 3.0 / static_cast<double>(r.impostor_attempts);
    out += fmt::format(
        "impostor attempts accepted (no adaptive update): {} of {} (FAR {:.3g}); {}\n", accepted,
        r.impostor_attempts, r.far_static,
        accepted == 0
            ? fmt::format("none accepted, so FAR < {:.2g} at 95% confidence (rule of three)", bound)
            : fmt::format("the smallest FAR these attempts resolve is {:.2g} (rule of three)", bound));
  }
  return out;
}

std::string unlock_report_json(const UnlockSimReport& r) {
  Json j;
  j["threshold"] = json_number(r.threshold);
  j["genuine_mean"] = json_rate(r.genuine_mean, r.genuine_distances.size());
  j["impostor_mean"] = json_rate(r.impostor_mean, r.impostor_distances.size());
  j["frr"] = json_rate(r.frr, r.genuine_attempts);
  j["far"] = json_rate(r.far, r.impostor_attempts);
  j["genuine_attempts"] = r.genuine_attempts;
  j["impostor_attempts"] = r.impostor_attempts;
  j["lockouts"] = r.lockouts;
  return dump_json(j);
}

std::string unlock_per_user_csv(const UnlockSimReport& r) {
  std::string out =
      "user,enrolled,enroll_frames,genuine_mean,impostor_mean,frr,far,frr_static,far_static,"
      "genuine_attempts,impostor_attempts,lockouts,impostor_lockouts,templates_added,refusal\n";
  for (const auto& u : r.users) {
    out += fmt::format("{},{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{},{},{},{},{},{}\n",
                       csv_field(u.user), u.enrolled ? 1 : 0, u.enroll_frames, u.genuine_mean,
                       u.impostor_mean, u.frr, u.far, u.frr_static, u.far_static,
                       u.genuine_attempts, u.impostor_attempts, u.lockouts, u.impostor_lockouts, u.templates_added,
                       csv_field(u.refusal));
  }
  return out;
}

}  // namespace faceid
