// The embedding network: a 4-channel (RGB + depth) face crop [N, 4, S, S] -> an L2-normalised
// embedding [N, D]. Two variants (ModelConfig::variant):
//   squeezenet1_1 (default)  SqueezeNet 1.1 features with a 4-channel stem and BatchNorm after
//                            every convolution, global average pooling, Linear(512, D).
//   faceid_beta              the Keras proof of concept: SqueezeNet-like trunk, Flatten,
//                            Dense 512, Dense D (its size depends on the input side).
// Submodule names are checkpoint keys ("features.*", "head.*"): renaming breaks old checkpoints.
// Architecture tables and parameter counts: docs/model.md.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "faceid/core/config.hpp"

namespace faceid {

class EmbeddingNetImpl : public torch::nn::Module {
 public:
  // Builds `model.variant` for inputs of side `input_size`. Throws Errc::bad_input for
  // embedding_dim < 1, dropout outside [0, 1) or an input too small for the variant.
  EmbeddingNetImpl(const ModelConfig& model, int input_size);

  // x: [N, 4, S, S] float with S == input_size() -> [N, D], every row of norm 1.
  torch::Tensor forward(const torch::Tensor& x);
  // Same as forward (the name inference code reads best with).
  torch::Tensor embed(const torch::Tensor& x) { return forward(x); }

  // Euclidean distance of matching rows, [N, D] x [N, D] -> [N]; NaN-safe at 0 (pair_distance).
  static torch::Tensor distance(const torch::Tensor& a, const torch::Tensor& b);

  // Number of trainable scalars (parameters, not buffers).
  int64_t parameter_count() const;

  const ModelConfig& model_config() const { return config_; }
  int input_size() const { return input_size_; }

 private:
  ModelConfig config_;
  int input_size_;
  torch::nn::Sequential features_{nullptr};  // convolutional trunk: [N,4,S,S] -> [N,512,s,s]
  torch::nn::Sequential head_{nullptr};      // [N,512,s,s] -> [N,D] before normalisation
};
TORCH_MODULE(EmbeddingNet);

// The smallest input side `variant` accepts.
int min_input_size(ModelVariant variant);

}  // namespace faceid
