#include <unistd.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "faceid/core/error.hpp"
#include "faceid/eval/embedding_plots.hpp"
#include "faceid/eval/plot.hpp"
#include "faceid/core/fs.hpp"

namespace fs = std::filesystem;
using faceid::Embeddings;

namespace {

// A folder of its own under /tmp (pid in the name: parallel runs do not collide), removed at
// the end of the test.
struct TempDir {
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / fmt::format("faceid_test_plots_{}_{}", ::getpid(), name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

// The PNG exists, starts with the 8-byte PNG signature and holds an image header.
void check_png(const fs::path& png) {
  REQUIRE(fs::exists(png));
  const std::string bytes = faceid::read_file(png);
  REQUIRE(bytes.size() > 1000);
  CHECK(bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  CHECK(bytes.compare(12, 4, "IHDR") == 0);
}

void check_plot(const faceid::PlotFiles& f, const std::string& csv_header) {
  check_png(f.png);
  REQUIRE(fs::exists(f.csv));
  REQUIRE(fs::exists(f.script));
  const std::string csv = faceid::read_file(f.csv);
  CHECK(csv.compare(0, csv_header.size(), csv_header) == 0);
  CHECK_THAT(faceid::read_file(f.script), Catch::Contains(f.csv.filename().string()));
  // Nothing left behind: exactly the png, csv and gp of each plot.
  for (const auto& e : fs::directory_iterator(f.png.parent_path())) {
    CHECK_THAT(e.path().filename().string(), !Catch::Contains(".tmp."));
  }
}

Embeddings clusters(int per_cluster, int dim, std::vector<int>& labels) {
  std::mt19937 rng(4);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  Embeddings X(3 * per_cluster, dim);
  labels.clear();
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < per_cluster; ++i) {
      const int r = c * per_cluster + i;
      for (int k = 0; k < dim; ++k) X(r, k) = noise(rng) + (k == c ? 12.0f : 0.0f);
      labels.push_back(c);
    }
  }
  return X;
}

// Fraction of points whose nearest other point (2-D) has the same label.
double nn_accuracy(const faceid::Projection2d& p) {
  const auto n = p.points.rows();
  int good = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    Eigen::Index best = -1;
    float best_d = 0;
    for (Eigen::Index j = 0; j < n; ++j) {
      if (j == i) continue;
      const float d = (p.points.row(i) - p.points.row(j)).squaredNorm();
      if (best < 0 || d < best_d) {
        best = j;
        best_d = d;
      }
    }
    good += p.labels[static_cast<size_t>(i)] == p.labels[static_cast<size_t>(best)];
  }
  return static_cast<double>(good) / static_cast<double>(n);
}

}  // namespace

TEST_CASE("plots: ROC, DET and histogram render through gnuplot", "[plots]") {
  const TempDir tmp("roc");
  const fs::path& dir = tmp.path;
  std::mt19937 rng(1);
  std::normal_distribution<float> gen(0.5f, 0.12f), imp(1.2f, 0.15f);
  std::vector<float> g(2000), i(20000);
  for (auto& d : g) d = gen(rng);
  for (auto& d : i) d = imp(rng);
  const faceid::ExactRoc roc(g, i);
  std::vector<float> g2 = g;
  for (auto& d : g2) d += 0.1f;
  const faceid::ExactRoc worse(g2, i);
  const std::vector<faceid::CurveSeries> series = {{"model A", roc.curve()},
                                                   {"model B, shifted", worse.curve()}};
  check_plot(faceid::plot_roc(dir / "roc.png", series, "ROC of 'test' models_1"),
             "series,threshold,far,tar,frr,label\n0,");
  check_plot(faceid::plot_det(dir / "det.png", series, "DET"), "series,threshold,far,tar,frr");
  const auto hist = faceid::make_distance_histogram(g, i, 60);
  check_plot(faceid::plot_distance_histogram(dir / "hist.png", hist, "distances",
                                             roc.summary().eer_threshold),
             "bin_lo,bin_hi,genuine_fraction,impostor_fraction\n");
  check_plot(faceid::plot_distance_histogram(dir / "hist_log.png", hist, "log", std::nullopt, true),
             "bin_lo,");
  check_plot(
      faceid::plot_lines(dir / "sub/loss.png",
                         {{"train", {1, 2, 3}, {0.9, 0.5, 0.3}}, {"val", {1, 2, 3}, {1, 0.7, 0.6}}},
                         {"loss", "epoch", "contrastive loss", true}),
      "series,x,y,label\n0,1,0.9,train\n");
  // The CSV quotes a label with a comma.
  CHECK_THAT(faceid::read_file(dir / "roc.csv"), Catch::Contains(",\"model B, shifted\"\n"));
  CHECK_THROWS_AS(faceid::plot_roc(dir / "roc.jpg", series, "x"), faceid::Error);
}

TEST_CASE("plots: a missing gnuplot is an I/O error naming the script", "[plots]") {
  const TempDir tmp("missing");
  const fs::path& dir = tmp.path;
  const char* old = std::getenv("FACEID_GNUPLOT");
  const std::string saved = old ? old : "";
  ::setenv("FACEID_GNUPLOT", "/nonexistent/gnuplot", 1);
  try {
    faceid::plot_lines(dir / "x.png", {{"a", {0, 1}, {0, 1}}}, {"t", "x", "y", false});
    FAIL("expected faceid::Error");
  } catch (const faceid::Error& e) {
    CHECK(e.code() == faceid::Errc::io);
    CHECK_THAT(e.what(), Catch::Contains("x.gp"));
    CHECK_THAT(e.what(), Catch::Contains("gnuplot-nox"));
  }
  // A failing gnuplot (here: `false`) is an error too, and leaves no PNG.
  ::setenv("FACEID_GNUPLOT", "false", 1);
  CHECK_THROWS_AS(
      faceid::plot_lines(dir / "y.png", {{"a", {0, 1}, {0, 1}}}, {"t", "x", "y", false}),
      faceid::Error);
  if (old) {
    ::setenv("FACEID_GNUPLOT", saved.c_str(), 1);
  } else {
    ::unsetenv("FACEID_GNUPLOT");
  }
  CHECK(fs::exists(dir / "x.csv"));
  CHECK(fs::exists(dir / "x.gp"));
  CHECK_FALSE(fs::exists(dir / "x.png"));
  CHECK_FALSE(fs::exists(dir / "y.png"));
}

TEST_CASE("plots: PCA of points on a line recovers the line", "[plots]") {
  const int n = 50, dim = 6;
  Eigen::RowVectorXf dir(dim), origin(dim);
  dir << 1, 2, -1, 0.5, 0, 3;
  dir.normalize();
  origin << 0.3f, -1, 2, 0, 1, 0.1f;
  Embeddings X(n, dim);
  std::vector<int> labels(n, 0);
  for (int i = 0; i < n; ++i) X.row(i) = origin + (static_cast<float>(i) * 0.1f - 2.0f) * dir;
  const auto p = faceid::pca_2d(X, labels);
  REQUIRE(p.points.rows() == n);
  // PC1 = the position along the line (up to sign), centred; PC2 = 0.
  const float sign = p.points(n - 1, 0) > p.points(0, 0) ? 1.0f : -1.0f;
  for (int i = 0; i < n; ++i) {
    CHECK(sign * p.points(i, 0) == Approx(static_cast<float>(i) * 0.1f - 2.45f).margin(1e-4));
    CHECK(p.points(i, 1) == Approx(0.0).margin(1e-4));
  }
  CHECK_THAT(p.description, Catch::StartsWith("PCA: PC1 100.0%"));
  CHECK_THROWS_AS(faceid::pca_2d(X.topRows(1), {0}), faceid::Error);
}

TEST_CASE("plots: t-SNE keeps well-separated clusters apart, and says when it subsamples",
          "[plots]") {
  std::vector<int> labels;
  const Embeddings X = clusters(20, 10, labels);
  const auto p = faceid::tsne_2d(X, labels);
  REQUIRE(p.points.rows() == 60);
  CHECK(p.points.allFinite());
  CHECK(nn_accuracy(p) == 1.0);
  // Every cluster centroid is farther from the others than the cluster's spread.
  Eigen::Matrix<float, 3, 2> centroid = Eigen::Matrix<float, 3, 2>::Zero();
  for (int i = 0; i < 60; ++i) centroid.row(labels[i]) += p.points.row(i) / 20.0f;
  float spread = 0;
  for (int i = 0; i < 60; ++i) {
    spread = std::max(spread, (p.points.row(i) - centroid.row(labels[i])).norm());
  }
  for (int a = 0; a < 3; ++a) {
    for (int b = a + 1; b < 3; ++b) CHECK((centroid.row(a) - centroid.row(b)).norm() > spread);
  }
  // Perplexity 30 is too large for 60 points: lowered, and noted.
  CHECK_THAT(p.note, Catch::Contains("perplexity lowered"));
  // Deterministic for a seed.
  const auto again = faceid::tsne_2d(X, labels);
  CHECK(again.points == p.points);

  faceid::TsneOptions small;
  small.max_points = 45;
  const auto sub = faceid::tsne_2d(X, labels, small);
  CHECK(sub.points.rows() == 40);  // two whole identities of 20
  CHECK_THAT(sub.note, Catch::Contains("t-SNE on 40 of 60 embeddings: 2 of 3 identities"));
  // Separated clusters stay apart; t-SNE may strand a point (1 of 40 with this seed).
  CHECK(nn_accuracy(sub) >= 0.95);

  const TempDir tmp("scatter");
  const fs::path& dir = tmp.path;
  check_plot(faceid::plot_embedding_scatter(dir / "tsne.png", sub, "t-SNE", {"ann", "bob", "cy"}),
             "x,y,label,identity\n");
  // Many identities: palette colouring, no legend.
  std::vector<int> many(60);
  for (int i = 0; i < 60; ++i) many[i] = i / 2;
  check_plot(faceid::plot_embedding_scatter(dir / "pca.png", faceid::pca_2d(X, many), "PCA"),
             "x,y,label,identity\n");
}

// Exact t-SNE at its point limit: 300 identities x 10 frames, D = 128.
// Run: build/bin/faceid_tests "[.bench]" -s
TEST_CASE("plots: benchmark t-SNE of 3000 x 128", "[.bench]") {
  std::mt19937 rng(2);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  Embeddings X(3000, 128);
  std::vector<int> labels(3000);
  Eigen::RowVectorXf centre(128);
  for (int i = 0; i < 3000; ++i) {
    if (i % 10 == 0) {
      for (int k = 0; k < 128; ++k) centre[k] = noise(rng);
    }
    for (int k = 0; k < 128; ++k) X(i, k) = centre[k] + 0.6f * noise(rng);
    X.row(i).normalize();
    labels[static_cast<size_t>(i)] = i / 10;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto p = faceid::tsne_2d(X, labels);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double acc = nn_accuracy(p);
  WARN("t-SNE 3000 x 128, 1000 iterations: " << s << " s; 1-NN label accuracy " << acc);
  CHECK(acc > 0.9);
  const TempDir tmp("bench");
  const fs::path& dir = tmp.path;
  check_plot(faceid::plot_embedding_scatter(dir / "tsne3000.png", p, "t-SNE benchmark"),
             "x,y,label,identity\n");
}
