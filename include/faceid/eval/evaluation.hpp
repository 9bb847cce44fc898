// Verification evaluation of a set of embeddings: every genuine and impostor pair (blockwise GEMM;
// exact lists up to a budget, a streaming histogram above it), ROC AUC, EER, TAR at FAR targets
// with the rule-of-3 bound, and the plots (ROC, DET, t-SNE, PCA) with their CSV data.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "faceid/eval/distances.hpp"
#include "faceid/eval/metrics.hpp"

namespace faceid {

struct EvaluationOptions {
  std::vector<double> far_targets = {1e-3, 1e-4, 1e-5, 1e-6};
  std::filesystem::path out_dir;      // plots go here (empty = no plots)
  int threads = 0;                    // distance threads (0 = all cores)
  uint64_t exact_max_pairs = 20'000'000;  // above this the histogram accumulator is used
  bool tsne = true;                   // t-SNE takes ~1 min at 3,000 points
  std::string title;                  // plot titles start with this (e.g. the checkpoint)
};

struct EvaluationReport {
  RocSummary roc;
  bool exact = true;                  // false: histogram engine (bin resolution in roc.resolution)
  double distance_seconds = 0;        // time of the all-pairs distances
  std::vector<std::string> notes;     // e.g. t-SNE subsampling; apps print them
  std::vector<std::filesystem::path> plots;  // PNGs written
};

EvaluationReport evaluate_embeddings(const Embeddings& embeddings, const std::vector<int>& labels,
                                     const std::vector<std::string>& persons,
                                     const EvaluationOptions& options);

// JSON with the keys eer, eer_threshold, auc, tar_at_far (target → TAR), genuine_pairs,
// impostor_pairs, plus far_upper_bound_95 (target → bound) and exact; a NaN metric is null.
std::string evaluation_json(const EvaluationReport& report);

// Parses "1e-3,1e-4" (Errc::bad_input naming the flag and the bad item).
std::vector<double> parse_far_targets(const std::string& list, const std::string& flag);

}  // namespace faceid
