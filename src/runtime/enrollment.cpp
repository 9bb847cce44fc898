#include "faceid/runtime/enrollment.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace faceid {

double mean_pairwise_distance(const Embeddings& e) {
  if (e.rows() < 2) return 0.0;
  const DistanceMatrix d = cross_distances(e, e);
  double sum = 0;
  for (Eigen::Index i = 0; i < d.rows(); ++i) {
    for (Eigen::Index j = i + 1; j < d.cols(); ++j) sum += d(i, j);
  }
  return sum / (0.5 * static_cast<double>(e.rows()) * static_cast<double>(e.rows() - 1));
}

std::string enrollment_refusal(const Embeddings& enrollment, const UnlockConfig& config) {
  if (enrollment.rows() < config.min_enroll_frames) {
    return fmt::format("{} usable frame(s); enrollment needs at least {} (unlock.min_enroll_frames)",
                       enrollment.rows(), config.min_enroll_frames);
  }
  const double spread = mean_pairwise_distance(enrollment);
  if (spread < config.min_pose_spread) {
    return fmt::format(
        "the poses are too similar: mean pairwise embedding distance {:.3f} < {:.3f} "
        "(unlock.min_pose_spread); show several head poses", spread, config.min_pose_spread);
  }
  return "";
}

std::vector<size_t> inconsistent_enrollment_rows(const Embeddings& enrollment, double threshold) {
  std::vector<size_t> rows;
  if (enrollment.rows() < 2) return rows;
  const DistanceMatrix d = cross_distances(enrollment, enrollment);
  std::vector<double> others;
  for (Eigen::Index i = 0; i < d.rows(); ++i) {
    others.clear();
    for (Eigen::Index j = 0; j < d.cols(); ++j) {
      if (j != i) others.push_back(d(i, j));
    }
    // The upper median: with two frames, their one distance.
    auto mid = others.begin() + static_cast<std::ptrdiff_t>(others.size() / 2);
    std::nth_element(others.begin(), mid, others.end());
    if (!(*mid <= threshold)) rows.push_back(static_cast<size_t>(i));
  }
  return rows;
}

}  // namespace faceid
