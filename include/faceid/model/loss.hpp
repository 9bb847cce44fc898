// Contrastive loss (Hadsell, Chopra & LeCun 2006) over pairs of embeddings, with optional
// in-batch mining.
//
// Label convention: y = 1 means the two embeddings are the SAME person (genuine pair), y = 0 a
// different person (impostor pair). (The Keras proof of concept used the inverse.)
//   L(d, y) = y * d^2 + (1 - y) * max(margin - d, 0)^2,  averaged over the pairs used,
// d the Euclidean distance. Embeddings are L2-normalised, so d is in [0, 2].
//
// Distances are NaN-safe: d = sqrt(max(s, 0) + kDistanceEps) with s the squared distance, so the
// gradient stays finite (and is 0) at a == b; torch::cdist and a plain sqrt are not.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "faceid/core/config.hpp"

namespace faceid {

// Added under the square root of every distance (d(a, a) = 1e-6).
constexpr double kDistanceEps = 1e-12;

// Distance of matching rows: [N, D] x [N, D] -> [N].
torch::Tensor pair_distance(const torch::Tensor& a, const torch::Tensor& b);

// All distances between the rows of x [M, D] and y [K, D] -> [M, K], from the Gram matrix
// (|x|^2 + |y|^2 - 2 x.y, clamped at 0), NaN-safe like pair_distance.
torch::Tensor distance_matrix(const torch::Tensor& x, const torch::Tensor& y);

// Mean contrastive loss of distances d [N] with labels y [N] (1 = same person).
torch::Tensor contrastive_loss_from_distance(const torch::Tensor& d, const torch::Tensor& y,
                                             double margin);

struct LossOutput {
  torch::Tensor loss;              // scalar, differentiable
  double mean_pos_distance = 0.0;  // mean d over the genuine pairs used (0 when none)
  double mean_neg_distance = 0.0;  // mean d over the impostor pairs used (0 when none)
  int64_t pairs = 0;               // number of loss terms averaged
  int64_t positive_pairs = 0;      // of which genuine
  int64_t negative_pairs = 0;      // of which impostor
};

// The loss of one batch of N sampled pairs (emb_a[i], emb_b[i]) with labels `same` [N]
// (bool or 0/1) and person ids ids_a, ids_b [N] int64. config.mining selects the terms:
//   none        the N sampled pairs (ids may be undefined tensors);
//   batch_all   every unordered pair among the 2N embeddings (self-pairs excluded), which
//               includes the sampled pairs: 2N(2N-1)/2 terms;
//   batch_hard  the N sampled pairs, plus for every one of the 2N embeddings (as anchor) each
//               of its positives (other embeddings of the same person, so an unordered
//               positive pair counts twice) and its hardest negative (the nearest embedding of
//               another person), when it has one.
// With mining, `same` must agree with ids_a == ids_b. Throws Errc::internal on inconsistent
// shapes or labels (the caller's bug, not the user's input).
LossOutput contrastive_loss(const torch::Tensor& emb_a, const torch::Tensor& emb_b,
                            const torch::Tensor& same, const torch::Tensor& ids_a,
                            const torch::Tensor& ids_b, const LossConfig& config);

// Margin losses over identities (config.type arcface | cosface). `emb` [N, D] are L2-normalised
// embeddings, `ids` [N] int64 class indices in [0, C), `weight` [C, D] the classifier (one row per
// training identity, normalised here). With cos_j the cosine to class j and y the target class:
//   arcface  logit_y = s cos(theta_y + m) (Deng et al. 2019; past theta_y = pi - m it continues
//            as s (cos theta_y - m sin m), monotone), logit_j = s cos_j
//   cosface  logit_y = s (cos_y - m) (Wang et al. 2018)
// and the loss is the mean cross-entropy of the logits. The reported distances are the mean
// Euclidean distances of the in-batch genuine and impostor pairs (self-pairs excluded).
LossOutput margin_loss(const torch::Tensor& emb, const torch::Tensor& ids,
                       const torch::Tensor& weight, const LossConfig& config);

// A fresh classifier for `classes` identities of `dim`-d embeddings: rows uniform on the sphere
// (drawn from the torch generator, so seeded by train.seed).
torch::Tensor init_margin_classifier(int64_t classes, int64_t dim);

}  // namespace faceid
