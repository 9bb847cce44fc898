// One unlock attempt against a template store: the store keeps the templates and the lockout,
// the policy decides. This is the one place that uses both (neither includes the other).
#pragma once

#include <string>
#include <vector>

#include "faceid/core/embeddings.hpp"
#include "faceid/runtime/embedder.hpp"
#include "faceid/runtime/pad.hpp"
#include "faceid/runtime/template_store.hpp"
#include "faceid/runtime/unlock_policy.hpp"

namespace faceid {

// The attempt of `user` through `policy` (UnlockPolicy::attempt, which may add an adaptive
// template to the store; save the store to keep it). The policy starts from the store's lockout
// state and the store keeps the state the attempt leaves, so a locked device stays locked across
// save/load. `live`: the liveness verdict (see UnlockPolicy::attempt with liveness).
UnlockDecision unlock_attempt(TemplateStore& store, const std::string& user, EmbeddingRef embedding,
                              UnlockPolicy& policy, bool live = true);

// The embedding of a burst attempt: the mean of its frames' embeddings (rows), L2-normalised.
// Errc::bad_input when there are no rows.
Eigen::RowVectorXf burst_embedding(const Embeddings& frames);

struct BurstAttempt {
  UnlockDecision decision;  // the policy's decision on burst_embedding, with the burst's verdict
  BurstDecision liveness;
};

// One unlock attempt of `user` from a burst: the crops of the K frames of one presentation, in
// time order (frames where no face was found left out by the caller; at least one). Accepted only
// when the burst is live (LivenessDetector::assess_burst) and the distance of burst_embedding to
// the templates passes; otherwise as unlock_attempt.
BurstAttempt unlock_burst(TemplateStore& store, const std::string& user, const Embedder& embedder,
                          const LivenessDetector& liveness, const std::vector<const FaceCrop*>& frames,
                          UnlockPolicy& policy);

}  // namespace faceid
