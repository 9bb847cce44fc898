#include "faceid/eval/embedding_plots.hpp"

#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "faceid/core/error.hpp"
#include "faceid/core/rng.hpp"

namespace faceid {
namespace {

using MatrixXd = Eigen::MatrixXd;

void check_rows(const Embeddings& X, const std::vector<int>& labels, size_t min_rows,
                const char* what) {
  if (static_cast<Eigen::Index>(labels.size()) != X.rows()) {
    throw_bad_input(fmt::format("{}: {} embeddings but {} labels", what, X.rows(), labels.size()));
  }
  if (static_cast<size_t>(X.rows()) < min_rows) {
    throw_bad_input(
        fmt::format("{}: needs at least {} embeddings, got {}", what, min_rows, X.rows()));
  }
  if (!X.allFinite()) throw_bad_input(fmt::format("{}: embeddings hold NaN or infinity", what));
}

// Rows to embed: all of them, or whole identities in a seeded random order while they fit.
std::vector<size_t> choose_rows(const std::vector<int>& labels, size_t max_points, uint64_t seed,
                                std::string* note) {
  std::vector<size_t> rows(labels.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  if (labels.size() <= max_points) return rows;
  std::map<int, std::vector<size_t>> by_label;
  for (size_t i = 0; i < labels.size(); ++i) by_label[labels[i]].push_back(i);
  std::vector<const std::vector<size_t>*> groups;
  for (const auto& kv : by_label) groups.push_back(&kv.second);
  Rng rng(seed);
  for (size_t i = groups.size(); i > 1; --i) std::swap(groups[i - 1], groups[rng.below(i)]);
  rows.clear();
  size_t identities = 0;
  for (const auto* g : groups) {
    if (rows.size() + g->size() > max_points) continue;
    rows.insert(rows.end(), g->begin(), g->end());
    ++identities;
  }
  if (rows.empty()) {  // one identity alone exceeds the budget: its first rows
    rows.assign(groups[0]->begin(), groups[0]->begin() + static_cast<std::ptrdiff_t>(max_points));
    identities = 1;
  }
  std::sort(rows.begin(), rows.end());
  *note = fmt::format(
      "t-SNE on {} of {} embeddings: {} of {} identities drawn with seed {} (exact t-SNE limit: "
      "{} points)",
      rows.size(), labels.size(), identities, by_label.size(), seed, max_points);
  return rows;
}

// Row-normalised Gaussian affinities P(j|i) with the precision of each row found by bisection so
// that the entropy of row i is log(perplexity).
MatrixXd conditional_affinities(const MatrixXd& sq_dist, double perplexity) {
  const Eigen::Index n = sq_dist.rows();
  const double target = std::log(perplexity);
  MatrixXd P(n, n);
  Eigen::ArrayXd d(n), p(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    // Distances from i shifted by their minimum (same P, no underflow). Point i itself gets d = 0,
    // so p = 1, taken out of the sums.
    d = sq_dist.row(i).transpose().array();
    d[i] = std::numeric_limits<double>::infinity();
    d -= d.minCoeff();
    d[i] = 0.0;
    double beta = 1.0, lo = 0.0, hi = std::numeric_limits<double>::infinity();
    for (int it = 0; it < 200; ++it) {
      p = (-beta * d).exp();
      const double sum = p.sum() - 1.0;
      const double entropy = std::log(sum) + beta * (d * p).sum() / sum;
      if (std::abs(entropy - target) < 1e-5) break;
      if (entropy > target) {
        lo = beta;
        beta = std::isinf(hi) ? beta * 2.0 : 0.5 * (beta + hi);
      } else {
        hi = beta;
        beta = 0.5 * (beta + lo);
      }
    }
    p[i] = 0.0;
    P.row(i) = p.transpose() / p.sum();
  }
  return P;
}

}  // namespace

Projection2d pca_2d(const Embeddings& X, const std::vector<int>& labels) {
  check_rows(X, labels, 2, "PCA");
  const MatrixXd centered = X.cast<double>().rowwise() - X.cast<double>().colwise().mean();
  const MatrixXd cov = centered.transpose() * centered / static_cast<double>(X.rows() - 1);
  const Eigen::SelfAdjointEigenSolver<MatrixXd> eig(cov);
  if (eig.info() != Eigen::Success) throw_internal("PCA: eigen decomposition failed");
  const Eigen::Index dim = cov.rows();
  MatrixXd basis = MatrixXd::Zero(dim, 2);
  double explained[2] = {0.0, 0.0};
  const double total = std::max(cov.trace(), 1e-300);
  for (int c = 0; c < 2 && c < dim; ++c) {
    Eigen::VectorXd v = eig.eigenvectors().col(dim - 1 - c);  // eigenvalues ascend
    Eigen::Index largest = 0;
    v.cwiseAbs().maxCoeff(&largest);
    if (v[largest] < 0) v = -v;
    basis.col(c) = v;
    explained[c] = std::max(0.0, eig.eigenvalues()[dim - 1 - c]) / total;
  }
  Projection2d out;
  out.points = (centered * basis).cast<float>();
  out.labels = labels;
  out.rows.resize(labels.size());
  for (size_t i = 0; i < out.rows.size(); ++i) out.rows[i] = i;
  out.description = fmt::format("PCA: PC1 {:.1f}%, PC2 {:.1f}% of variance", 100.0 * explained[0],
                                100.0 * explained[1]);
  return out;
}

Projection2d tsne_2d(const Embeddings& X, const std::vector<int>& labels,
                     const TsneOptions& options) {
  check_rows(X, labels, 4, "t-SNE");
  if (!(options.perplexity > 0) || options.iterations < 1 || options.max_points < 4 ||
      options.exaggeration_iterations < 0 || !(options.exaggeration >= 1.0) ||
      options.learning_rate < 0) {
    throw_bad_input(fmt::format(
        "t-SNE: bad options (perplexity {}, iterations {}, max_points {}, exaggeration {} for {} "
        "iterations, learning rate {})",
        options.perplexity, options.iterations, options.max_points, options.exaggeration,
        options.exaggeration_iterations, options.learning_rate));
  }
  Projection2d out;
  std::vector<std::string> notes;
  std::string subsample_note;
  out.rows = choose_rows(labels, options.max_points, options.seed, &subsample_note);
  if (!subsample_note.empty()) notes.push_back(subsample_note);
  const auto n = static_cast<Eigen::Index>(out.rows.size());
  MatrixXd data(n, X.cols());
  out.labels.resize(out.rows.size());
  for (Eigen::Index i = 0; i < n; ++i) {
    data.row(i) = X.row(static_cast<Eigen::Index>(out.rows[static_cast<size_t>(i)])).cast<double>();
    out.labels[static_cast<size_t>(i)] = labels[out.rows[static_cast<size_t>(i)]];
  }
  double perplexity = options.perplexity;
  if (3.0 * perplexity > static_cast<double>(n - 1)) {
    perplexity = static_cast<double>(n - 1) / 3.0;
    notes.push_back(fmt::format("perplexity lowered from {:g} to {:.1f} for {} points",
                                options.perplexity, perplexity, n));
  }

  // Symmetrised input affinities.
  const Eigen::VectorXd sq_norm = data.rowwise().squaredNorm();
  MatrixXd sq_dist = -2.0 * data * data.transpose();
  sq_dist.colwise() += sq_norm;
  sq_dist.rowwise() += sq_norm.transpose();
  sq_dist = sq_dist.cwiseMax(0.0);
  MatrixXd P = conditional_affinities(sq_dist, perplexity);
  sq_dist.resize(0, 0);
  P = (P + P.transpose()) / (2.0 * static_cast<double>(n));
  P = P.cwiseMax(1e-12);

  // The optimisation runs in float over the upper triangle of the symmetric P (row-major, so
  // row i's pairs j > i are contiguous): per step one pass for the normaliser Z and one for the
  // gradient, both vectorised, with the Student-t kernel recomputed instead of stored.
  using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const RowMatrixXf Pf = P.cast<float>();
  P.resize(0, 0);
  Rng rng(options.seed);
  Eigen::ArrayXf x(n), y(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    x[i] = static_cast<float>(1e-4 * rng.normal());
    y[i] = static_cast<float>(1e-4 * rng.normal());
  }
  Eigen::ArrayXf gx(n), gy(n), ux = Eigen::ArrayXf::Zero(n), uy = Eigen::ArrayXf::Zero(n);
  Eigen::ArrayXf gain_x = Eigen::ArrayXf::Ones(n), gain_y = Eigen::ArrayXf::Ones(n);
  Eigen::ArrayXf dx(n), dy(n), w(n), f(n);
  const double lr = options.learning_rate > 0
                        ? options.learning_rate
                        : std::max(static_cast<double>(n) / options.exaggeration / 4.0, 50.0);
  auto update_gains = [](Eigen::ArrayXf& gain, const Eigen::ArrayXf& grad,
                         const Eigen::ArrayXf& step) {
    for (Eigen::Index k = 0; k < gain.size(); ++k) {
      gain[k] = (grad[k] > 0) != (step[k] > 0) ? gain[k] + 0.2f : std::max(gain[k] * 0.8f, 0.01f);
    }
  };
  for (int it = 0; it < options.iterations; ++it) {
    const bool early = it < options.exaggeration_iterations;
    const auto exaggeration = static_cast<float>(early ? options.exaggeration : 1.0);
    const auto momentum = static_cast<float>(early ? 0.5 : 0.8);
    // Z = sum over i != j of w_ij = 1 / (1 + |y_i - y_j|^2).
    double z = 0.0;
    for (Eigen::Index i = 0; i + 1 < n; ++i) {
      const Eigen::Index m = n - 1 - i;
      z += static_cast<double>(
          (1.0f + (x[i] - x.tail(m)).square() + (y[i] - y.tail(m)).square()).inverse().sum());
    }
    const auto inv_z = static_cast<float>(1.0 / (2.0 * z));
    // dC/dy_i = 4 sum_j (p_ij - w_ij / Z) w_ij (y_i - y_j); pair (i, j) adds to i and j.
    gx.setZero();
    gy.setZero();
    for (Eigen::Index i = 0; i + 1 < n; ++i) {
      const Eigen::Index m = n - 1 - i;
      dx.head(m) = x[i] - x.tail(m);
      dy.head(m) = y[i] - y.tail(m);
      w.head(m) = (1.0f + dx.head(m).square() + dy.head(m).square()).inverse();
      f.head(m) = (exaggeration * Pf.row(i).tail(m).array().transpose() - w.head(m) * inv_z) *
                  w.head(m);
      dx.head(m) *= f.head(m);
      dy.head(m) *= f.head(m);
      gx[i] += dx.head(m).sum();
      gy[i] += dy.head(m).sum();
      gx.tail(m) -= dx.head(m);
      gy.tail(m) -= dy.head(m);
    }
    gx *= 4.0f;
    gy *= 4.0f;
    update_gains(gain_x, gx, ux);
    update_gains(gain_y, gy, uy);
    ux = momentum * ux - static_cast<float>(lr) * gain_x * gx;
    uy = momentum * uy - static_cast<float>(lr) * gain_y * gy;
    x += ux;
    y += uy;
    x -= x.mean();
    y -= y.mean();
  }
  out.points.resize(n, 2);
  out.points.col(0) = x.matrix();
  out.points.col(1) = y.matrix();
  out.description = fmt::format("t-SNE: perplexity {:.3g}, {} iterations, seed {}", perplexity,
                                options.iterations, options.seed);
  for (const auto& note : notes) out.note += (out.note.empty() ? "" : "; ") + note;
  return out;
}

PlotFiles plot_embedding_scatter(const std::filesystem::path& png, const Projection2d& projection,
                                 const std::string& title,
                                 const std::vector<std::string>& label_names) {
  const auto n = static_cast<size_t>(projection.points.rows());
  if (n == 0 || projection.points.cols() != 2 || projection.labels.size() != n) {
    throw_bad_input(fmt::format("scatter plot: {} points of width {} with {} labels", n,
                                projection.points.cols(), projection.labels.size()));
  }
  auto name_of = [&](int label) {
    if (label >= 0 && static_cast<size_t>(label) < label_names.size()) {
      return label_names[static_cast<size_t>(label)];
    }
    return std::to_string(label);
  };
  std::string csv = "x,y,label,identity\n";
  for (size_t i = 0; i < n; ++i) {
    const auto r = static_cast<Eigen::Index>(i);
    csv += fmt::format("{:.7g},{:.7g},{},{}\n", projection.points(r, 0), projection.points(r, 1),
                       projection.labels[i], csv_field(name_of(projection.labels[i])));
  }
  std::string full_title = title;
  if (!projection.description.empty()) full_title += "\n" + projection.description;
  if (!projection.note.empty()) {  // one line per part of the note
    std::string note = projection.note;
    for (size_t at = note.find("; "); at != std::string::npos; at = note.find("; ", at)) {
      note.replace(at, 2, "\n");
    }
    full_title += "\n" + note;
  }
  std::string body = fmt::format(
      "set title {} noenhanced\n"
      "unset xtics\n"
      "unset ytics\n"
      "set border 3\n"
      "set offsets graph 0.04, graph 0.04, graph 0.04, graph 0.04\n",
      gnuplot_quote(full_title));
  const std::set<int> distinct(projection.labels.begin(), projection.labels.end());
  if (distinct.size() <= 12) {
    static const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                    "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                    "#bcbd22", "#17becf", "#000000", "#aec7e8"};
    body += "set key outside right noenhanced\nplot ";
    size_t k = 0;
    for (int label : distinct) {
      if (k) body += ", \\\n     ";
      body += fmt::format(
          "datafile skip 1 using (int($3) == {} ? $1 : NaN):2 with points pt 7 ps 0.8 "
          "lc rgb '{}' title {}",
          label, kColors[k], gnuplot_quote(name_of(label)));
      ++k;
    }
    body += "\n";
  } else {
    // Many identities: hue from the golden ratio of the label, so neighbours differ.
    body +=
        "set palette model HSV functions gray, 0.8, 0.85\n"
        "set cbrange [0:1]\n"
        "unset colorbox\n"
        "hue(l) = l * 0.6180339887 - floor(l * 0.6180339887)\n"
        "plot datafile skip 1 using 1:2:(hue($3)) with points pt 7 ps 0.5 lc palette z notitle\n";
  }
  return render_plot(png, csv, body, 1000, 800);
}

}  // namespace faceid
