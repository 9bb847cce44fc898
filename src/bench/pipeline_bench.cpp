// End to end: training through run_training, and unlock from a decoded frame to the decision
// (preprocess, embed, liveness, match).
#include <chrono>

#include <fmt/format.h>

#include "faceid/bench/bench.hpp"
#include "faceid/core/error.hpp"
#include "faceid/runtime/embedder.hpp"
#include "faceid/runtime/template_store.hpp"
#include "faceid/runtime/unlock.hpp"
#include "faceid/runtime/unlock_policy.hpp"
#include "faceid/runtime/pad.hpp"
#include "faceid/io/dataset.hpp"
#include "faceid/model/model.hpp"
#include "faceid/model/checkpoint.hpp"
#include "faceid/train/trainer.hpp"

namespace faceid {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

TrainBench bench_training(const Config& config, int epochs, const std::filesystem::path& run_dir) {
  if (epochs < 2) throw_bad_input(fmt::format("train bench: expected >= 2 epochs, got {}", epochs));
  Config c = config;
  c.train.epochs = epochs;
  c.train.save_every = epochs;  // last.pt once, at the end
  TrainOptions options;
  options.run_dir = run_dir;
  options.overwrite = true;
  options.log = [](const std::string&) {};
  const TrainResult result = run_training(c, options);
  TrainBench out;
  out.parameters = result.parameter_count;
  out.peak_rss_mib = peak_rss_mib();
  for (size_t e = 1; e < result.epochs.size(); ++e) {
    out.pairs_per_s.push_back(result.epochs[e].pairs_per_second);
    out.data_wait_fraction.push_back(result.epochs[e].data_wait_fraction);
  }
  return out;
}

UnlockBench bench_unlock_latency(const Config& config, const std::filesystem::path& dataset_root,
                                 const std::filesystem::path& work_dir, int threads, int calls,
                                 int warmup) {
  validate(config, "unlock bench config");
  if (calls < 1 || warmup < 0) {
    throw_bad_input(fmt::format("unlock bench: expected calls >= 1 and warmup >= 0, got {} and {}",
                                calls, warmup));
  }
  // A checkpoint of a fresh model with this config: what the Embedder loads on a device.
  const auto checkpoint =
      work_dir / fmt::format("unlock-{}-{}.pt", to_string(config.model.variant),
                             config.preprocess.input_size);
  {
    torch::manual_seed(1);
    EmbeddingNet net(config.model, config.preprocess.input_size);
    CheckpointMeta meta;
    meta.config_yaml = to_yaml(config);
    std::filesystem::create_directories(work_dir);
    save_checkpoint(checkpoint, net, nullptr, meta);
  }
  // The CPU unless train.device names a GPU (`--set train.device=cuda:0`): "auto" stays on the
  // CPU so that the bench's CPU figures do not move to a GPU by themselves.
  const Embedder embedder(checkpoint, config.train.device == "auto" ? "cpu" : config.train.device,
                          threads);

  // Decoded frames with a face of the first two persons; the first person enrolls.
  const Dataset dataset = scan_dataset(dataset_root, /*strict=*/true);
  if (dataset.persons.size() < 2) {
    throw_bad_input(fmt::format("{}: the unlock bench needs 2 persons", dataset_root.string()));
  }
  std::vector<Frame> frames;
  std::vector<std::vector<float>> enroll;
  for (int p = 0; p < 2; ++p) {
    for (const FrameRef& ref : dataset.persons[static_cast<size_t>(p)].frames) {
      Frame frame = load_frame(ref);
      const PreprocessResult pre = embedder.preprocess(frame);
      if (!pre.ok) continue;
      if (p == 0 && static_cast<int>(enroll.size()) < config.unlock.enroll_frames) {
        enroll.push_back(embedder.embed(pre.crop));
      }
      frames.push_back(std::move(frame));
    }
  }
  if (enroll.empty() || frames.empty()) {
    throw_bad_input(fmt::format("{}: no frame with a face for the unlock bench",
                                dataset_root.string()));
  }
  Embeddings enrolled(static_cast<Eigen::Index>(enroll.size()), embedder.dimension());
  for (size_t i = 0; i < enroll.size(); ++i) {
    enrolled.row(static_cast<Eigen::Index>(i)) =
        Eigen::Map<const Eigen::RowVectorXf>(enroll[i].data(), embedder.dimension());
  }
  TemplateStore store;
  store.add("user", enrolled, embedder.fingerprint());
  UnlockPolicy policy(config.unlock, /*threshold=*/2.0, /*adaptive_update=*/false);
  // Liveness with an untrained PadNet: its cost does not depend on the weights. Its verdict is
  // timed, not used (random weights would refuse the user).
  const LivenessDetector liveness(PadModel::initial(config.preprocess, config.pad), config.pad,
                                  config.preprocess);

  UnlockBench out;
  std::vector<FaceCrop> burst;  // the last kBurstFrames crops: a burst attempt's frames
  for (int i = 0; i < warmup + calls; ++i) {
    const Frame& frame = frames[static_cast<size_t>(i) % frames.size()];
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_seconds();
    const PreprocessResult pre = embedder.preprocess(frame);
    const double c1 = thread_cpu_seconds();
    if (!pre.ok) throw_internal("unlock bench: a frame lost its face");
    const std::vector<float> e = embedder.embed(pre.crop);
    const double c2 = thread_cpu_seconds();
    const PadDecision live = liveness.assess(pre.crop);
    const double c3 = thread_cpu_seconds();
    const UnlockDecision d = unlock_attempt(
        store, "user", Eigen::Map<const Eigen::RowVectorXf>(e.data(), embedder.dimension()), policy,
        live.live);
    const double c4 = thread_cpu_seconds();
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    if (d.outcome != UnlockOutcome::accepted) {
      throw_internal(fmt::format("unlock bench: attempt {} was {}", i, to_string(d.outcome)));
    }
    // Liveness of a burst attempt of kBurstFrames frames (outside the single-frame figures).
    if (burst.size() == kBurstFrames) burst.erase(burst.begin());
    burst.push_back(pre.crop);
    if (burst.size() == kBurstFrames && i >= warmup) {
      std::vector<const FaceCrop*> frames;
      for (const auto& c : burst) frames.push_back(&c);
      const double b0 = thread_cpu_seconds();
      const BurstDecision bd = liveness.assess_burst(frames);
      out.burst_liveness_cpu_ms.push_back(1e3 * (thread_cpu_seconds() - b0));
      if (bd.frames.empty()) throw_internal("unlock bench: a burst scored no frame");
    }
    if (i >= warmup) {
      out.total.wall.push_back(1e3 * wall);
      out.total.cpu.push_back(1e3 * (c4 - c0));
      out.preprocess_cpu_ms.push_back(1e3 * (c1 - c0));
      out.embed_cpu_ms.push_back(1e3 * (c2 - c1));
      out.liveness_cpu_ms.push_back(1e3 * (c3 - c2));
      out.match_cpu_ms.push_back(1e3 * (c4 - c3));
    }
  }
  return out;
}

}  // namespace faceid
