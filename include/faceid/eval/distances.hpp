// Euclidean distances between embeddings, computed blockwise with GEMM. Torch-free.
//
// For rows a, b: d^2 = |a|^2 + |b|^2 - 2 a.b (clamped at 0), so one matrix product gives a whole
// block of distances; for unit vectors d lies in [0, 2]. All-pairs runs over tiles of
// block_rows x block_rows (memory: one tile per thread) and streams every unordered pair i < j,
// classified by label, into a HistogramAccumulator (huge sets) or into two vectors (small sets).
// Float arithmetic: distances agree with a naive double-precision loop to ~1e-3 at worst (for
// nearly identical vectors, where the subtraction cancels), ~1e-6 typically.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "faceid/core/embeddings.hpp"
#include "faceid/eval/metrics.hpp"

namespace faceid {

struct PairDistanceStats {
  uint64_t genuine_pairs = 0;
  uint64_t impostor_pairs = 0;
  double seconds = 0;  // wall time
};

// Every unordered pair i < j of rows of X: genuine when labels[i] == labels[j], impostor otherwise,
// added to `acc` (which may already hold counts). `threads` workers (0 = all cores) each own one
// tile and one accumulator, merged at the end; tiles are dealt round-robin, so the result does not
// depend on timing. Throws Errc::bad_input when labels.size() != X.rows() or X holds NaN.
PairDistanceStats all_pair_distances(const Embeddings& X, const std::vector<int>& labels,
                                     HistogramAccumulator& acc, int threads = 1,
                                     int block_rows = 1024);

struct PairDistances {
  std::vector<float> genuine;
  std::vector<float> impostor;
};

// The same pairs, returned as lists (for ExactRoc). Refuses (Errc::bad_input) more than
// `max_pairs` pairs: use the accumulator for those. The order is deterministic for a given
// thread count (ROC code sorts anyway).
PairDistances all_pair_distances_exact(const Embeddings& X, const std::vector<int>& labels,
                                       int threads = 1, uint64_t max_pairs = 50'000'000,
                                       int block_rows = 1024);

}  // namespace faceid
