// One user's templates and the device lockout: the data the template store keeps and the unlock
// policy reads and updates. Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "faceid/core/config.hpp"
#include "faceid/core/embeddings.hpp"

namespace faceid {

struct UserTemplates {
  std::string user;
  Embeddings enrolled;      // enrollment embeddings; never changed by unlocks
  Embeddings adaptive;      // templates added by successful unlocks, oldest first
  std::string created_utc;  // enrollment time, ISO-8601 UTC ("2024-05-01T12:00:00Z")
  // The liveness (PAD) model that screened every enrollment frame, as "FILE:FNV1A64" (the model
  // file's name and the hash of its bytes, see enroll); "" when enrolled without a liveness check.
  std::string liveness_model;

  Eigen::Index template_count() const { return enrolled.rows() + adaptive.rows(); }
  // Appends to the adaptive FIFO, evicting the oldest beyond `capacity` (0: nothing is kept).
  void push_adaptive(EmbeddingRef embedding, size_t capacity);  // (template_store.cpp)
};

// The device's unlock lockout, persisted in the store so that restarting the unlock process does
// not reset it (see UnlockPolicy).
struct LockoutState {
  uint32_t consecutive_failures = 0;  // rejections since the last acceptance or passcode
  bool locked = false;                // every attempt is refused until the passcode is entered
};

// Distance from `embedding` to the user's templates (enrolled + adaptive): the minimum, or the mean
// of the k smallest (k capped at the number of templates). Errc::bad_input when the user has no
// template or the widths differ.
double template_distance(const UserTemplates& user, EmbeddingRef embedding, TemplateDistance mode,
                         int k);

}  // namespace faceid
