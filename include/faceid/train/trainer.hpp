// The training loop: data → model → the loss of loss.type → optimiser, validation every epoch on
// the held-out persons, metrics.csv, atomic checkpoints (last.pt, best.pt), resume and fine-tuning.
// Torch-free header: apps/train.cpp and the tests drive it through these structs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "faceid/core/config.hpp"
#include "faceid/train/distributed.hpp"

namespace faceid {

struct TrainOptions {
  std::filesystem::path run_dir;    // where config.yaml, split.yaml, metrics.csv, *.pt go
  std::filesystem::path resume;     // continue exactly from this checkpoint (its epoch + 1)
  std::filesystem::path init_from;  // weights only (same model config); fresh optimiser/schedule
  bool overwrite = false;           // allow a run_dir that already holds a run (not resuming)
  int stop_after_epochs = 0;        // > 0: stop after this many epochs of THIS invocation
                                    // (simulates an interruption; the schedule still spans
                                    // train.epochs)
  bool progress_bar = false;        // one updating line on a TTY instead of log lines
  std::function<void(const std::string&)> log;  // receives every log line (default: stderr)
  // Data-parallel training (docs/distributed.md): this process's rank in the run (world_size 1 =
  // alone). Every rank loads the data and the model, rank 0's weights are broadcast, each rank
  // trains on its shard of every global batch (train.batch_pairs pairs a rank), gradients are
  // averaged each step, validation is sharded and gathered. Only rank 0 writes the run folder.
  DistEnv distributed;
  int dist_timeout_s = 300;  // rendezvous and every collective fail after this long (lost peer)
};

// Validation metrics of one epoch, as printed and as appended to metrics.csv.
struct EpochMetrics {
  int64_t epoch = 0;            // 1-based
  int64_t step = 0;             // optimiser steps so far
  double lr = 0;                // learning rate at the epoch's last step
  double train_loss = 0;        // mean loss over the epoch's steps
  double genuine_mean = 0;      // validation: mean genuine distance
  double impostor_mean = 0;     // validation: mean impostor distance
  double auc = 0;               // validation ROC AUC
  double eer = 0;               // validation EER
  double eer_threshold = 0;     // distance at the EER
  double tar_at_far_1e3 = 0;    // validation TAR at FAR 1e-3
  double pairs_per_second = 0;  // training pairs per second, end to end (loader + step)
  double data_wait_fraction = 0;  // share of the epoch's step time spent waiting for batches
  double seconds = 0;           // wall time of the epoch (training + validation)
};

struct TrainResult {
  std::filesystem::path run_dir;
  std::filesystem::path last_checkpoint;
  std::filesystem::path best_checkpoint;
  std::vector<EpochMetrics> epochs;  // the epochs run by this invocation
  std::vector<double> step_losses;   // loss of every optimiser step run by this invocation
  int64_t parameter_count = 0;
  std::vector<std::string> train_persons;
  std::vector<std::string> val_persons;
};

// Runs (or resumes) training in stages: set up (validate(config), device, seed), data, model,
// resume, the epoch loop (train, validate, save), and the exported model.pt. Throws
// faceid::Error: bad_input for bad data, config or checkpoints (naming the file or key), io when
// the run folder cannot be written.
TrainResult run_training(const Config& config, const TrainOptions& options);

// The run folder used when none is given: <train.out_dir>/<config stem>-<YYYYmmdd-HHMMSS>.
std::filesystem::path default_run_dir(const Config& config, const std::string& config_path);

// Learning rate at optimiser step `step` (0-based) under train.{lr, schedule, warmup_epochs,
// step_epochs, step_gamma, epochs, steps_per_epoch}.
double learning_rate_at(const TrainConfig& train, int64_t step);

// metrics.csv header and one formatted row (shared with tools that read runs; read it back by
// column name with CsvTable from faceid/core/csv.hpp).
std::string metrics_csv_header();
std::string metrics_csv_row(const EpochMetrics& m);

}  // namespace faceid
