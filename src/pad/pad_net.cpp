// PadModel: the learned part of liveness, PadNet, its training, scoring and file.
#include <torch/torch.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>

#include "core/device.hpp"
#include "faceid/data/augment.hpp"
#include "faceid/error.hpp"
#include "faceid/fs.hpp"
#include "faceid/model/record.hpp"
#include "faceid/pad/pad.hpp"
#include "faceid/pad/pad_metrics.hpp"

namespace faceid {
namespace {

constexpr char kKind[] = "faceid.pad";
constexpr char kWhat[] = "liveness model";
constexpr int kMinWidth = 4;
constexpr int kMaxWidth = 128;
constexpr size_t kScoreBatch = 128;
constexpr size_t kMinCalibrationFrames = 20;
constexpr int64_t kMaxSide = 64;  // PadNet's largest input side (see PadNetImpl::forward)

// Four 3x3 conv-BN-ReLU blocks of width w, 2w, 4w, 4w channels with 2x2 max-pooling between
// them, global average pooling, dropout and one linear unit: the logit of bona fide. Fully
// convolutional; crops larger than 64 px are area-averaged down to 64 first, so liveness costs
// the same ~14M multiply-adds (width 16: 61k parameters) whatever the embedder's input side.
// The mask cues (eye holes, one material colour) were measured at 64 px (docs/pad.md).
struct PadNetImpl : torch::nn::Module {
  explicit PadNetImpl(int width) {
    namespace nn = torch::nn;
    const int w[] = {kChannels, width, 2 * width, 4 * width, 4 * width};
    for (int i = 0; i < 4; ++i) {
      blocks->push_back(nn::Conv2d(nn::Conv2dOptions(w[i], w[i + 1], 3).padding(1).bias(false)));
      blocks->push_back(nn::BatchNorm2d(w[i + 1]));
      blocks->push_back(nn::ReLU());
      if (i < 3) blocks->push_back(nn::MaxPool2d(2));
    }
    register_module("blocks", blocks);
    dropout = register_module("dropout", nn::Dropout(0.3));
    head = register_module("head", nn::Linear(4 * width, 1));
  }
  torch::Tensor forward(torch::Tensor x) {
    if (x.size(2) > kMaxSide || x.size(3) > kMaxSide) {
      x = torch::adaptive_avg_pool2d(x, {std::min(x.size(2), kMaxSide), std::min(x.size(3), kMaxSide)});
    }
    x = blocks->forward(x).mean({2, 3});
    return head->forward(dropout->forward(x)).squeeze(1);
  }
  torch::nn::Sequential blocks;
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(PadNet);

// Crops [begin, end) as one [n, 4, S, S] tensor.
torch::Tensor stack_crops(const std::vector<const FaceCrop*>& crops, size_t begin, size_t end, int side) {
  const auto n = static_cast<int64_t>(end - begin);
  torch::Tensor x = torch::empty({n, kChannels, side, side});
  const size_t floats = static_cast<size_t>(kChannels) * side * side;
  for (size_t i = begin; i < end; ++i) {
    const FaceCrop& c = *crops[i];
    if (c.size != side || c.chw.size() != floats) {
      throw_internal(fmt::format("liveness: crop of side {} ({} floats), the model takes {}", c.size,
                                 c.chw.size(), side));
    }
    std::memcpy(x.data_ptr<float>() + (i - begin) * floats, c.chw.data(), floats * sizeof(float));
  }
  return x;
}

std::vector<double> sigmoid_scores(PadNet& net, const std::vector<const FaceCrop*>& crops, int side) {
  torch::NoGradGuard no_grad;
  std::vector<double> out;
  out.reserve(crops.size());
  for (size_t b = 0; b < crops.size(); b += kScoreBatch) {
    const size_t e = std::min(crops.size(), b + kScoreBatch);
    const torch::Tensor p = torch::sigmoid(net->forward(stack_crops(crops, b, e, side))).to(torch::kFloat64);
    const double* d = p.data_ptr<double>();
    out.insert(out.end(), d, d + p.numel());
  }
  return out;
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

void check_options(const PadTrainOptions& o) {
  auto bad = [](const std::string& what) { throw_bad_input("train_pad: " + what); };
  if (o.epochs < 1) bad(fmt::format("epochs must be >= 1, got {}", o.epochs));
  if (o.batch_size < 2) bad(fmt::format("batch size must be >= 2, got {}", o.batch_size));
  if (!(o.lr > 0) || !std::isfinite(o.lr)) bad(fmt::format("learning rate must be > 0, got {}", o.lr));
  if (!(o.weight_decay >= 0) || !std::isfinite(o.weight_decay)) {
    bad(fmt::format("weight decay must be >= 0, got {}", o.weight_decay));
  }
  if (o.width < kMinWidth || o.width > kMaxWidth) {
    bad(fmt::format("width must be in [{}, {}], got {}", kMinWidth, kMaxWidth, o.width));
  }
}

}  // namespace

struct PadModel::Impl {
  PadNet net{nullptr};
  int width = 16;
  int input_size = 0;
  double threshold = 0.5;
  double min_relief_mm = 0;
  uint64_t preprocess_fingerprint = 0;
  std::map<std::string, double> metrics;  // the training summary stored with the model
};

PadModel::PadModel() = default;
PadModel::~PadModel() = default;
PadModel::PadModel(const PadModel&) = default;
PadModel& PadModel::operator=(const PadModel&) = default;

double PadModel::calibrated_threshold() const { return impl_ ? impl_->threshold : 0.5; }
double PadModel::min_relief_mm() const { return impl_ ? impl_->min_relief_mm : 0.0; }
uint64_t PadModel::preprocess_fingerprint() const { return impl_ ? impl_->preprocess_fingerprint : 0; }
int PadModel::width() const { return impl_ ? impl_->width : 0; }
int64_t PadModel::parameter_count() const {
  if (!impl_) return 0;
  int64_t n = 0;
  for (const auto& p : impl_->net->parameters()) n += p.numel();
  return n;
}

std::vector<double> PadModel::learned_scores(const std::vector<const FaceCrop*>& crops) const {
  if (!impl_) throw_internal("PadModel: scoring with no model (train or load one)");
  return sigmoid_scores(impl_->net, crops, impl_->input_size);
}

PadModel PadModel::initial(const PreprocessConfig& preprocess, const PadConfig& pad, int width, int64_t seed) {
  PadTrainOptions o;
  o.width = width;
  check_options(o);
  torch::manual_seed(static_cast<uint64_t>(seed));
  auto impl = std::make_shared<Impl>();
  impl->net = PadNet(width);
  impl->net->eval();
  impl->width = width;
  impl->input_size = preprocess.input_size;
  impl->min_relief_mm = pad.min_relief_mm;
  impl->preprocess_fingerprint = faceid::preprocess_fingerprint(preprocess);
  PadModel m;
  m.impl_ = std::move(impl);
  return m;
}

PadModel PadModel::train(const PadSamples& fit, const PadSamples& validation,
                         const PreprocessConfig& preprocess, const PadConfig& pad,
                         const PadTrainOptions& options) {
  if (fit.bona_fide.empty() || fit.attacks.empty()) {
    throw_bad_input(fmt::format("train_pad: the fit persons need bona fide and attack frames (got {} and {})",
                                fit.bona_fide.size(), fit.attacks.size()));
  }
  check_options(options);
  configure_cpu_threads(options.threads);
  const int side = preprocess.input_size;
  std::shared_ptr<Impl> impl = initial(preprocess, pad, options.width, options.seed).impl_;
  PadNet& net = impl->net;

  const Augmenter augment(options.augment, preprocess, options.seed);
  torch::optim::Adam opt(net->parameters(),
                         torch::optim::AdamOptions(options.lr).weight_decay(options.weight_decay));
  std::mt19937_64 rng(static_cast<uint64_t>(options.seed));
  const int batch = options.batch_size;
  const int half = batch / 2;
  const size_t n_fit = fit.bona_fide.size() + fit.attacks.size();
  const int64_t steps = std::max<int64_t>(1, static_cast<int64_t>((n_fit + batch - 1) / batch));
  const int64_t total = steps * options.epochs;
  const size_t floats = static_cast<size_t>(kChannels) * side * side;
  std::vector<float> data(static_cast<size_t>(batch) * floats);
  torch::Tensor labels = torch::zeros({batch});
  labels.narrow(0, 0, half).fill_(1.0f);

  // Every crop is checked once here, not per draw: the step reads them raw.
  for (const auto* set : {&fit.bona_fide, &fit.attacks}) {
    for (const FaceCrop* c : *set) {
      if (c->size != side || c->chw.size() != floats) {
        throw_internal(fmt::format("train_pad: crop of side {}, the preprocessing gives {}", c->size, side));
      }
    }
  }
  const bool has_validation = !validation.bona_fide.empty() && !validation.attacks.empty();
  const auto val_geometry_bona = geometries(validation.bona_fide, preprocess);
  const auto val_geometry_attacks = geometries(validation.attacks, preprocess);
  double best_apcer = std::numeric_limits<double>::infinity();
  double best_loss = std::numeric_limits<double>::infinity();
  std::vector<torch::Tensor> best_state;
  auto state = [&] {
    std::vector<torch::Tensor> s;
    for (const auto& p : net->parameters()) s.push_back(p.detach().clone());
    for (const auto& b : net->buffers()) s.push_back(b.detach().clone());
    return s;
  };

  int64_t step = 0;
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    net->train();
    double loss_sum = 0;
    for (int64_t s = 0; s < steps; ++s, ++step) {
      const double lr = 0.5 * options.lr * (1.0 + std::cos(M_PI * static_cast<double>(step) / static_cast<double>(total)));
      for (auto& g : opt.param_groups()) g.options().set_lr(lr);
      for (int j = 0; j < batch; ++j) {
        const auto& set = j < half ? fit.bona_fide : fit.attacks;
        const FaceCrop& c = *set[std::uniform_int_distribution<size_t>(0, set.size() - 1)(rng)];
        augment.apply(c.chw.data(), data.data() + static_cast<size_t>(j) * floats, side, epoch, s, j);
      }
      const torch::Tensor x = torch::from_blob(data.data(), {batch, kChannels, side, side});
      const torch::Tensor loss =
          torch::binary_cross_entropy_with_logits(net->forward(x), labels);
      opt.zero_grad();
      loss.backward();
      opt.step();
      loss_sum += loss.item<double>();
    }
    net->eval();
    std::string line = fmt::format("epoch {}/{} loss {:.4f}", epoch + 1, options.epochs,
                                   loss_sum / static_cast<double>(steps));
    bool better = !has_validation;
    if (has_validation) {
      const auto bona = sigmoid_scores(net, validation.bona_fide, side);
      const auto attacks = sigmoid_scores(net, validation.attacks, side);
      const double val_loss = balanced_log_loss(bona, attacks);
      const auto gb = gated(bona, val_geometry_bona, pad.min_relief_mm);
      const double th = threshold_for_bpcer(gb, kPadOperatingBpcer);
      const double a = apcer(gated(attacks, val_geometry_attacks, pad.min_relief_mm), th);
      line += fmt::format(" · validation loss {:.4f}, APCER {:.2f}% at BPCER {:.2f}%", val_loss, 100 * a,
                          100 * bpcer(gb, th));
      better = a < best_apcer || (a == best_apcer && val_loss < best_loss);
      if (better) {
        best_apcer = a;
        best_loss = val_loss;
        impl->metrics["validation_loss"] = val_loss;
        impl->metrics["validation_apcer_at_bpcer_1pct"] = a;
        impl->metrics["epoch"] = epoch + 1;
      }
    }
    if (better && has_validation) best_state = state();
    line += fmt::format(" · {:.1f} s", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (options.log) options.log(line + (better && has_validation ? " (best)" : ""));
  }
  if (!best_state.empty()) {
    torch::NoGradGuard no_grad;
    size_t i = 0;
    for (auto& p : net->parameters()) p.copy_(best_state[i++]);
    for (auto& b : net->buffers()) b.copy_(best_state[i++]);
  }
  net->eval();

  // Calibration on persons the network did not fit, when there are enough of their frames.
  const bool held_out = validation.bona_fide.size() >= kMinCalibrationFrames;
  const auto& cal = held_out ? validation.bona_fide : fit.bona_fide;
  const auto cal_scores = gated(sigmoid_scores(net, cal, side),
                                held_out ? val_geometry_bona : geometries(cal, preprocess), pad.min_relief_mm);
  const auto& cal_attacks = held_out ? validation.attacks : fit.attacks;
  const auto attack_scores = gated(sigmoid_scores(net, cal_attacks, side),
                                   held_out ? val_geometry_attacks : geometries(cal_attacks, preprocess),
                                   pad.min_relief_mm);
  impl->threshold = margin_threshold(cal_scores, attack_scores, options.target_bpcer);
  impl->metrics["calibration_frames"] = static_cast<double>(cal.size());
  impl->metrics["calibrated_on_validation"] = held_out ? 1.0 : 0.0;
  PadModel m;
  m.impl_ = std::move(impl);
  return m;
}

void PadModel::save(const std::filesystem::path& path) const {
  if (!impl_) throw_internal("PadModel::save: no model");
  Record r;
  r.put("kind", std::string(kKind));
  r.put("width", static_cast<int64_t>(impl_->width));
  r.put("input_size", static_cast<int64_t>(impl_->input_size));
  r.put("preprocess_fingerprint", static_cast<int64_t>(impl_->preprocess_fingerprint));
  r.put("threshold", impl_->threshold);
  r.put("min_relief_mm", impl_->min_relief_mm);
  for (const auto& [k, v] : impl_->metrics) r.put("metric/" + k, v);
  put_module_state(r, *impl_->net);
  write_file_atomic(path, seal(kMagic, kFormatVersion, r.serialize()));
}

PadModel PadModel::load(const std::filesystem::path& path) {
  const std::string p = path.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw_bad_input(fmt::format("{}: liveness model does not exist", p));
  }
  const std::string bytes = read_file(path);
  if (bytes.rfind("# faceid liveness", 0) == 0 || bytes.rfind("format: faceid-pad", 0) == 0) {
    throw_bad_input(fmt::format(
        "{}: a liveness model of the old YAML format (logistic regression, version 2); this build "
        "reads version {}: retrain it with train_pad", p, kFormatVersion));
  }
  const std::string_view payload = unseal(bytes, kMagic, kFormatVersion, path, kWhat);
  auto impl = std::make_shared<Impl>();
  Record r;
  try {
    r = Record::parse(payload);
    if (r.get_string("kind") != kKind) {
      throw_bad_input(fmt::format("kind is '{}', expected '{}'", r.get_string("kind"), kKind));
    }
    const int64_t width = r.get_int("width");
    if (width < kMinWidth || width > kMaxWidth) {
      throw_bad_input(fmt::format("width {} outside [{}, {}]", width, kMinWidth, kMaxWidth));
    }
    impl->width = static_cast<int>(width);
    const int64_t side = r.get_int("input_size");
    if (side < 8 || side > 512) throw_bad_input(fmt::format("input_size {} outside [8, 512]", side));
    impl->input_size = static_cast<int>(side);
    impl->preprocess_fingerprint = static_cast<uint64_t>(r.get_int("preprocess_fingerprint"));
    impl->threshold = r.get_double("threshold");
    if (!(impl->threshold >= 0 && impl->threshold <= 1)) {
      throw_bad_input(fmt::format("threshold {} outside [0, 1]", impl->threshold));
    }
    impl->min_relief_mm = r.get_double("min_relief_mm");
    if (!(impl->min_relief_mm >= 0) || !std::isfinite(impl->min_relief_mm)) {
      throw_bad_input(fmt::format("min_relief_mm {} is not >= 0", impl->min_relief_mm));
    }
    for (const auto& k : r.keys_under("metric/")) impl->metrics[k] = r.get_double("metric/" + k);
  } catch (const Error& e) {
    if (e.code() != Errc::bad_input) throw;
    throw_bad_input(fmt::format("{}: corrupt {} ({})", p, kWhat, e.what()));
  }
  impl->net = PadNet(impl->width);
  load_module_state(r, *impl->net, path, kWhat);
  for (const auto& t : impl->net->named_parameters()) {
    if (!torch::isfinite(t.value()).all().item<bool>()) {
      throw_bad_input(fmt::format("{}: corrupt {} (parameter {} holds NaN or infinity)", p, kWhat, t.key()));
    }
  }
  impl->net->eval();
  PadModel m;
  m.impl_ = std::move(impl);
  return m;
}

}  // namespace faceid
