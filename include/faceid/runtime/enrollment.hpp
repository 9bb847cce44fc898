// Enrollment rules, shared by `enroll` and `unlock_sim`: like FaceID, a user shows several head
// poses; enrollment is refused (an expected outcome, returned, not thrown) when too few frames
// are usable or the poses are too similar.
#pragma once

#include <string>
#include <vector>

#include "faceid/core/config.hpp"
#include "faceid/core/embeddings.hpp"

namespace faceid {

// Mean distance over all pairs of rows (0 for fewer than 2 rows): how far apart the poses are.
double mean_pairwise_distance(const Embeddings& e);

// "" when `enrollment` (one embedding per usable frame) may be enrolled under `config`
// (min_enroll_frames, min_pose_spread), else the reason it is refused.
std::string enrollment_refusal(const Embeddings& enrollment, const UnlockConfig& config);

// The rows of `enrollment` that do not look like the same person as the others: a row whose median
// distance to the other rows exceeds `threshold` (the match threshold). The median tolerates one
// odd pose of the same person, yet refuses any mix of people: the frames of a person holding at
// most half of the rows have mostly other people as neighbours. Empty when fewer than 2 rows.
std::vector<size_t> inconsistent_enrollment_rows(const Embeddings& enrollment, double threshold);

}  // namespace faceid
