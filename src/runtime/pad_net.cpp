// PadNet and PadModel: the learned part of liveness, its scoring and its file. Training is
// faceid/train/pad_train.hpp.
#include "faceid/runtime/pad_net.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/model/record.hpp"
#include "faceid/runtime/pad.hpp"

namespace faceid {
namespace {

constexpr char kKind[] = "faceid.pad";
constexpr char kWhat[] = "liveness model";
constexpr size_t kScoreBatch = 128;
constexpr int64_t kMaxSide = 64;  // PadNet's largest input side (see PadNetImpl::forward)

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

}  // namespace

PadNetImpl::PadNetImpl(int width) : width_(width) {
  if (width < kPadMinWidth || width > kPadMaxWidth) {
    throw_bad_input(fmt::format("PadNet: width must be in [{}, {}], got {}", kPadMinWidth, kPadMaxWidth, width));
  }
  namespace nn = torch::nn;
  const int w[] = {kChannels, width, 2 * width, 4 * width, 4 * width};
  for (int i = 0; i < 4; ++i) {
    blocks_->push_back(nn::Conv2d(nn::Conv2dOptions(w[i], w[i + 1], 3).padding(1).bias(false)));
    blocks_->push_back(nn::BatchNorm2d(w[i + 1]));
    blocks_->push_back(nn::ReLU());
    if (i < 3) blocks_->push_back(nn::MaxPool2d(2));
  }
  register_module("blocks", blocks_);
  dropout_ = register_module("dropout", nn::Dropout(0.3));
  head_ = register_module("head", nn::Linear(4 * width, 1));
}

torch::Tensor PadNetImpl::forward(torch::Tensor x) {
  if (x.size(2) > kMaxSide || x.size(3) > kMaxSide) {
    x = torch::adaptive_avg_pool2d(x, {std::min(x.size(2), kMaxSide), std::min(x.size(3), kMaxSide)});
  }
  x = blocks_->forward(x).mean({2, 3});
  return head_->forward(dropout_->forward(x)).squeeze(1);
}

PadNet seeded_pad_net(int width, uint64_t seed) {
  torch::manual_seed(seed);
  return PadNet(width);
}

std::vector<double> pad_net_probabilities(PadNetImpl& net, const std::vector<const FaceCrop*>& crops, int side) {
  torch::NoGradGuard no_grad;
  std::vector<double> out;
  out.reserve(crops.size());
  for (size_t b = 0; b < crops.size(); b += kScoreBatch) {
    const size_t e = std::min(crops.size(), b + kScoreBatch);
    const torch::Tensor p = torch::sigmoid(net.forward(stack_crops(crops, b, e, side))).to(torch::kFloat64);
    const double* d = p.data_ptr<double>();
    out.insert(out.end(), d, d + p.numel());
  }
  return out;
}

struct PadModel::Impl {
  PadNet net{nullptr};
  PadModelInfo info;
};

PadModel::PadModel() = default;
PadModel::~PadModel() = default;
PadModel::PadModel(const PadModel&) = default;
PadModel& PadModel::operator=(const PadModel&) = default;

PadModel::PadModel(PadNet net, PadModelInfo info) {
  if (net.is_empty()) throw_internal("PadModel: no network");
  if (!(info.threshold >= 0 && info.threshold <= 1)) {
    throw_internal(fmt::format("PadModel: threshold {} outside [0, 1]", info.threshold));
  }
  net->eval();
  impl_ = std::make_shared<Impl>(Impl{std::move(net), std::move(info)});
}

double PadModel::calibrated_threshold() const { return impl_ ? impl_->info.threshold : 0.5; }
double PadModel::min_relief_mm() const { return impl_ ? impl_->info.min_relief_mm : 0.0; }
uint64_t PadModel::preprocess_fingerprint() const { return impl_ ? impl_->info.preprocess_fingerprint : 0; }
int PadModel::width() const { return impl_ ? impl_->net->width() : 0; }
int64_t PadModel::parameter_count() const {
  if (!impl_) return 0;
  int64_t n = 0;
  for (const auto& p : impl_->net->parameters()) n += p.numel();
  return n;
}

std::vector<double> PadModel::learned_scores(const std::vector<const FaceCrop*>& crops) const {
  if (!impl_) throw_internal("PadModel: scoring with no model (train or load one)");
  return pad_net_probabilities(*impl_->net, crops, impl_->info.input_size);
}

PadModel PadModel::initial(const PreprocessConfig& preprocess, const PadConfig& pad, int width, int64_t seed) {
  PadModelInfo info;
  info.input_size = preprocess.input_size;
  info.preprocess_fingerprint = faceid::preprocess_fingerprint(preprocess);
  info.min_relief_mm = pad.min_relief_mm;
  return PadModel(seeded_pad_net(width, static_cast<uint64_t>(seed)), std::move(info));
}

void PadModel::save(const std::filesystem::path& path) const {
  if (!impl_) throw_internal("PadModel::save: no model");
  const PadModelInfo& info = impl_->info;
  Record r;
  r.put("kind", std::string(kKind));
  r.put("width", static_cast<int64_t>(impl_->net->width()));
  r.put("input_size", static_cast<int64_t>(info.input_size));
  r.put("preprocess_fingerprint", static_cast<int64_t>(info.preprocess_fingerprint));
  r.put("threshold", info.threshold);
  r.put("min_relief_mm", info.min_relief_mm);
  for (const auto& [k, v] : info.metrics) r.put("metric/" + k, v);
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
  Record r;
  PadModelInfo info;
  int width = 0;
  try {
    r = Record::parse(payload);
    if (r.get_string("kind") != kKind) {
      throw_bad_input(fmt::format("kind is '{}', expected '{}'", r.get_string("kind"), kKind));
    }
    const int64_t w = r.get_int("width");
    if (w < kPadMinWidth || w > kPadMaxWidth) {
      throw_bad_input(fmt::format("width {} outside [{}, {}]", w, kPadMinWidth, kPadMaxWidth));
    }
    width = static_cast<int>(w);
    const int64_t side = r.get_int("input_size");
    if (side < 8 || side > 512) throw_bad_input(fmt::format("input_size {} outside [8, 512]", side));
    info.input_size = static_cast<int>(side);
    info.preprocess_fingerprint = static_cast<uint64_t>(r.get_int("preprocess_fingerprint"));
    info.threshold = r.get_double("threshold");
    if (!(info.threshold >= 0 && info.threshold <= 1)) {
      throw_bad_input(fmt::format("threshold {} outside [0, 1]", info.threshold));
    }
    info.min_relief_mm = r.get_double("min_relief_mm");
    if (!(info.min_relief_mm >= 0) || !std::isfinite(info.min_relief_mm)) {
      throw_bad_input(fmt::format("min_relief_mm {} is not >= 0", info.min_relief_mm));
    }
    for (const auto& k : r.keys_under("metric/")) info.metrics[k] = r.get_double("metric/" + k);
  } catch (const Error& e) {
    if (e.code() != Errc::bad_input) throw;
    throw_bad_input(fmt::format("{}: corrupt {} ({})", p, kWhat, e.what()));
  }
  PadNet net(width);
  load_module_state(r, *net, path, kWhat);
  for (const auto& t : net->named_parameters()) {
    if (!torch::isfinite(t.value()).all().item<bool>()) {
      throw_bad_input(fmt::format("{}: corrupt {} (parameter {} holds NaN or infinity)", p, kWhat, t.key()));
    }
  }
  return PadModel(std::move(net), std::move(info));
}

}  // namespace faceid
