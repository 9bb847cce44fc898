#include "faceid/runtime/templates.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "faceid/core/error.hpp"

namespace faceid {

double template_distance(const UserTemplates& user, EmbeddingRef embedding, TemplateDistance mode,
                         int k) {
  const Eigen::Index n = user.template_count();
  if (n == 0) throw_bad_input(fmt::format("user '{}' has no template", user.user));
  if (embedding.size() != user.enrolled.cols()) {
    throw_bad_input(
        fmt::format("embedding of width {} against user '{}' with templates of width {}",
                    embedding.size(), user.user, user.enrolled.cols()));
  }
  // A handful of templates: direct differences beat a GEMM and need no norm trick.
  std::vector<float> d;
  d.reserve(static_cast<size_t>(n));
  for (const Embeddings* m : {&user.enrolled, &user.adaptive}) {
    for (Eigen::Index r = 0; r < m->rows(); ++r) d.push_back((m->row(r) - embedding).norm());
  }
  if (mode == TemplateDistance::min || k <= 1) return *std::min_element(d.begin(), d.end());
  const size_t kk = std::min(d.size(), static_cast<size_t>(k));
  std::partial_sort(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(kk), d.end());
  double sum = 0;
  for (size_t i = 0; i < kk; ++i) sum += d[i];
  return sum / static_cast<double>(kk);
}

}  // namespace faceid
