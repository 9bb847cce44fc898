#include "faceid/runtime/unlock_policy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "faceid/core/error.hpp"

namespace faceid {
namespace {

// A rejected attempt (distance over the threshold, or liveness failed): counts it and locks the
// policy at `lockout_failures` consecutive failures.
void count_rejection(UnlockDecision& d, UnlockCounters& counters, int& failures, bool& locked,
                     int lockout_failures) {
  d.outcome = UnlockOutcome::rejected;
  ++counters.rejected;
  if (++failures >= lockout_failures) {
    locked = true;
    ++counters.lockout_events;
  }
}

}  // namespace

const char* to_string(UnlockOutcome outcome) {
  switch (outcome) {
    case UnlockOutcome::accepted:
      return "accepted";
    case UnlockOutcome::rejected:
      return "rejected";
    case UnlockOutcome::locked_out:
      return "locked_out";
  }
  return "unknown";
}

UnlockPolicy::UnlockPolicy(const UnlockConfig& config, double threshold, bool adaptive_update)
    : config_(config),
      threshold_(threshold),
      adaptive_update_(adaptive_update) {
  auto bad = [](const char* key, const std::string& why) {
    throw_bad_input(fmt::format("unlock.{}: {}", key, why));
  };
  if (config.mean_k < 1) bad("mean_k", fmt::format("expected >= 1, got {}", config.mean_k));
  if (config.lockout_failures < 1) {
    bad("lockout_failures", fmt::format("expected >= 1, got {}", config.lockout_failures));
  }
  if (!(config.update_band >= 0.0 && config.update_band <= 1.0)) {
    bad("update_band", fmt::format("expected in [0, 1], got {}", config.update_band));
  }
  if (config.adaptive_capacity < 0) {
    bad("adaptive_capacity", fmt::format("expected >= 0, got {}", config.adaptive_capacity));
  }
  if (!std::isfinite(threshold) || threshold < 0.0) {
    throw_bad_input(
        fmt::format("unlock threshold must be a finite distance >= 0, got {}", threshold));
  }
}

double UnlockPolicy::distance(const UserTemplates& user, EmbeddingRef embedding) const {
  return template_distance(user, embedding, config_.distance, config_.mean_k);
}

UnlockDecision UnlockPolicy::attempt(UserTemplates& user, EmbeddingRef embedding) {
  ++counters_.attempts;
  UnlockDecision d;
  if (locked_) {
    ++counters_.locked_out;
    d.outcome = UnlockOutcome::locked_out;
    d.consecutive_failures = failures_;
    d.locked = true;
    return d;
  }
  d.distance = distance(user, embedding);
  if (d.distance <= threshold_) {
    d.outcome = UnlockOutcome::accepted;
    ++counters_.accepted;
    failures_ = 0;
    if (adaptive_update_ && config_.adaptive_capacity > 0 &&
        d.distance >= config_.update_band * threshold_) {
      user.push_adaptive(embedding, static_cast<size_t>(config_.adaptive_capacity));
      d.template_added = true;
      ++counters_.templates_added;
    }
  } else {
    count_rejection(d, counters_, failures_, locked_, config_.lockout_failures);
  }
  d.consecutive_failures = failures_;
  d.locked = locked_;
  return d;
}

LockoutState UnlockPolicy::lockout_state() const {
  LockoutState s;
  s.consecutive_failures = static_cast<uint32_t>(failures_);
  s.locked = locked_;
  return s;
}

void UnlockPolicy::restore_lockout_state(const LockoutState& state) {
  failures_ = static_cast<int>(std::min<uint32_t>(state.consecutive_failures, 1u << 30));
  // A stored count at the limit locks even when the flag was lost (e.g. a lower limit now).
  locked_ = state.locked || failures_ >= config_.lockout_failures;
}

UnlockDecision UnlockPolicy::attempt(UserTemplates& user, EmbeddingRef embedding, bool live) {
  if (live || locked_) return attempt(user, embedding);  // locked: refused without matching
  ++counters_.attempts;
  UnlockDecision d;
  d.distance = distance(user, embedding);
  d.liveness_failed = true;
  count_rejection(d, counters_, failures_, locked_, config_.lockout_failures);
  d.consecutive_failures = failures_;
  d.locked = locked_;
  return d;
}

void UnlockPolicy::reset_with_passcode() {
  locked_ = false;
  failures_ = 0;
}

}  // namespace faceid
