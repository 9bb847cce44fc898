// train: learn the RGB-D face embedding. Thin main over faceid::run_training.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "faceid/app.hpp"
#include "faceid/config.hpp"
#include "faceid/error.hpp"
#include "faceid/memory.hpp"
#include "faceid/train/checkpoint_info.hpp"
#include "faceid/train/trainer.hpp"

int main(int argc, char** argv) {
  // Activations are reused from the heap instead of mmap'ed afresh each step (faceid/memory.hpp).
  faceid::keep_freed_memory_in_heap();
  CLI::App cli{"Train the faceid RGB-D embedding network (Siamese, contrastive loss).", "train"};
  std::string config_path;
  std::vector<std::string> overrides;
  std::string out;
  std::string resume;
  std::string init_from;
  bool overwrite = false;
  int stop_after = 0;
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
  return faceid::run_app(cli, argc, argv, [&] {
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
    faceid::TrainOptions options;
    if (!out.empty()) {
      options.run_dir = out;
    } else if (!resume.empty()) {
      options.run_dir = std::filesystem::path(resume).parent_path();
    } else {
      options.run_dir = faceid::default_run_dir(config, config_path);
    }
    options.resume = resume;
    options.init_from = init_from;
    options.overwrite = overwrite;
    options.stop_after_epochs = stop_after;
    options.progress_bar = faceid::stderr_is_tty();
    const faceid::TrainResult result = faceid::run_training(config, options);
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
