#include "faceid/eval/evaluation.hpp"

#include <chrono>
#include <cstdlib>

#include <fmt/format.h>

#include "faceid/core/error.hpp"
#include "faceid/core/json.hpp"
#include "faceid/eval/embedding_plots.hpp"
#include "faceid/eval/plot.hpp"

namespace faceid {

EvaluationReport evaluate_embeddings(const Embeddings& embeddings, const std::vector<int>& labels,
                                     const std::vector<std::string>& persons,
                                     const EvaluationOptions& options) {
  if (persons.size() < 2) {
    throw_bad_input(fmt::format("evaluation needs at least 2 persons, got {}", persons.size()));
  }
  EvaluationReport report;
  const uint64_t n = static_cast<uint64_t>(embeddings.rows());
  const uint64_t pairs = n * (n - 1) / 2;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<RocPoint> curve;
  if (pairs <= options.exact_max_pairs) {
    PairDistances pd = all_pair_distances_exact(embeddings, labels, options.threads,
                                                options.exact_max_pairs);
    report.distance_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ExactRoc roc(std::move(pd.genuine), std::move(pd.impostor));
    report.roc = roc.summary(options.far_targets);
    curve = roc.curve();
  } else {
    HistogramAccumulator acc;
    all_pair_distances(embeddings, labels, acc, options.threads);
    report.distance_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    report.exact = false;
    report.roc = acc.summary(options.far_targets);
    curve = acc.curve();
    report.notes.push_back(fmt::format(
        "{} pairs: histogram engine (bin width {:.2g}); TAR at small FAR is exact from the "
        "impostor tail", pairs, acc.bin_width()));
  }
  if (options.out_dir.empty()) return report;

  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) throw_io(fmt::format("{}: cannot create: {}", options.out_dir.string(), ec.message()));
  const std::string prefix = options.title.empty() ? "" : options.title + ": ";
  const std::vector<CurveSeries> series = {{"validation", curve}};
  report.plots.push_back(plot_roc(options.out_dir / "roc.png", series,
                                  fmt::format("{}ROC (AUC {:.4f}, EER {:.2f}%)", prefix,
                                              report.roc.auc, 100 * report.roc.eer)).png);
  report.plots.push_back(plot_det(options.out_dir / "det.png", series, prefix + "DET").png);
  const Projection2d pca = pca_2d(embeddings, labels);
  report.plots.push_back(
      plot_embedding_scatter(options.out_dir / "pca.png", pca, prefix + "PCA", persons).png);
  if (!pca.note.empty()) report.notes.push_back(pca.note);
  if (options.tsne) {
    const Projection2d tsne = tsne_2d(embeddings, labels);
    report.plots.push_back(
        plot_embedding_scatter(options.out_dir / "tsne.png", tsne, prefix + "t-SNE", persons).png);
    if (!tsne.note.empty()) report.notes.push_back("t-SNE: " + tsne.note);
  }
  return report;
}

std::string evaluation_json(const EvaluationReport& report) {
  const RocSummary& r = report.roc;
  Json tar = Json::object(), bound = Json::object();
  for (const auto& p : r.at_far) {
    const std::string target = fmt::format("{:g}", p.target);
    tar[target] = json_number(p.tar);
    bound[target] = json_number(p.far_upper_bound_95);
  }
  Json j;
  j["eer"] = json_number(r.eer);
  j["eer_threshold"] = json_number(r.eer_threshold);
  j["auc"] = json_number(r.auc);
  j["tar_at_far"] = std::move(tar);
  j["genuine_pairs"] = r.genuine_pairs;
  j["impostor_pairs"] = r.impostor_pairs;
  j["far_upper_bound_95"] = std::move(bound);
  j["exact"] = report.exact;
  return dump_json(j);
}

std::vector<double> parse_far_targets(const std::string& list, const std::string& flag) {
  std::vector<double> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string item = list.substr(start, comma - start);
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || !(v > 0 && v <= 1)) {
      throw_bad_input(fmt::format("{} {}: '{}' is not a FAR in (0, 1]", flag, list, item));
    }
    out.push_back(v);
    start = comma + 1;
  }
  return out;
}

}  // namespace faceid
