// The model alone: one training step on fixed random crops, and single-frame embedding latency.
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "faceid/model/device.hpp"
#include "faceid/bench/bench.hpp"
#include "faceid/core/error.hpp"
#include "faceid/model/model.hpp"
#include "faceid/preprocess/preprocess.hpp"
#include "faceid/train/train_step.hpp"

namespace faceid {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Weights of 4-D parameters (convolutions) in channels-last layout.
void to_channels_last(EmbeddingNet& net) {
  torch::NoGradGuard no_grad;
  for (auto& p : net->parameters()) {
    if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

torch::Tensor layout(const torch::Tensor& x, bool channels_last) {
  return channels_last ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
}

}  // namespace

std::vector<double> bench_train_step(const Config& config, const StepBenchOptions& options) {
  validate(config, "train step bench config");
  if (options.steps < 1 || options.warmup < 0) {
    throw_bad_input(fmt::format("train step bench: expected steps >= 1 and warmup >= 0, got {} "
                                "and {}", options.steps, options.warmup));
  }
  const TrainConfig& t = config.train;
  const int64_t n = t.batch_pairs;
  const int64_t s = config.preprocess.input_size;
  // The CPU unless train.device names a GPU ("auto" stays on the CPU, as in the unlock bench).
  const torch::Device device = t.device == "auto" ? torch::Device(torch::kCPU) : resolve_device(t.device);
  configure_cuda(device, t.cudnn_benchmark, t.allow_tf32);
  torch::manual_seed(static_cast<uint64_t>(t.seed));
  EmbeddingNet net(config.model, static_cast<int>(s));
  if (options.channels_last) to_channels_last(net);
  net->to(device);
  net->train();
  auto optimizer = make_optimizer(net, t);

  // Fixed crops and labels: the first half genuine pairs, persons 0..3.
  const auto a = torch::randn({n, kChannels, s, s}).to(device);
  const auto b = torch::randn({n, kChannels, s, s}).to(device);
  const auto person_a = torch::arange(n, torch::kInt64).remainder(4).to(device);
  auto person_b = person_a.clone();
  person_b.narrow(0, n / 2, n - n / 2).add_(1).remainder_(4);
  const auto same = person_a.eq(person_b).to(torch::kFloat32);

  std::vector<double> samples;
  for (int i = 0; i < options.warmup + options.steps; ++i) {
    const auto t0 = Clock::now();
    // The trainer's own step (train/train_step.hpp), on fixed crops.
    const double loss =
        train_step(net, *optimizer, layout(torch::cat({a, b}), options.channels_last), same,
                   person_a, person_b, config.loss, t);
    if (!std::isfinite(loss)) throw_internal(fmt::format("train step bench: loss is {}", loss));
    if (i >= options.warmup) samples.push_back(seconds_since(t0));
  }
  return samples;
}

TimedSamples bench_embed_latency(const ModelConfig& model, int input_size,
                                 const EmbedBenchOptions& options) {
  if (options.repeat < 1 || options.warmup < 0) {
    throw_bad_input(fmt::format("embed bench: expected repeat >= 1 and warmup >= 0, got {} and {}",
                                options.repeat, options.warmup));
  }
  torch::manual_seed(1);
  EmbeddingNet net(model, input_size);
  if (options.channels_last) to_channels_last(net);
  net->eval();
  const auto x = layout(torch::randn({1, kChannels, input_size, input_size}),
                        options.channels_last);
  TimedSamples samples;
  auto run = [&] {
    for (int i = 0; i < options.warmup + options.repeat; ++i) {
      const auto t0 = Clock::now();
      const double c0 = thread_cpu_seconds();
      const auto e = net->forward(x);
      if (i >= options.warmup) {
        samples.cpu.push_back(1e3 * (thread_cpu_seconds() - c0));
        samples.wall.push_back(1e3 * seconds_since(t0));
      }
    }
  };
  if (options.inference_mode) {
    c10::InferenceMode guard;
    run();
  } else {
    torch::NoGradGuard guard;
    run();
  }
  return samples;
}

}  // namespace faceid
