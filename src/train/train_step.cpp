#include "train/train_step.hpp"

#include "faceid/model/loss.hpp"
#include "train/communicator.hpp"

namespace faceid {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(EmbeddingNet& model,
                                                        const TrainConfig& t) {
  if (t.optimizer == "sgd") {
    return std::make_unique<torch::optim::SGD>(
        model->parameters(),
        torch::optim::SGDOptions(t.lr).momentum(t.momentum).weight_decay(t.weight_decay));
  }
  return std::make_unique<torch::optim::Adam>(
      model->parameters(), torch::optim::AdamOptions(t.lr).weight_decay(t.weight_decay));
}

double train_step(EmbeddingNet& model, torch::optim::Optimizer& optimizer,
                  const torch::Tensor& crops, const torch::Tensor& same,
                  const torch::Tensor& person_a, const torch::Tensor& person_b,
                  const LossConfig& loss, const TrainConfig& train, Communicator* comm) {
  const int64_t n = same.size(0);
  const torch::Tensor emb = model->forward(crops);
  const LossOutput out = contrastive_loss(emb.narrow(0, 0, n), emb.narrow(0, n, n), same,
                                          person_a, person_b, loss);
  optimizer.zero_grad();
  out.loss.backward();
  if (comm != nullptr) comm->average_gradients(model->parameters());
  if (train.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), train.grad_clip);
  optimizer.step();
  return out.loss.item<double>();
}

}  // namespace faceid
