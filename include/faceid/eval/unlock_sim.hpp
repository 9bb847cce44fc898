// The FaceID simulation: for every person of a set, enroll from K frames that span the poses,
// then replay genuine attempts (the person's other frames) and impostor attempts (every frame of
// every other person) through the unlock policy, with and without adaptive template update.
// Torch-free: it works on embeddings (see embed_dataset.hpp for making them).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "faceid/core/config.hpp"
#include "faceid/eval/distances.hpp"
#include "faceid/io/frame.hpp"

namespace faceid {

struct UnlockSimUser {
  std::string user;
  bool enrolled = false;
  std::string refusal;        // why enrollment was refused (when !enrolled)
  int enroll_frames = 0;
  double genuine_mean = 0;    // mean attempt distance of the user's own other frames
  double impostor_mean = 0;   // mean attempt distance of every other person's frames
  double frr = 0;             // with adaptive update
  double far = 0;             // with adaptive update
  double frr_static = 0;      // without adaptive update
  double far_static = 0;      // without adaptive update
  size_t genuine_attempts = 0;
  size_t impostor_attempts = 0;
  size_t lockouts = 0;        // genuine lockouts: the user failed 5 times in a row and had to
                              // enter the passcode (with adaptive update)
  size_t impostor_lockouts = 0;  // lockouts triggered by impostor attempts on this user
  size_t templates_added = 0; // adaptive templates added by genuine unlocks
};

// One impostor attempt: the attempt frame, the user it claimed, its distance to that user's
// enrolled templates. The closest ones are what sets the threshold at a low FAR.
struct ImpostorMatch {
  double distance = 0;
  size_t row = 0;          // the attempt's row (frames[row])
  size_t claimed = 0;      // the user's person index
};

struct UnlockSimReport {
  double threshold = 0;
  std::string threshold_source;   // "checkpoint EER", "--threshold", "--far 1e-3 calibration"
  std::vector<UnlockSimUser> users;
  double genuine_mean = 0;        // over all genuine attempts
  double impostor_mean = 0;       // over all impostor attempts
  double frr = 0, far = 0;        // with adaptive update
  double frr_static = 0, far_static = 0;  // without
  size_t genuine_attempts = 0, impostor_attempts = 0;
  size_t lockouts = 0;           // genuine lockouts (JSON "lockouts")
  size_t impostor_lockouts = 0;  // lockouts that impostor attempts ran into
  size_t refused_enrollments = 0;
  std::vector<float> genuine_distances;   // attempt distances (static templates), for histograms
  std::vector<float> impostor_distances;
  std::vector<ImpostorMatch> closest_impostors;  // the 25 smallest static impostor distances
};

struct UnlockSimOptions {
  UnlockConfig unlock;            // enroll_frames (K), distance mode, lockout, adaptive band
  double threshold = -1;          // >= 0: use it
  double far = 0;                 // > 0: calibrate the threshold on the impostor distances
  double checkpoint_threshold = 0;  // used when neither is given
  std::string checkpoint_threshold_source = "checkpoint validation EER threshold";
};

// Frames of one person are rows of `embeddings` with labels[i] == person; `frames` gives each
// row's pose and repetition. The enrollment set takes K frames spread evenly over the person's
// (pose, repetition)-sorted frames of the first repetition (falling back to all frames).
UnlockSimReport simulate_unlock(const Embeddings& embeddings, const std::vector<int>& labels,
                                const std::vector<FrameRef>& frames,
                                const std::vector<std::string>& persons,
                                const UnlockSimOptions& options);

// The enrollment rows chosen for one person's rows (sorted by pose, repetition).
std::vector<size_t> choose_enrollment_rows(const std::vector<size_t>& rows,
                                           const std::vector<FrameRef>& frames, int k);

// Why the report measures nothing ("" when it does): no genuine attempts (no FRR) or no impostor
// attempts (no FAR), with the persons' enrollment refusals. unlock_sim exits 2 with it.
std::string unlock_report_unusable(const UnlockSimReport& report);

// The operating point of a model on a labelled set: enroll every person as simulate_unlock does
// (unlock.enroll_frames spanning the poses, the same refusals), score every other frame of every
// person against every enrolled person by the attempt distance (unlock.distance over the
// templates), and take the largest threshold whose impostor-attempt FAR is <= target_far
// (threshold_for_far). resolvable_far = 3 / impostor attempts: the rule of three, the smallest
// FAR the set can support at 95% confidence with no accepted impostor. A set without genuine or
// impostor attempts (too few frames, refused enrollments) gives a NaN threshold and why_none.
struct OperatingPoint {
  double threshold = 0;
  double target_far = 0;
  double far = 0;              // measured at the threshold
  double frr = 0;              // genuine attempts rejected at the threshold
  double resolvable_far = 1;   // 3 / impostor_attempts
  size_t genuine_attempts = 0, impostor_attempts = 0;
  size_t enrolled = 0, persons = 0;
  std::string why_none;  // when there were no genuine or no impostor attempts: threshold is NaN
};
OperatingPoint calibrate_operating_point(const Embeddings& embeddings,
                                         const std::vector<int>& labels,
                                         const std::vector<FrameRef>& frames, size_t persons,
                                         const UnlockConfig& unlock, double target_far);

// Writes report.txt-style lines to a string ("n/a" for a rate of 0 attempts); JSON with exactly
// the keys threshold, genuine_mean, impostor_mean, frr, far, genuine_attempts, impostor_attempts,
// lockouts, where a rate or mean of 0 attempts is null (never a number computed from nothing);
// per-user CSV.
std::string format_unlock_report(const UnlockSimReport& report);
std::string unlock_report_json(const UnlockSimReport& report);
std::string unlock_per_user_csv(const UnlockSimReport& report);
// The closest impostor attempts: distance, attempt frame (depth path), its person, the claimed user.
std::string closest_impostors_csv(const UnlockSimReport& report,
                                  const std::vector<FrameRef>& frames,
                                  const std::vector<int>& labels,
                                  const std::vector<std::string>& persons);

}  // namespace faceid
