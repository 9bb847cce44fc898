// The unlock policy of one device: matching an attempt against a user's templates, the lockout
// after consecutive failures, and the adaptive template update (like FaceID, which augments its
// templates with recent successful matches). Used by unlock_sim and any device front end.
// Torch-free.
//
//   distance  = min over the user's templates (enrolled + adaptive), or the mean of the k smallest
//   accepted  = distance <= threshold
//   lockout   = after `lockout_failures` consecutive rejections every attempt returns locked_out,
//               without matching, until reset_with_passcode(); an acceptance resets the count.
//               The state is persisted in the template store (unlock_attempt in unlock.hpp restores
//               it into the policy and keeps what the attempt leaves), so a restart does not reset it
//   adaptive  = an accepted attempt with distance in [update_band x threshold, threshold] joins the
//               user's adaptive FIFO (capacity `adaptive_capacity`, oldest evicted); enrolled
//               templates are never replaced. Switchable per policy.
// The threshold is calibrated by training (threshold_for_far in eval/metrics.hpp) on impostor
// distances: the largest threshold whose FAR <= the target. The policy decides; the template store
// stores: neither includes the other.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "faceid/core/config.hpp"
#include "faceid/runtime/templates.hpp"

namespace faceid {

enum class UnlockOutcome { accepted, rejected, locked_out };

const char* to_string(UnlockOutcome outcome);

struct UnlockDecision {
  UnlockOutcome outcome = UnlockOutcome::rejected;
  double distance = std::numeric_limits<double>::quiet_NaN();  // NaN when locked out
  bool template_added = false;   // the embedding joined the adaptive templates
  int consecutive_failures = 0;  // after this attempt
  bool locked = false;           // the policy is locked after this attempt
  bool liveness_failed = false;  // rejected by presentation-attack detection (see pad/pad.hpp)
};

struct UnlockCounters {
  uint64_t attempts = 0;  // every call of attempt()
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t locked_out = 0;       // attempts refused while locked
  uint64_t lockout_events = 0;   // times the policy locked
  uint64_t templates_added = 0;  // adaptive updates
};

class UnlockPolicy {
 public:
  // Throws Errc::bad_input for an invalid config field or a threshold that is not finite or < 0.
  UnlockPolicy(const UnlockConfig& config, double threshold, bool adaptive_update = true);

  // One attempt of `user` (whose adaptive templates may grow).
  UnlockDecision attempt(UserTemplates& user, EmbeddingRef embedding);
  // The same with the liveness check's verdict (LivenessDetector): unlocking needs both a live
  // presentation and distance <= threshold. A presentation that is not live is rejected whatever
  // its distance (reported), counts towards the lockout and never updates the templates.
  UnlockDecision attempt(UserTemplates& user, EmbeddingRef embedding, bool live);
  // The attempt distance, without any state change.
  double distance(const UserTemplates& user, EmbeddingRef embedding) const;

  void reset_with_passcode();  // unlocks and clears the failure count
  // The lockout as the template store persists it, and putting a stored one back.
  LockoutState lockout_state() const;
  void restore_lockout_state(const LockoutState& state);
  bool locked() const { return locked_; }
  int consecutive_failures() const { return failures_; }
  uint64_t lockout_events() const { return counters_.lockout_events; }
  const UnlockCounters& counters() const { return counters_; }

  bool adaptive_update() const { return adaptive_update_; }
  void set_adaptive_update(bool on) { adaptive_update_ = on; }
  double threshold() const { return threshold_; }
  const UnlockConfig& config() const { return config_; }

 private:
  UnlockConfig config_;
  double threshold_;
  bool adaptive_update_;
  bool locked_ = false;
  int failures_ = 0;
  UnlockCounters counters_;
};

}  // namespace faceid
