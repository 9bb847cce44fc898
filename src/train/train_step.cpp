#include "faceid/train/train_step.hpp"

#include "faceid/model/loss.hpp"
#include "train/amp.hpp"
#include "train/communicator.hpp"

namespace faceid {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(EmbeddingNet& model,
                                                        const TrainConfig& t,
                                                        const torch::Tensor& classifier) {
  std::vector<torch::Tensor> params = model->parameters();
  if (classifier.defined()) params.push_back(classifier);
  if (t.optimizer == OptimizerKind::sgd) {
    return std::make_unique<torch::optim::SGD>(
        params,
        torch::optim::SGDOptions(t.lr).momentum(t.momentum).weight_decay(t.weight_decay));
  }
  return std::make_unique<torch::optim::Adam>(
      params, torch::optim::AdamOptions(t.lr).weight_decay(t.weight_decay));
}

double train_step(EmbeddingNet& model, torch::optim::Optimizer& optimizer,
                  const torch::Tensor& crops, const torch::Tensor& same,
                  const torch::Tensor& person_a, const torch::Tensor& person_b,
                  const LossConfig& loss, const TrainConfig& train, Communicator* comm,
                  const torch::Tensor& classifier, LossScaler* scaler) {
  const int64_t n = same.size(0);
  torch::Tensor emb;
  {
    AutocastScope autocast(crops.device().type(), amp_dtype(train.amp, crops.device()));
    emb = model->forward(crops);
  }
  emb = emb.to(torch::kFloat);  // the loss and its normalisations in fp32
  const LossOutput out =
      loss.type == LossType::contrastive
          ? contrastive_loss(emb.narrow(0, 0, n), emb.narrow(0, n, n), same, person_a, person_b,
                             loss)
          : margin_loss(emb, torch::cat({person_a, person_b}), classifier, loss);
  optimizer.zero_grad();
  (scaler != nullptr ? scaler->scaled(out.loss) : out.loss).backward();
  std::vector<torch::Tensor> params = model->parameters();
  if (classifier.defined()) params.push_back(classifier);
  // Averaged while still scaled: every rank then sees the same gradients, so all skip together.
  if (comm != nullptr) comm->average_gradients(params);
  if (scaler != nullptr && !scaler->unscale(params)) return out.loss.item<double>();
  if (train.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params, train.grad_clip);
  optimizer.step();
  return out.loss.item<double>();
}

}  // namespace faceid
