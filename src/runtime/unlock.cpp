#include "faceid/runtime/unlock.hpp"

namespace faceid {

UnlockDecision unlock_attempt(TemplateStore& store, const std::string& user, EmbeddingRef embedding,
                              UnlockPolicy& policy, bool live) {
  UserTemplates& templates = store.get(user);
  policy.restore_lockout_state(store.lockout());
  const UnlockDecision d = policy.attempt(templates, embedding, live);
  store.set_lockout(policy.lockout_state());
  return d;
}

}  // namespace faceid
