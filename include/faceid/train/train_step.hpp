// Private: one optimiser step of the Siamese network, shared by the trainer and the training-step
// benchmark so that what the benchmark times is what training runs.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "faceid/core/config.hpp"
#include "faceid/model/model.hpp"

namespace faceid {

class Communicator;
class LossScaler;

// The optimiser of train.optimizer (adam | sgd) over the model's parameters, then `classifier`
// when defined (the margin losses' identity classifier: last, so that the model's parameters keep
// their indices in the saved optimiser state).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(EmbeddingNet& model,
                                                        const TrainConfig& train,
                                                        const torch::Tensor& classifier = {});

// One step on a batch of n pairs: `crops` is [2n, C, S, S] (the n first crops then the n second
// ones) on the model's device, `same`, `person_a`, `person_b` are [n]. Forward, the loss of
// loss.type (contrastive on the pairs; arcface / cosface on the 2n crops with their person ids
// against `classifier` [C, D], which it then also updates),
// backward, gradients averaged over the ranks when `comm` is given (data-parallel), global-norm
// clipping at train.grad_clip (0 = off), optimiser step. With train.amp the forward pass runs
// under autocast (the loss in fp32); with `scaler` enabled (fp16) backward runs on the scaled
// loss and a step with non-finite gradients is skipped. Returns the loss of this rank's batch
// (not checked for finiteness: callers say what diverged).
double train_step(EmbeddingNet& model, torch::optim::Optimizer& optimizer,
                  const torch::Tensor& crops, const torch::Tensor& same,
                  const torch::Tensor& person_a, const torch::Tensor& person_b,
                  const LossConfig& loss, const TrainConfig& train, Communicator* comm = nullptr,
                  const torch::Tensor& classifier = {}, LossScaler* scaler = nullptr);

}  // namespace faceid
