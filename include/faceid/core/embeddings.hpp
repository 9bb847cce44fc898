// The embedding types every layer shares, and the one distance computation the runtime needs
// (a query against templates). Torch-free: Eigen only. The all-pairs and ROC code built on them
// is evaluation (faceid/eval/distances.hpp, faceid/eval/metrics.hpp).
#pragma once

#include <Eigen/Core>

namespace faceid {

// N embeddings of dimension D, one per row (L2-normalised by the model).
using Embeddings = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// One embedding: a row of Embeddings or an Eigen::RowVectorXf, without a copy.
using EmbeddingRef = Eigen::Ref<const Eigen::RowVectorXf>;
// A matrix of distances, row i = query i.
using DistanceMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// D(i, j) = |A.row(i) - B.row(j)| (one GEMM). Throws Errc::bad_input when the widths differ.
DistanceMatrix cross_distances(const Embeddings& A, const Embeddings& B);

// In place: a tile of dot products a_r . b_c -> distances sqrt(max(0, |a_r|^2 + |b_c|^2 - 2 dot)).
// a_norms / b_norms: squared norms of the tile's rows / columns.
void dots_to_distances(DistanceMatrix& tile, const float* a_norms, const float* b_norms);

}  // namespace faceid
