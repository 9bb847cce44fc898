// Private to the model layer (and its tests): one SqueezeNet Fire block on its own.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace faceid {

// One Fire block (1x1 squeeze -> concat(1x1 expand, 3x3 expand)), output 2*expand channels at
// the input's spatial size, built exactly as the networks build theirs.
torch::nn::Sequential make_fire(int64_t in_channels, int64_t squeeze, int64_t expand,
                                bool batch_norm);

}  // namespace faceid
