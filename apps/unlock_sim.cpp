// unlock_sim: the FaceID simulation on held-out identities (enroll, genuine and impostor attempts).
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <optional>

#include <fmt/format.h>

#include "faceid/core/app.hpp"
#include "faceid/core/error.hpp"
#include "faceid/eval/plot.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/eval/embed_dataset.hpp"
#include "faceid/eval/unlock_sim.hpp"
#include "faceid/core/memory.hpp"
#include "faceid/eval/pad_eval.hpp"

int main(int argc, char** argv) {
  // Activations are reused from the heap instead of mmap'ed afresh each step (faceid/core/memory.hpp).
  faceid::keep_freed_memory_in_heap();
  CLI::App cli{"Simulate FaceID unlocking: every person enrolls from K frames spanning the poses, "
               "then genuine and impostor attempts go through the unlock policy.", "unlock_sim"};
  std::string checkpoint, data, out, json, device = "auto";
  int enroll_frames = 0, threads = 0;
  double threshold = -1, far = 0;
  cli.add_option("--checkpoint", checkpoint, "Checkpoint (default: the shipped model, models/faceid_rgbd_v1.pt)");
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
  bool attacks = false;
  std::string pad_model, pad_json;
  double pad_threshold = -1;
  cli.add_flag("--attacks", attacks,
               "Also present the attacks under DATA/attacks/<type>/<person>/ (synth --attacks) to the "
               "enrolled users: APCER per type, BPCER and the rate attacks unlock their target, in "
               "<out>/pad.json (the --json summary is unchanged)");
  cli.add_option("--pad-model", pad_model, "Liveness model from train_pad (default: the config's pad.model)");
  cli.add_option("--pad-threshold", pad_threshold,
                 "Liveness threshold (default: pad.threshold, else the model's calibrated one)")
      ->check(CLI::Range(0.0, 1.0));
  cli.add_option("--pad-json", pad_json, "Write the attack metrics here instead of <out>/pad.json");
  bool bursts = false;
  cli.add_flag("--bursts", bursts,
               "Also present burst attempts (K frames each; synth --bursts): DATA/bursts/live/<person>/ as "
               "bona fide attempts and DATA/bursts/<type>/<person>/ as attacks; liveness on the burst, match on "
               "its mean embedding; metrics in <out>/bursts.json");
  return faceid::run_app(cli, argc, argv, [&] {
    checkpoint = faceid::checkpoint_or_shipped(checkpoint, "unlock_sim").string();
    // Every path is checked before the first frame is embedded.
    faceid::require_input_file(checkpoint, "--checkpoint", "checkpoint");
    const std::filesystem::path out_dir =
        out.empty() ? std::filesystem::path(checkpoint).parent_path() / "unlock" : std::filesystem::path(out);
    faceid::prepare_output_folder(out_dir, "--out");
    if (!json.empty()) faceid::prepare_output_file(json, "--json");
    const std::filesystem::path pad_path =
        pad_json.empty() ? out_dir / "pad.json" : std::filesystem::path(pad_json);
    if (attacks && !pad_json.empty()) faceid::prepare_output_file(pad_path, "--pad-json");
    faceid::Embedder embedder(checkpoint, device, threads);
    std::optional<faceid::LivenessDetector> detector;
    if (attacks || bursts) {
      faceid::PadConfig pad = embedder.config().pad;
      if (!pad_model.empty()) pad.model = pad_model;
      if (pad_threshold >= 0) pad.threshold = pad_threshold;
      if (pad.model.empty()) {
        faceid::throw_bad_input(fmt::format("{} needs a liveness model: --pad-model or pad.model",
                                            attacks ? "--attacks" : "--bursts"));
      }
      faceid::require_input_file(pad.model, pad_model.empty() ? "pad.model" : "--pad-model",
                                 "liveness model");
      detector.emplace(pad, embedder.config().preprocess);
    }
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
    const double match = embedder.match_threshold(&options.checkpoint_threshold_source);
    options.checkpoint_threshold = std::isfinite(match) ? match : -1.0;
    const faceid::UnlockSimReport report =
        faceid::simulate_unlock(emb.embeddings, emb.labels, emb.frames, emb.persons, options);
    // No rates from nothing: no genuine or no impostor attempt is bad input, reported as such.
    const std::string unusable = faceid::unlock_report_unusable(report);
    if (!unusable.empty()) faceid::throw_bad_input(unusable);
    std::printf("%s", faceid::format_unlock_report(report).c_str());

    faceid::write_file_atomic(out_dir / "per_user.csv", faceid::unlock_per_user_csv(report));
    faceid::write_file_atomic(out_dir / "closest_impostors.csv",
                              faceid::closest_impostors_csv(report, emb.frames, emb.labels, emb.persons));
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
    std::printf("closest impostor attempts: %s\n", (out_dir / "closest_impostors.csv").c_str());
    if (!json.empty()) {
      faceid::write_file_atomic(json, faceid::unlock_report_json(report));
      std::printf("json: %s\n", json.c_str());
    }
    if (attacks) {
      const faceid::PadReport pad_report = faceid::evaluate_presentation_attacks(
          embedder, *detector, set.dataset, set.persons, dc, options.unlock, report.threshold);
      std::printf("%s", faceid::format_pad_report(pad_report).c_str());
      faceid::write_file_atomic(pad_path, faceid::pad_report_json(pad_report));
      std::printf("attack metrics json: %s\n", pad_path.c_str());
    }
    if (bursts) {
      const faceid::BurstSet burst_set = faceid::prepare_bursts(embedder, set.dataset, set.persons, dc,
                                                                options.unlock, report.threshold);
      const faceid::BurstEvaluation evaluation = faceid::score_bursts(burst_set, *detector);
      std::printf("%s", faceid::format_burst_evaluation(evaluation).c_str());
      faceid::write_file_atomic(out_dir / "bursts.json", faceid::burst_evaluation_json(evaluation));
      std::printf("burst metrics json: %s\n", (out_dir / "bursts.json").c_str());
    }
    return faceid::kExitOk;
  });
}
