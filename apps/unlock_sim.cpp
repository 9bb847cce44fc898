// unlock_sim: the FaceID simulation on held-out identities (enroll, genuine and impostor attempts).
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "faceid/app.hpp"
#include "faceid/error.hpp"
#include "faceid/eval/plot.hpp"
#include "faceid/fs.hpp"
#include "faceid/infer/embed_dataset.hpp"
#include "faceid/infer/unlock_sim.hpp"
#include "faceid/memory.hpp"

int main(int argc, char** argv) {
  // Activations are reused from the heap instead of mmap'ed afresh each step (faceid/memory.hpp).
  faceid::keep_freed_memory_in_heap();
  CLI::App cli{"Simulate FaceID unlocking: every person enrolls from K frames spanning the poses, "
               "then genuine and impostor attempts go through the unlock policy.", "unlock_sim"};
  std::string checkpoint, data, out, json, device = "auto";
  int enroll_frames = 0, threads = 0;
  double threshold = -1, far = 0;
  cli.add_option("--checkpoint", checkpoint, "Checkpoint (default: best.pt of the newest run under runs/)");
  cli.add_option("--data", data, "Dataset root (default: the checkpoint's held-out persons)");
  cli.add_option("--enroll-frames", enroll_frames, "Frames per enrollment (default unlock.enroll_frames = 5)")
      ->check(CLI::Range(1, 1000));
  auto* t = cli.add_option("--threshold", threshold, "Accept when distance <= this")->check(CLI::NonNegativeNumber);
  cli.add_option("--far", far, "Calibrate the threshold to this FAR on the impostor attempts")
      ->check(CLI::Range(1e-12, 1.0))->excludes(t);
  cli.add_option("--out", out, "Folder for the histogram and per-user CSV (default: <run folder>/unlock)");
  cli.add_option("--json", json, "Write a JSON summary here");
  cli.add_option("--device", device, "auto | cpu | cuda[:N]")->capture_default_str();
  cli.add_option("--threads", threads, "CPU threads (0 = all cores)")->capture_default_str();
  return faceid::run_app(cli, argc, argv, [&] {
    if (checkpoint.empty()) {
      checkpoint = faceid::latest_best_checkpoint("runs").string();
      std::fprintf(stderr, "unlock_sim: using the newest run's checkpoint %s\n", checkpoint.c_str());
    }
    faceid::Embedder embedder(checkpoint, device, threads);
    const faceid::EvalSet set = faceid::resolve_eval_set(embedder, data);
    std::fprintf(stderr, "unlock_sim: %s\n", set.description.c_str());
    faceid::DataConfig dc = embedder.config().data;
    if (!data.empty()) dc.cache_dir.clear();
    dc.max_frames_per_person = 0;
    const faceid::EmbeddedSet emb = faceid::embed_dataset(embedder, set.dataset, set.persons, dc);
    for (const auto& s : emb.skipped) {
      std::fprintf(stderr, "unlock_sim: no face in %s: %s\n", s.ref.depth_path.c_str(), s.reason.c_str());
    }
    faceid::UnlockSimOptions options;
    options.unlock = embedder.config().unlock;
    if (enroll_frames > 0) {
      options.unlock.enroll_frames = enroll_frames;
      options.unlock.min_enroll_frames = std::min(options.unlock.min_enroll_frames, enroll_frames);
    }
    options.threshold = threshold;
    options.far = far;
    options.checkpoint_threshold = std::isfinite(embedder.eer_threshold()) ? embedder.eer_threshold() : -1.0;
    const faceid::UnlockSimReport report =
        faceid::simulate_unlock(emb.embeddings, emb.labels, emb.frames, emb.persons, options);
    std::printf("%s", faceid::format_unlock_report(report).c_str());

    const std::filesystem::path out_dir =
        out.empty() ? std::filesystem::path(checkpoint).parent_path() / "unlock" : std::filesystem::path(out);
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) faceid::throw_io(fmt::format("{}: cannot create: {}", out_dir.string(), ec.message()));
    faceid::write_file_atomic(out_dir / "per_user.csv", faceid::unlock_per_user_csv(report));
    if (!report.genuine_distances.empty() || !report.impostor_distances.empty()) {
      const auto hist = faceid::make_distance_histogram(report.genuine_distances,
                                                        report.impostor_distances, 80);
      const auto files = faceid::plot_distance_histogram(
          out_dir / "histogram.png", hist,
          fmt::format("unlock attempts: genuine vs impostor distance (threshold {:.3f})",
                      report.threshold),
          report.threshold);
      std::printf("histogram: %s\n", files.png.c_str());
    }
    std::printf("per-user table: %s\n", (out_dir / "per_user.csv").c_str());
    if (!json.empty()) {
      faceid::write_file_atomic(json, faceid::unlock_report_json(report));
      std::printf("json: %s\n", json.c_str());
    }
    return faceid::kExitOk;
  });
}
