// train: learn the RGB-D face embedding. Thin main over faceid::run_training.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <cstdio>

#include "faceid/core/app.hpp"
#include "faceid/core/config.hpp"
#include "faceid/core/error.hpp"
#include "faceid/core/memory.hpp"
#include "faceid/model/checkpoint_info.hpp"
#include "faceid/train/distributed.hpp"
#include "faceid/train/trainer.hpp"

int main(int argc, char** argv) {
  // Activations are reused from the heap instead of mmap'ed afresh each step (faceid/core/memory.hpp).
  faceid::keep_freed_memory_in_heap();
  CLI::App cli{"Train the faceid RGB-D embedding network (Siamese, contrastive loss).", "train"};
  std::string config_path;
  std::vector<std::string> overrides;
  std::string out;
  std::string resume;
  std::string init_from;
  bool overwrite = false;
  int stop_after = 0;
  int nproc = 0;
  int dist_timeout = 300;
  cli.add_option("--config", config_path, "YAML config (configs/*.yaml); with --resume, defaults "
                                          "to the checkpoint's own config");
  cli.add_option("--set", overrides, "Override a key: section.key=value (repeatable)");
  cli.add_option("--out", out, "Run folder (default <train.out_dir>/<config name>-<time>)");
  cli.add_option("--resume", resume, "Continue exactly from a checkpoint (e.g. runs/NAME/last.pt)");
  cli.add_option("--init-from", init_from,
                 "Initialise the weights from a checkpoint (fine-tuning; optimiser starts fresh)");
  cli.add_flag("--overwrite", overwrite, "Reuse a run folder that already holds a run");
  cli.add_option("--stop-after-epochs", stop_after,
                 "Stop after this many epochs of this invocation (resume later)")
      ->check(CLI::NonNegativeNumber);
  cli.add_option("--nproc", nproc,
                 "Data-parallel on this machine: launch N worker processes (torchrun-style "
                 "RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT are read when this is not given)")
      ->check(CLI::PositiveNumber);
  cli.add_option("--dist-timeout", dist_timeout,
                 "Data-parallel: seconds to wait for the other ranks at rendezvous and at each "
                 "collective before giving up")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  return faceid::run_app(cli, argc, argv, [&] {
    const faceid::DistEnv dist = faceid::dist_env_from_environment();
    if (config_path.empty() && resume.empty()) {
      faceid::throw_bad_input("give --config FILE (or --resume CHECKPOINT)");
    }
    if (!resume.empty() && !init_from.empty()) {
      faceid::throw_bad_input("--resume and --init-from exclude each other");
    }
    faceid::Config config;
    if (!config_path.empty()) {
      config = faceid::load_config(config_path, overrides);
    } else {
      config = faceid::parse_config(faceid::checkpoint_config_yaml(resume),
                                    resume + " (stored config)", overrides);
    }
    if (nproc > 0) {
      // The config is checked once here; each worker reads it again.
      return faceid::launch_local_workers(
          nproc, faceid::args_without_nproc(argc, argv), std::chrono::seconds(dist_timeout + 10),
          [](const std::string& s) { std::fprintf(stderr, "train: %s\n", s.c_str()); });
    }
    faceid::TrainOptions options;
    options.distributed = dist;
    options.dist_timeout_s = dist_timeout;
    if (!out.empty()) {
      options.run_dir = out;
    } else if (!resume.empty()) {
      options.run_dir = std::filesystem::path(resume).parent_path();
    } else {
      options.run_dir = faceid::default_run_dir(config, config_path);
    }
    {  // Before any work: the run folder must be a folder (or creatable), not a file.
      std::error_code ec;
      if (std::filesystem::exists(options.run_dir, ec) &&
          !std::filesystem::is_directory(options.run_dir, ec)) {
        faceid::throw_bad_input(fmt::format("--out {}: is a file, expected a run folder",
                                            options.run_dir.string()));
      }
    }
    options.resume = resume;
    options.init_from = init_from;
    options.overwrite = overwrite;
    options.stop_after_epochs = stop_after;
    options.progress_bar = faceid::stderr_is_tty();
    const faceid::TrainResult result = faceid::run_training(config, options);
    if (dist.rank != 0) return faceid::kExitOk;  // rank 0 reports the run
    std::printf("run folder: %s\n", result.run_dir.c_str());
    if (!result.epochs.empty()) {
      const auto& m = result.epochs.back();
      std::printf("final validation: genuine mean %.3f, impostor mean %.3f, AUC %.4f, EER %.2f%% "
                  "(threshold %.3f), TAR@FAR1e-3 %.3f\n",
                  m.genuine_mean, m.impostor_mean, m.auc, 100 * m.eer, m.eer_threshold,
                  m.tar_at_far_1e3);
    }
    std::printf("checkpoints: %s, %s\nmetrics: %s\n", result.last_checkpoint.c_str(),
                result.best_checkpoint.c_str(), (result.run_dir / "metrics.csv").c_str());
    return faceid::kExitOk;
  });
}
