#include "faceid/core/embeddings.hpp"

#include <fmt/format.h>

#include "faceid/core/error.hpp"

namespace faceid {

void dots_to_distances(DistanceMatrix& tile, const float* a_norms, const float* b_norms) {
  const Eigen::Map<const Eigen::ArrayXf> bn(b_norms, tile.cols());
  for (Eigen::Index r = 0; r < tile.rows(); ++r) {
    Eigen::Map<Eigen::ArrayXf> row(tile.row(r).data(), tile.cols());
    row = ((a_norms[r] + bn) - 2.0f * row).max(0.0f).sqrt();
  }
}

DistanceMatrix cross_distances(const Embeddings& A, const Embeddings& B) {
  if (A.cols() != B.cols()) {
    throw_bad_input(
        fmt::format("cross distances: embeddings of width {} vs {}", A.cols(), B.cols()));
  }
  DistanceMatrix D(A.rows(), B.rows());
  if (A.rows() == 0 || B.rows() == 0) return D;
  D.noalias() = A * B.transpose();
  const Eigen::VectorXf an = A.rowwise().squaredNorm();
  const Eigen::VectorXf bn = B.rowwise().squaredNorm();
  dots_to_distances(D, an.data(), bn.data());
  return D;
}

}  // namespace faceid
