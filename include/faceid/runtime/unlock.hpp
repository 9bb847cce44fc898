// One unlock attempt against a template store: the store keeps the templates and the lockout,
// the policy decides. This is the one place that uses both (neither includes the other).
#pragma once

#include <string>

#include "faceid/core/embeddings.hpp"
#include "faceid/runtime/template_store.hpp"
#include "faceid/runtime/unlock_policy.hpp"

namespace faceid {

// The attempt of `user` through `policy` (UnlockPolicy::attempt, which may add an adaptive
// template to the store; save the store to keep it). The policy starts from the store's lockout
// state and the store keeps the state the attempt leaves, so a locked device stays locked across
// save/load. `live`: the liveness verdict (see UnlockPolicy::attempt with liveness).
UnlockDecision unlock_attempt(TemplateStore& store, const std::string& user, EmbeddingRef embedding,
                              UnlockPolicy& policy, bool live = true);

}  // namespace faceid
