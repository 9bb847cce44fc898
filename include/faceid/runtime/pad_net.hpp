// PadNet, the learned part of liveness (faceid/runtime/pad.hpp): a small CNN on the whole
// 4-channel preprocessed crop, [N, 4, S, S] -> [N] logits of bona fide. Four 3x3 conv-BN-ReLU
// blocks of w, 2w, 4w, 4w channels with 2x2 max-pooling between them, global average pooling,
// dropout 0.3 and one linear unit. Fully convolutional; crops larger than 64 px are
// area-averaged down to 64 first, so liveness costs the same ~14M multiply-adds (width 16: 61k
// parameters) whatever the embedder's input side. The mask cues (eye holes, one material
// colour) were measured at 64 px (docs/pad.md).
//
// The one LibTorch header of the runtime's public API: what PAD training (faceid/train/pad_train.hpp)
// needs to fit a network and wrap it in a PadModel. Inference users include pad.hpp only.
// Submodule names ("blocks.*", "dropout", "head.*") are the keys of the model file: renaming
// them breaks saved models.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "faceid/preprocess/preprocess.hpp"

namespace faceid {

inline constexpr int kPadMinWidth = 4;    // PadNet's narrowest first block
inline constexpr int kPadMaxWidth = 128;  // PadNet's widest first block

class PadNetImpl : public torch::nn::Module {
 public:
  // width: channels of the first block. Errc::bad_input when outside [kPadMinWidth, kPadMaxWidth].
  explicit PadNetImpl(int width);

  // x: [N, 4, S, S] float -> [N] logits of bona fide.
  torch::Tensor forward(torch::Tensor x);

  int width() const { return width_; }

 private:
  int width_;
  torch::nn::Sequential blocks_;
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(PadNet);

// A freshly initialised PadNet: seeds LibTorch's global generator with `seed`, then builds it
// (so the weights are a function of (width, seed)). What PadModel::initial and training start from.
PadNet seeded_pad_net(int width, uint64_t seed);

// The probability of bona fide (the sigmoid of the logit) of each crop, in batches of 128, with
// no gradients, in whatever mode the caller left `net` (eval() for scores). Every crop must be of
// side `side`, else Errc::internal.
std::vector<double> pad_net_probabilities(PadNetImpl& net, const std::vector<const FaceCrop*>& crops, int side);

}  // namespace faceid
