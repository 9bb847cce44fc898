// Benchmarks: programs that print numbers (apps/bench, scripts/bench.sh), never timed tests.
// Every function here measures one thing repeatedly and returns the raw samples; summarize() and
// format_figure() turn them into the printed line "name: median (unit) [p99 X] [ratio R ...]".
// Torch-free header: the measurements live in src/bench/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "faceid/config.hpp"

namespace faceid {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Median and tail of repeated measurements (linear interpolation between order statistics).
struct SampleStats {
  size_t count = 0;
  double median = kNaN;
  double p99 = kNaN;
  double min = kNaN;
  double max = kNaN;
};
SampleStats summarize(std::vector<double> samples);

// One printed figure.
struct BenchFigure {
  std::string name;          // e.g. "train.pairs_per_s"
  std::string unit;          // e.g. "pairs/s"
  SampleStats stats;
  bool show_p99 = false;     // latencies print their p99
  double ratio = kNaN;       // printed when finite, e.g. the fraction of sgemm
  std::string ratio_label;   // what the ratio compares with, e.g. "of sgemm"
};
// "name: median (unit) [p99 X] [ratio R label] [n=K]", numbers with 4 significant digits.
std::string format_figure(const BenchFigure& figure);

// Peak resident set size of this process so far (getrusage ru_maxrss), in MiB.
double peak_rss_mib();

// Sets the intra-op threads of torch (at::set_num_threads); 0 = all cores. Returns the count.
int set_bench_threads(int threads);

// GFLOP/s of torch::mm on two n x n float matrices, one sample per run of >= 0.2 s each, after
// one untimed multiplication.
std::vector<double> bench_sgemm(int n, int repeat);

// Arithmetic of one forward pass of ONE sample through `model` at `input_size`: multiply-
// accumulates of every convolution and linear layer (BatchNorm, ReLU, pooling and concatenation
// are memory-bound and not counted), found by walking the built network.
struct NetworkCost {
  int64_t forward_macs = 0;
  int64_t parameters = 0;
};
NetworkCost network_cost(const ModelConfig& model, int input_size);

// FLOPs of one training step on `pairs` pairs (2 images a pair): forward 2 FLOPs a MAC, backward
// about twice the forward.
double train_step_flops(const NetworkCost& cost, int pairs);

// The training step alone, as the trainer runs it (forward of the 2N crops, contrastive_loss with
// config.loss, zero_grad, backward, gradient clipping, optimiser step, loss.item()), on random
// crops that stay the same (no loader). `warmup` untimed steps, then one sample (seconds) a step.
// channels_last converts the weights and the input to torch's channels-last layout.
struct StepBenchOptions {
  int steps = 5;
  int warmup = 2;
  bool channels_last = false;
};
std::vector<double> bench_train_step(const Config& config, const StepBenchOptions& options);

// Single-frame embedding latency (batch 1, eval()): milliseconds per forward of one crop.
// inference_mode = true runs under c10::InferenceMode, false under torch::NoGradGuard.
struct EmbedBenchOptions {
  int repeat = 100;
  int warmup = 5;
  bool inference_mode = true;
  bool channels_last = false;
};
std::vector<double> bench_embed_latency(const ModelConfig& model, int input_size,
                                        const EmbedBenchOptions& options);

}  // namespace faceid
