// Helpers of the template store tests (test_template_store.cpp, test_store_misuse.cpp).
#pragma once

#include <cstdint>
#include <random>

#include "faceid/eval/distances.hpp"

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

}  // namespace faceid::test
