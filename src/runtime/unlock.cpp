#include "faceid/runtime/unlock.hpp"

#include "faceid/core/error.hpp"

namespace faceid {

UnlockDecision unlock_attempt(TemplateStore& store, const std::string& user, EmbeddingRef embedding,
                              UnlockPolicy& policy, bool live) {
  UserTemplates& templates = store.get(user);
  policy.restore_lockout_state(store.lockout());
  const UnlockDecision d = policy.attempt(templates, embedding, live);
  store.set_lockout(policy.lockout_state());
  return d;
}

Eigen::RowVectorXf burst_embedding(const Embeddings& frames) {
  if (frames.rows() == 0) throw_bad_input("unlock: a burst attempt needs at least one frame with a face");
  Eigen::RowVectorXf mean = frames.colwise().mean();
  const float norm = mean.norm();
  if (norm > 0) mean /= norm;
  return mean;
}

BurstAttempt unlock_burst(TemplateStore& store, const std::string& user, const Embedder& embedder,
                          const LivenessDetector& liveness, const std::vector<const FaceCrop*>& frames,
                          UnlockPolicy& policy) {
  if (frames.empty()) throw_bad_input("unlock: a burst attempt needs at least one frame with a face");
  BurstAttempt a;
  a.liveness = liveness.assess_burst(frames);
  const Eigen::RowVectorXf embedding = burst_embedding(embedder.embed(frames));
  a.decision = unlock_attempt(store, user, embedding, policy, a.liveness.live);
  return a;
}

}  // namespace faceid
