// Helpers of the template store tests (test_template_store.cpp, test_store_misuse.cpp,
// test_enroll_liveness.cpp).
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "faceid/core/binary.hpp"
#include "faceid/eval/distances.hpp"
#include "faceid/runtime/template_store.hpp"

namespace faceid::test {

// `rows` random unit vectors of `dim` components, reproducible from `seed`.
inline Embeddings unit_rows(int rows, int dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Embeddings X(rows, dim);
  for (int i = 0; i < rows; ++i) {
    for (int k = 0; k < dim; ++k) X(i, k) = normal(rng);
    X.row(i).normalize();
  }
  return X;
}

// The plaintext of `store` as format `version` (1 to 4) would hold it, written field by field
// here, independently of TemplateStore::serialize (see the layout in template_store.hpp): what
// an older build wrote. Fields a version lacks are left out (version < 4: the users' liveness
// models; < 3: the generation; < 2: the lockout).
inline std::string store_plaintext_as_version(const TemplateStore& store, uint32_t version) {
  ByteWriter payload;
  payload.put_str(store.fingerprint(), LengthPrefix::u32);
  payload.put_str(store.created_utc(), LengthPrefix::u32);
  payload.put_u32(static_cast<uint32_t>(store.dim()));
  payload.put_u32(static_cast<uint32_t>(store.size()));
  for (const auto& name : store.list()) {
    const UserTemplates& u = store.get(name);
    payload.put_str(u.user, LengthPrefix::u32);
    payload.put_str(u.created_utc, LengthPrefix::u32);
    if (version >= 4) payload.put_str(u.liveness_model, LengthPrefix::u32);
    payload.put_u32(static_cast<uint32_t>(u.enrolled.rows()));
    payload.put_u32(static_cast<uint32_t>(u.adaptive.rows()));
    for (Eigen::Index r = 0; r < u.enrolled.rows(); ++r) {
      for (Eigen::Index c = 0; c < u.enrolled.cols(); ++c) payload.put_f32(u.enrolled(r, c));
    }
    for (Eigen::Index r = 0; r < u.adaptive.rows(); ++r) {
      for (Eigen::Index c = 0; c < u.adaptive.cols(); ++c) payload.put_f32(u.adaptive(r, c));
    }
  }
  if (version >= 2) {
    payload.put_u32(store.lockout().consecutive_failures);
    payload.put_u32(store.lockout().locked ? 1u : 0u);
  }
  if (version >= 3) payload.put_u64(store.generation());
  return seal("FACEIDTS", version, payload.view());
}

}  // namespace faceid::test
