// 2-D views of embeddings: PCA and exact t-SNE (Eigen, deterministic), and a scatter plot coloured
// by identity (gnuplot, see plot.hpp). Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "faceid/eval/distances.hpp"
#include "faceid/eval/plot.hpp"

namespace faceid {

struct Projection2d {
  Embeddings points;         // one row (x, y) per kept embedding
  std::vector<int> labels;   // label of each kept row
  std::vector<size_t> rows;  // index of each kept row in the input
  std::string description;   // what the axes are, e.g. "PCA: PC1 41.2%, PC2 13.0% of variance"
  std::string note;          // "" or what was changed, e.g. a subsample; apps print it
};

// Projection on the two leading principal components (eigenvectors of the covariance; each
// component's largest coordinate made positive, so the result is deterministic). Throws
// Errc::bad_input for fewer than 2 rows or a label count that differs from the rows.
Projection2d pca_2d(const Embeddings& X, const std::vector<int>& labels);

struct TsneOptions {
  double perplexity = 30.0;  // effective neighbours; lowered to (N-1)/3 for small N (noted)
  int iterations = 1000;     // gradient steps
  int exaggeration_iterations = 250;  // early exaggeration (and momentum 0.5) for this many steps
  double exaggeration = 12.0;         // factor on P during early exaggeration
  double learning_rate = 0.0;         // 0 = auto: max(N / exaggeration / 4, 50)
  uint64_t seed = 1;                  // initial layout and subsample
  size_t max_points = 3000;           // exact t-SNE is O(N^2) in time and memory: above this, whole
                                      // identities are drawn (seeded) until the budget is full
};

// Exact t-SNE (van der Maaten 2008): Gaussian affinities with a per-point binary search on the
// precision to match the perplexity, symmetrised P, Student-t Q, gradient descent with momentum
// and per-parameter gains (float, upper triangle, kernel recomputed per step). Deterministic for a
// seed. Fine up to a few thousand points: 3000 points peak at ~150 MB (while building P) and take
// ~35 s for 1000 iterations on one core of a busy machine.
Projection2d tsne_2d(const Embeddings& X, const std::vector<int>& labels,
                     const TsneOptions& options = {});

// Scatter of the projection, one colour per identity (legend when there are at most 12, names
// from `label_names[label]` when given). The title gets the description and the note.
// CSV columns: x,y,label,identity.
PlotFiles plot_embedding_scatter(const std::filesystem::path& png, const Projection2d& projection,
                                 const std::string& title,
                                 const std::vector<std::string>& label_names = {});

}  // namespace faceid
