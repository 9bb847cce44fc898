// PAD training: PadNet on bona fide vs attack crops, the epoch chosen on the validation persons,
// the threshold calibrated with a margin (faceid/train/pad_train.hpp).
#include "faceid/train/pad_train.hpp"

#include <torch/torch.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <numbers>
#include <string>
#include <vector>

#include "faceid/core/error.hpp"
#include "faceid/core/rng.hpp"
#include "faceid/data/augment.hpp"
#include "faceid/eval/pad_metrics.hpp"
#include "faceid/model/device.hpp"
#include "faceid/runtime/pad_net.hpp"

namespace faceid {
namespace {

// The stream of the batch draws: hash_seed({kPadDrawDomain, seed}) (faceid/core/rng.hpp).
constexpr uint64_t kPadDrawDomain = 0x706164ULL;  // "pad"

void check_options(const PadTrainOptions& o) {
  auto bad = [](const std::string& what) { throw_bad_input("train_pad: " + what); };
  if (o.epochs < 1) bad(fmt::format("epochs must be >= 1, got {}", o.epochs));
  if (o.batch_size < 2) bad(fmt::format("batch size must be >= 2, got {}", o.batch_size));
  if (!(o.lr > 0) || !std::isfinite(o.lr)) bad(fmt::format("learning rate must be > 0, got {}", o.lr));
  if (!(o.weight_decay >= 0) || !std::isfinite(o.weight_decay)) {
    bad(fmt::format("weight decay must be >= 0, got {}", o.weight_decay));
  }
}

// Every fit crop is checked once here, not per draw: the step reads them raw.
void check_fit_crops(const PadSamples& fit, int side) {
  const size_t floats = static_cast<size_t>(kChannels) * side * side;
  for (const auto* set : {&fit.bona_fide, &fit.attacks}) {
    for (const FaceCrop* c : *set) {
      if (c->size != side || c->chw.size() != floats) {
        throw_internal(fmt::format("train_pad: crop of side {}, the preprocessing gives {}", c->size, side));
      }
    }
  }
}

// Class-balanced binary cross-entropy of probabilities (bona fide = 1).
double balanced_log_loss(const std::vector<double>& bona, const std::vector<double>& attacks) {
  auto mean_nll = [](const std::vector<double>& p, bool live) {
    double s = 0;
    for (double v : p) s -= std::log(std::clamp(live ? v : 1.0 - v, 1e-7, 1.0));
    return p.empty() ? 0.0 : s / static_cast<double>(p.size());
  };
  return 0.5 * (mean_nll(bona, true) + mean_nll(attacks, false));
}

std::vector<DepthGeometry> geometries(const std::vector<const FaceCrop*>& crops, const PreprocessConfig& pp) {
  std::vector<DepthGeometry> out;
  out.reserve(crops.size());
  for (const FaceCrop* c : crops) out.push_back(fit_depth_geometry(*c, pp));
  return out;
}

std::vector<double> gated(const std::vector<double>& learned, const std::vector<DepthGeometry>& g, double relief) {
  std::vector<double> out(learned.size());
  for (size_t i = 0; i < learned.size(); ++i) out[i] = liveness_score(learned[i], g[i], relief);
  return out;
}

// A set of crops with the geometry of each, fitted once.
struct GatedSet {
  GatedSet(const PadSamples& set, const PreprocessConfig& pp)
      : samples(set), bona_geometry(geometries(set.bona_fide, pp)), attack_geometry(geometries(set.attacks, pp)) {}
  const PadSamples& samples;
  std::vector<DepthGeometry> bona_geometry;
  std::vector<DepthGeometry> attack_geometry;
};

// Steps of `batch` crops to see about every one of `frames` crops once; at least 1.
int64_t steps_per_epoch(size_t frames, int batch) {
  const auto b = static_cast<size_t>(batch);
  return std::max<int64_t>(1, static_cast<int64_t>((frames + b - 1) / b));
}

// The fit stage: the network, its optimiser, the batch draws and the batch buffer. Each batch is
// half bona fide, half attacks, every slot a uniform draw of its class, augmented by (epoch,
// step, slot).
class FitLoop {
 public:
  FitLoop(PadNet net, const PadSamples& fit, const PreprocessConfig& pp, const PadTrainOptions& o)
      : net_(std::move(net)),
        fit_(fit),
        options_(o),
        side_(pp.input_size),
        floats_(static_cast<size_t>(kChannels) * side_ * side_),
        augment_(o.augment, pp, o.seed),
        optimizer_(net_->parameters(), torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay)),
        rng_(hash_seed({kPadDrawDomain, static_cast<uint64_t>(o.seed)})),
        steps_(steps_per_epoch(fit.bona_fide.size() + fit.attacks.size(), o.batch_size)),
        data_(static_cast<size_t>(o.batch_size) * floats_),
        labels_(torch::zeros({o.batch_size})) {
    labels_.narrow(0, 0, o.batch_size / 2).fill_(1.0f);
  }

  // One epoch of steps, the learning rate on a cosine from options.lr to 0 over all epochs; the
  // mean training loss. Leaves the network in eval mode.
  double epoch(int e) {
    const int batch = options_.batch_size;
    const int half = batch / 2;
    const int64_t total = steps_ * options_.epochs;
    net_->train();
    double loss_sum = 0;
    for (int64_t s = 0; s < steps_; ++s) {
      const int64_t step = e * steps_ + s;
      const double lr = 0.5 * options_.lr *
                        (1.0 + std::cos(std::numbers::pi * static_cast<double>(step) / static_cast<double>(total)));
      for (auto& g : optimizer_.param_groups()) g.options().set_lr(lr);
      for (int j = 0; j < batch; ++j) {
        const auto& set = j < half ? fit_.bona_fide : fit_.attacks;
        const FaceCrop& c = *set[rng_.below(set.size())];
        float* slot = data_.data() + static_cast<size_t>(j) * floats_;
        augment_.apply(c.chw.data(), slot, side_, e, s, j);
        if (options_.colour_invariance) recolour(slot);
      }
      const torch::Tensor x = torch::from_blob(data_.data(), {batch, kChannels, side_, side_});
      const torch::Tensor loss = torch::binary_cross_entropy_with_logits(net_->forward(x), labels_);
      optimizer_.zero_grad();
      loss.backward();
      optimizer_.step();
      loss_sum += loss.item<double>();
    }
    net_->eval();
    return loss_sum / static_cast<double>(steps_);
  }

 private:
  // A change of material: with probability 1/2 each colour channel is scaled by its own gain in
  // [0.6, 1.4], and with probability 1/4 the colour becomes grey (its luminance), in display
  // units; depth is left alone. What stays is the spatial pattern and the shading, which a mask of
  // another colour shares with ours; the colour of a material is the renderer's choice.
  void recolour(float* chw) {
    const size_t n = static_cast<size_t>(side_) * side_;
    const bool gains = rng_.chance(0.5), grey = rng_.chance(0.25);
    float g[3] = {1, 1, 1};
    if (gains) {
      for (float& v : g) v = static_cast<float>(rng_.uniform(0.6, 1.4));
    }
    if (!gains && !grey) return;
    for (size_t i = 0; i < n; ++i) {
      float rgb[3];
      for (int ch = 0; ch < 3; ++ch) rgb[ch] = (chw[ch * n + i] * kColorStd[ch] + kColorMean[ch]) * g[ch];
      if (grey) rgb[0] = rgb[1] = rgb[2] = 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
      for (int ch = 0; ch < 3; ++ch) chw[ch * n + i] = (rgb[ch] - kColorMean[ch]) / kColorStd[ch];
    }
  }

  PadNet net_;
  const PadSamples& fit_;
  const PadTrainOptions& options_;
  int side_;
  size_t floats_;
  Augmenter augment_;
  torch::optim::Adam optimizer_;
  Rng rng_;
  int64_t steps_;
  std::vector<float> data_;
  torch::Tensor labels_;
};

// The network's parameters and buffers, copied (the best epoch's) and copied back.
std::vector<torch::Tensor> snapshot(PadNetImpl& net) {
  std::vector<torch::Tensor> s;
  for (const auto& p : net.parameters()) s.push_back(p.detach().clone());
  for (const auto& b : net.buffers()) s.push_back(b.detach().clone());
  return s;
}

void restore(PadNetImpl& net, const std::vector<torch::Tensor>& state) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& p : net.parameters()) p.copy_(state[i++]);
  for (auto& b : net.buffers()) b.copy_(state[i++]);
}

// An epoch on the validation persons: the class-balanced loss of the learned scores, and APCER
// and BPCER of the gated scores at the threshold with BPCER <= kPadOperatingBpcer.
struct EpochScore {
  double loss = 0;
  double apcer = 0;
  double bpcer = 0;
};

EpochScore score_epoch(PadNetImpl& net, const GatedSet& val, int side, double min_relief_mm) {
  const auto bona = pad_net_probabilities(net, val.samples.bona_fide, side);
  const auto attacks = pad_net_probabilities(net, val.samples.attacks, side);
  const auto gb = gated(bona, val.bona_geometry, min_relief_mm);
  const double th = threshold_for_bpcer(gb, kPadOperatingBpcer);
  return {balanced_log_loss(bona, attacks), apcer(gated(attacks, val.attack_geometry, min_relief_mm), th),
          bpcer(gb, th)};
}

// The fit and validation stages: trains every epoch and leaves `net` with the best validation
// epoch's weights (the last epoch's when validation lacks a class), in eval mode. The best
// epoch's summary goes into `metrics`.
void fit_and_select(PadNet& net, const PadSamples& fit, const GatedSet& val, const PreprocessConfig& pp,
                    const PadConfig& pad, const PadTrainOptions& options, std::map<std::string, double>& metrics) {
  FitLoop loop(net, fit, pp, options);
  const bool has_validation = !val.samples.bona_fide.empty() && !val.samples.attacks.empty();
  double best_apcer = std::numeric_limits<double>::infinity();
  double best_loss = std::numeric_limits<double>::infinity();
  std::vector<torch::Tensor> best_state;
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    std::string line = fmt::format("epoch {}/{} loss {:.4f}", epoch + 1, options.epochs, loop.epoch(epoch));
    bool best = false;
    if (has_validation) {
      const EpochScore v = score_epoch(*net, val, pp.input_size, pad.min_relief_mm);
      line += fmt::format(" · validation loss {:.4f}, APCER {:.2f}% at BPCER {:.2f}%", v.loss, 100 * v.apcer,
                          100 * v.bpcer);
      best = v.apcer < best_apcer || (v.apcer == best_apcer && v.loss < best_loss);
      if (best) {
        best_apcer = v.apcer;
        best_loss = v.loss;
        metrics["validation_loss"] = v.loss;
        metrics["validation_apcer_at_bpcer_1pct"] = v.apcer;
        metrics["epoch"] = epoch + 1;
        best_state = snapshot(*net);
      }
    }
    line += fmt::format(" · {:.1f} s", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (options.log) options.log(line + (best ? " (best)" : ""));
  }
  if (!best_state.empty()) restore(*net, best_state);
  net->eval();
}

// The calibration stage: margin_threshold of the gated scores on the validation frames (the fit
// ones when there are fewer than kPadMinCalibrationFrames validation bona fide frames). Records
// where it calibrated in `metrics`.
double calibrate(PadNetImpl& net, const PadSamples& fit, const GatedSet& val, const PreprocessConfig& pp,
                 const PadConfig& pad, const PadTrainOptions& options, std::map<std::string, double>& metrics) {
  const bool held_out = val.samples.bona_fide.size() >= kPadMinCalibrationFrames;
  const auto& bona = held_out ? val.samples.bona_fide : fit.bona_fide;
  const auto& attacks = held_out ? val.samples.attacks : fit.attacks;
  const auto bona_scores = gated(pad_net_probabilities(net, bona, pp.input_size),
                                 held_out ? val.bona_geometry : geometries(bona, pp), pad.min_relief_mm);
  const auto attack_scores = gated(pad_net_probabilities(net, attacks, pp.input_size),
                                   held_out ? val.attack_geometry : geometries(attacks, pp), pad.min_relief_mm);
  metrics["calibration_frames"] = static_cast<double>(bona.size());
  metrics["calibrated_on_validation"] = held_out ? 1.0 : 0.0;
  return margin_threshold(bona_scores, attack_scores, options.target_bpcer);
}

}  // namespace

PadModel train_pad_model(const PadSamples& fit, const PadSamples& validation, const PreprocessConfig& preprocess,
                         const PadConfig& pad, const PadTrainOptions& options) {
  if (fit.bona_fide.empty() || fit.attacks.empty()) {
    throw_bad_input(fmt::format("train_pad: the fit persons need bona fide and attack frames (got {} and {})",
                                fit.bona_fide.size(), fit.attacks.size()));
  }
  check_options(options);
  configure_cpu_threads(options.threads);
  PadNet net = seeded_pad_net(options.width, static_cast<uint64_t>(options.seed));
  check_fit_crops(fit, preprocess.input_size);
  const GatedSet val(validation, preprocess);

  PadModelInfo info;
  info.input_size = preprocess.input_size;
  info.preprocess_fingerprint = preprocess_fingerprint(preprocess);
  info.min_relief_mm = pad.min_relief_mm;
  fit_and_select(net, fit, val, preprocess, pad, options, info.metrics);
  info.threshold = calibrate(*net, fit, val, preprocess, pad, options, info.metrics);
  return PadModel(std::move(net), std::move(info));
}

}  // namespace faceid
