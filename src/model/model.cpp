#include "faceid/model/model.hpp"

#include <fmt/format.h>

#include "faceid/core/error.hpp"
#include "faceid/model/loss.hpp"
#include "model/fire.hpp"

namespace faceid {
namespace {

namespace nn = torch::nn;

constexpr int64_t kInputChannels = 4;    // R, G, B, depth
constexpr int64_t kTrunkChannels = 512;  // channels out of both trunks
constexpr int kMaxInputSize = 4096;      // search bound of min_input_size
// The largest embedding and input side a model may have: the bounds of model.embedding_dim and
// preprocess.input_size in config.cpp. A checkpoint is not a config, but its values must not
// make us allocate more than any config could (a forged dim of 2^31 would ask for terabytes).
constexpr int kMaxEmbeddingDim = 4096;
constexpr int kMaxModelInputSize = 512;

// SqueezeNet's Fire block: a 1x1 squeeze convolution, then the concatenation of a 1x1 and a
// 3x3 ("same") expand convolution, each followed by (BatchNorm and) ReLU.
class FireImpl : public nn::Module {
 public:
  FireImpl(int64_t in_channels, int64_t squeeze, int64_t expand, bool batch_norm) {
    auto conv = [batch_norm](int64_t in, int64_t out, int64_t kernel) {
      return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).padding(kernel / 2).bias(!batch_norm));
    };
    squeeze_ = register_module("squeeze", conv(in_channels, squeeze, 1));
    expand1x1_ = register_module("expand1x1", conv(squeeze, expand, 1));
    expand3x3_ = register_module("expand3x3", conv(squeeze, expand, 3));
    if (batch_norm) {
      squeeze_bn_ = register_module("squeeze_bn", nn::BatchNorm2d(squeeze));
      expand1x1_bn_ = register_module("expand1x1_bn", nn::BatchNorm2d(expand));
      expand3x3_bn_ = register_module("expand3x3_bn", nn::BatchNorm2d(expand));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const auto s = conv_bn_relu(squeeze_, squeeze_bn_, x);
    return torch::cat(
        {conv_bn_relu(expand1x1_, expand1x1_bn_, s), conv_bn_relu(expand3x3_, expand3x3_bn_, s)},
        1);
  }

 private:
  static torch::Tensor conv_bn_relu(nn::Conv2d& conv, nn::BatchNorm2d& bn, const torch::Tensor& x) {
    auto y = conv(x);
    if (bn) y = bn(y);
    return torch::relu(y);
  }

  nn::Conv2d squeeze_{nullptr}, expand1x1_{nullptr}, expand3x3_{nullptr};
  nn::BatchNorm2d squeeze_bn_{nullptr}, expand1x1_bn_{nullptr}, expand3x3_bn_{nullptr};
};
TORCH_MODULE(Fire);

// Output side of a convolution or pooling with no padding; 0 when the window does not fit.
// ceil mode follows PyTorch: the last window must start inside the input.
int window_out(int n, int kernel, int stride, bool ceil_mode) {
  if (n < kernel) return 0;
  int out = (n - kernel + (ceil_mode ? stride - 1 : 0)) / stride + 1;
  if (ceil_mode && (out - 1) * stride >= n) --out;
  return out;
}

// Side of the trunk's output map for an input of side `s`, 0 when the input is too small.
// squeezenet1_1: conv 3x3/2, three max-pools 3/2 (ceil). faceid_beta: conv 5x5/2 valid, three
// max-pools 3/2 (floor, Keras "valid"). Fire blocks and 1x1 convolutions keep the side.
int trunk_side(ModelVariant variant, int s) {
  const bool beta = variant == ModelVariant::faceid_beta;
  int n = window_out(s, beta ? 5 : 3, 2, false);
  for (int i = 0; i < 3; ++i) n = window_out(n, 3, 2, !beta);
  return n;
}

// The trunks, one stage per line.
// clang-format off
nn::Sequential squeezenet_trunk() {
  const auto pool = [] { return nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).ceil_mode(true)); };
  return nn::Sequential(
      nn::Conv2d(nn::Conv2dOptions(kInputChannels, 64, 3).stride(2).bias(false)),
      nn::BatchNorm2d(64), nn::ReLU(), pool(),
      Fire(64, 16, 64, true), Fire(128, 16, 64, true), pool(),
      Fire(128, 32, 128, true), Fire(256, 32, 128, true), pool(),
      Fire(256, 48, 192, true), Fire(384, 48, 192, true),
      Fire(384, 64, 256, true), Fire(512, 64, 256, true));
}

nn::Sequential beta_trunk(double dropout) {
  const auto pool = [] { return nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2)); };
  return nn::Sequential(
      nn::Conv2d(nn::Conv2dOptions(kInputChannels, 64, 5).stride(2)),
      nn::BatchNorm2d(64), nn::ReLU(), pool(),
      Fire(64, 16, 16, false), Fire(32, 16, 16, false), pool(),
      Fire(32, 32, 32, false), Fire(64, 32, 32, false), pool(),
      Fire(64, 48, 48, false), Fire(96, 48, 48, false),
      Fire(96, 64, 64, false), Fire(128, 64, 64, false),
      nn::Dropout(dropout), nn::Conv2d(nn::Conv2dOptions(128, kTrunkChannels, 1)), nn::ReLU());
}
// clang-format on

nn::Sequential squeezenet_head(double dropout, int64_t dim) {
  return nn::Sequential(nn::AdaptiveAvgPool2d(1), nn::Flatten(), nn::Dropout(dropout),
                        nn::Linear(kTrunkChannels, dim));
}

nn::Sequential beta_head(double dropout, int64_t dim, int side) {
  return nn::Sequential(nn::Flatten(), nn::Linear(kTrunkChannels * side * side, 512), nn::ReLU(),
                        nn::Dropout(dropout), nn::Linear(512, dim));
}

}  // namespace

int min_input_size(ModelVariant variant) {
  int s = 1;
  while (s < kMaxInputSize && trunk_side(variant, s) < 1) ++s;
  return s;
}

torch::nn::Sequential make_fire(int64_t in_channels, int64_t squeeze, int64_t expand,
                                         bool batch_norm) {
  return torch::nn::Sequential(Fire(in_channels, squeeze, expand, batch_norm));
}

EmbeddingNetImpl::EmbeddingNetImpl(const ModelConfig& model, int input_size)
    : config_(model), input_size_(input_size) {
  if (model.embedding_dim < 1 || model.embedding_dim > kMaxEmbeddingDim) {
    throw_bad_input(fmt::format("model.embedding_dim: expected in [1, {}], got {}",
                                kMaxEmbeddingDim, model.embedding_dim));
  }
  if (!(model.dropout >= 0.0 && model.dropout < 1.0)) {
    throw_bad_input(fmt::format("model.dropout: expected in [0, 1), got {}", model.dropout));
  }
  if (input_size > kMaxModelInputSize) {
    throw_bad_input(fmt::format("preprocess.input_size: expected <= {}, got {}",
                                kMaxModelInputSize, input_size));
  }
  const int side = trunk_side(model.variant, input_size);
  if (side < 1) {
    throw_bad_input(
        fmt::format("preprocess.input_size: {} is too small for model.variant {} (minimum {})",
                    input_size, to_string(model.variant), min_input_size(model.variant)));
  }
  if (model.variant == ModelVariant::faceid_beta) {
    features_ = register_module("features", beta_trunk(model.dropout));
    head_ = register_module("head", beta_head(model.dropout, model.embedding_dim, side));
  } else {
    features_ = register_module("features", squeezenet_trunk());
    head_ = register_module("head", squeezenet_head(model.dropout, model.embedding_dim));
  }

  // Kaiming-uniform for every convolution and linear layer (fan-in, ReLU gain), zero biases,
  // BatchNorm at identity. Deterministic under torch::manual_seed.
  for (const auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      nn::init::kaiming_uniform_(conv->weight, 0.0, torch::kFanIn, torch::kReLU);
      if (conv->bias.defined()) nn::init::zeros_(conv->bias);
    } else if (auto* linear = m->as<nn::Linear>()) {
      nn::init::kaiming_uniform_(linear->weight, 0.0, torch::kFanIn, torch::kReLU);
      nn::init::zeros_(linear->bias);
    } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    }
  }

  // Convolution weights live in channels-last (NHWC) layout and forward() feeds NHWC inputs:
  // oneDNN's NHWC kernels and the NHWC pooling and BatchNorm paths halve the embedding latency
  // and speed the training step up by 1.3-1.5x (docs/benchmarks.md, "Tuning"). The layout is
  // invisible to callers: values, shapes and state-dict names are unchanged, and loading
  // checkpoints copies into these tensors, which keeps their layout.
  torch::NoGradGuard no_grad;
  for (auto& p : parameters()) {
    if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

torch::Tensor EmbeddingNetImpl::forward(const torch::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != kInputChannels || x.size(2) != input_size_ ||
      x.size(3) != input_size_) {
    throw_bad_input(fmt::format("EmbeddingNet: expected input [N, {}, {}, {}], got {}",
                                kInputChannels, input_size_, input_size_, c10::str(x.sizes())));
  }
  const auto nhwc = x.contiguous(torch::MemoryFormat::ChannelsLast);
  const auto y = head_->forward(features_->forward(nhwc));
  return nn::functional::normalize(y,
                                   nn::functional::NormalizeFuncOptions().p(2).dim(1).eps(1e-12));
}

torch::Tensor EmbeddingNetImpl::distance(const torch::Tensor& a, const torch::Tensor& b) {
  return pair_distance(a, b);
}

int64_t EmbeddingNetImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace faceid
