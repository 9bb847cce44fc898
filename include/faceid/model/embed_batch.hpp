// The one place that turns preprocessed crops into embeddings with a model. Used by the
// trainer's validation and by the Embedder (embed, enroll, unlock_sim, evaluate).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "faceid/core/embeddings.hpp"
#include "faceid/model/model.hpp"

namespace faceid {

// Embeds `crops` (each kChannels*size*size floats) in eval mode under InferenceMode, `batch` at a
// time, on `device`. The model's train/eval mode is restored afterwards.
Embeddings embed_crops(EmbeddingNet& model, const std::vector<const float*>& crops, int size,
                       torch::Device device, int batch = 64);

}  // namespace faceid
