// Counting the arithmetic of the embedding network by walking the built modules.
#include <fmt/format.h>

#include "faceid/bench/bench.hpp"
#include "faceid/core/error.hpp"
#include "faceid/model/model.hpp"

namespace faceid {
namespace {

namespace nn = torch::nn;

int64_t conv_macs(const nn::Conv2dImpl& conv, int64_t out_h, int64_t out_w) {
  const auto& o = conv.options;
  return out_h * out_w * o.out_channels() * (o.in_channels() / o.groups()) * (*o.kernel_size())[0] *
         (*o.kernel_size())[1];
}

int64_t linear_macs(const nn::LinearImpl& linear) {
  return linear.options.in_features() * linear.options.out_features();
}

// MACs of one element of a Sequential given its input and output. A block that is neither a
// convolution nor a linear layer (a Fire block) must keep the spatial size and hold only
// stride-1 convolutions: each of them then runs at the block's output size.
int64_t element_macs(const std::shared_ptr<nn::Module>& m, const torch::Tensor& in,
                     const torch::Tensor& out) {
  if (const auto* conv = m->as<nn::Conv2d>()) return conv_macs(*conv, out.size(2), out.size(3));
  if (const auto* linear = m->as<nn::Linear>()) return linear_macs(*linear);
  int64_t macs = 0;
  for (const auto& child : m->modules(/*include_self=*/false)) {
    if (child->as<nn::Linear>()) {
      throw_internal(fmt::format("network_cost: linear layer inside {}", m->name()));
    }
    const auto* conv = child->as<nn::Conv2d>();
    if (!conv) continue;
    const auto& stride = *conv->options.stride();
    if (stride[0] != 1 || stride[1] != 1 || in.dim() != 4 || out.dim() != 4 ||
        in.size(2) != out.size(2) || in.size(3) != out.size(3)) {
      throw_internal(fmt::format("network_cost: cannot count {}: not a size-keeping block",
                                 m->name()));
    }
    macs += conv_macs(*conv, out.size(2), out.size(3));
  }
  return macs;
}

}  // namespace

NetworkCost network_cost(const ModelConfig& model, int input_size) {
  EmbeddingNet net(model, input_size);
  net->eval();
  torch::NoGradGuard no_grad;
  NetworkCost cost;
  cost.parameters = net->parameter_count();
  auto x = torch::zeros({1, 4, input_size, input_size});
  // named_children() returns its dictionary by value: keep it alive while pointing into it
  // (found by the ASan suite: find() on the temporary left a dangling pointer).
  const auto children = net->named_children();
  for (const char* part : {"features", "head"}) {
    const auto* child = children.find(part);
    const auto seq = child ? std::dynamic_pointer_cast<nn::SequentialImpl>(*child) : nullptr;
    if (!seq) throw_internal(fmt::format("network_cost: the model has no Sequential '{}'", part));
    for (auto& element : *seq) {
      const auto y = element.forward(x);
      cost.forward_macs += element_macs(element.ptr(), x, y);
      x = y;
    }
  }
  return cost;
}

double train_step_flops(const NetworkCost& cost, int pairs) {
  return 3.0 * 2.0 * static_cast<double>(cost.forward_macs) * 2.0 * pairs;
}

}  // namespace faceid
