// evaluate: ROC AUC, EER, TAR@FAR and plots of a checkpoint on held-out identities.
#include <CLI/CLI.hpp>
#include <cstdio>

#include <fmt/format.h>

#include "faceid/core/app.hpp"
#include "faceid/core/error.hpp"
#include "faceid/eval/evaluation.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/eval/embed_dataset.hpp"
#include "faceid/core/memory.hpp"

int main(int argc, char** argv) {
  // Activations are reused from the heap instead of mmap'ed afresh each step (faceid/core/memory.hpp).
  faceid::keep_freed_memory_in_heap();
  CLI::App cli{"Evaluate a checkpoint: all genuine/impostor pairs, ROC AUC, EER, TAR at FAR, "
               "ROC/DET/t-SNE/PCA plots.", "evaluate"};
  std::string checkpoint, data, out, json, far_targets = "1e-3,1e-4,1e-5,1e-6", device = "auto";
  int threads = 0;
  bool no_tsne = false;
  cli.add_option("--checkpoint", checkpoint, "Checkpoint (default: the shipped model, models/faceid_rgbd_v1.pt)");
  cli.add_option("--data", data, "Dataset root (default: the checkpoint's held-out persons)");
  cli.add_option("--out", out, "Folder for plots and CSVs (default: <run folder>/eval)");
  cli.add_option("--json", json, "Write a JSON summary here");
  cli.add_option("--far-targets", far_targets, "FAR targets, comma-separated")->capture_default_str();
  cli.add_option("--device", device, "auto | cpu | cuda[:N]")->capture_default_str();
  cli.add_option("--threads", threads, "CPU threads (0 = all cores)")->capture_default_str();
  cli.add_flag("--no-tsne", no_tsne, "Skip the t-SNE plot (about a minute at 3,000 points)");
  return faceid::run_app(cli, argc, argv, [&] {
    faceid::EvaluationOptions options;
    options.far_targets = faceid::parse_far_targets(far_targets, "--far-targets");
    checkpoint = faceid::checkpoint_or_shipped(checkpoint, "evaluate").string();
    // Every path is checked before the first frame is embedded.
    faceid::require_input_file(checkpoint, "--checkpoint", "checkpoint");
    options.out_dir = out.empty() ? std::filesystem::path(checkpoint).parent_path() / "eval"
                                  : std::filesystem::path(out);
    faceid::prepare_output_folder(options.out_dir, "--out");
    if (!json.empty()) faceid::prepare_output_file(json, "--json");
    faceid::Embedder embedder(checkpoint, device, threads);
    const faceid::EvalSet set = faceid::resolve_eval_set(embedder, data);
    std::fprintf(stderr, "evaluate: %s\n", set.description.c_str());
    faceid::DataConfig dc = embedder.config().data;
    if (!data.empty()) dc.cache_dir.clear();
    dc.max_frames_per_person = 0;
    const faceid::EmbeddedSet emb = faceid::embed_dataset(embedder, set.dataset, set.persons, dc);
    for (const auto& s : emb.skipped) {
      std::fprintf(stderr, "evaluate: no face in %s: %s\n", s.ref.depth_path.c_str(), s.reason.c_str());
    }
    options.threads = threads;
    options.tsne = !no_tsne;
    options.title = std::filesystem::path(checkpoint).parent_path().filename().string();
    const faceid::EvaluationReport report =
        faceid::evaluate_embeddings(emb.embeddings, emb.labels, emb.persons, options);
    std::printf("%zu frames of %zu persons (%zu without a face)\n%s",
                static_cast<size_t>(emb.embeddings.rows()), emb.persons.size(), emb.skipped.size(),
                faceid::format_roc_summary(report.roc).c_str());
    std::printf("pair distances: %.2f s\n", report.distance_seconds);
    for (const auto& note : report.notes) std::printf("note: %s\n", note.c_str());
    for (const auto& p : report.plots) std::printf("plot: %s\n", p.c_str());
    if (!json.empty()) {
      faceid::write_file_atomic(json, faceid::evaluation_json(report));
      std::printf("json: %s\n", json.c_str());
    }
    return faceid::kExitOk;
  });
}
