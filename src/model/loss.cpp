#include "faceid/model/loss.hpp"

#include <cmath>

#include <fmt/format.h>

#include "faceid/core/error.hpp"

namespace faceid {
namespace {

std::string shape_string(const torch::Tensor& x) {
  if (!x.defined()) return "undefined";
  return c10::str(x.sizes());
}

torch::Tensor safe_sqrt(const torch::Tensor& squared) {
  return torch::sqrt(squared.clamp_min(0.0) + kDistanceEps);
}

// Per-pair loss terms y d^2 + (1 - y) max(margin - d, 0)^2, y already in d's dtype.
torch::Tensor contrastive_terms(const torch::Tensor& d, const torch::Tensor& y, double margin) {
  return y * d.square() + (1.0 - y) * torch::relu(margin - d).square();
}

double mean_or_zero(const torch::Tensor& values) {
  return values.numel() == 0 ? 0.0 : values.mean().item<double>();
}

void check_pairs(const torch::Tensor& emb_a, const torch::Tensor& emb_b,
                 const torch::Tensor& same) {
  if (!emb_a.defined() || emb_a.dim() != 2 || emb_a.size(0) < 1 || !emb_b.defined() ||
      emb_b.sizes() != emb_a.sizes()) {
    throw_internal(fmt::format("contrastive_loss: expected two [N, D] embeddings, got {} and {}",
                               shape_string(emb_a), shape_string(emb_b)));
  }
  if (!same.defined() || same.dim() != 1 || same.size(0) != emb_a.size(0)) {
    throw_internal(fmt::format("contrastive_loss: expected labels [{}], got {}", emb_a.size(0),
                               shape_string(same)));
  }
}

void check_ids(const torch::Tensor& ids_a, const torch::Tensor& ids_b, const torch::Tensor& same,
               int64_t n) {
  for (const auto* ids : {&ids_a, &ids_b}) {
    if (!ids->defined() || ids->dim() != 1 || ids->size(0) != n ||
        ids->scalar_type() != torch::kInt64) {
      throw_internal(fmt::format("contrastive_loss: mining needs int64 person ids [{}], got {}", n,
                                 shape_string(*ids)));
    }
  }
  if (!torch::equal(ids_a.eq(ids_b).to(same.device()), same.to(torch::kBool))) {
    throw_internal("contrastive_loss: labels disagree with ids_a == ids_b");
  }
}

}  // namespace

torch::Tensor pair_distance(const torch::Tensor& a, const torch::Tensor& b) {
  return safe_sqrt((a - b).square().sum(-1));
}

torch::Tensor distance_matrix(const torch::Tensor& x, const torch::Tensor& y) {
  const auto xx = x.square().sum(1, /*keepdim=*/true);      // [M, 1]
  const auto yy = y.square().sum(1, /*keepdim=*/true).t();  // [1, K]
  return safe_sqrt(xx + yy - 2.0 * torch::mm(x, y.t()));
}

torch::Tensor contrastive_loss_from_distance(const torch::Tensor& d, const torch::Tensor& y,
                                             double margin) {
  return contrastive_terms(d, y.to(d.dtype()), margin).mean();
}

LossOutput contrastive_loss(const torch::Tensor& emb_a, const torch::Tensor& emb_b,
                            const torch::Tensor& same, const torch::Tensor& ids_a,
                            const torch::Tensor& ids_b, const LossConfig& config) {
  check_pairs(emb_a, emb_b, same);
  const int64_t n = emb_a.size(0);
  const double margin = config.margin;
  const auto y_bool = same.to(torch::kBool);

  // Every term as (distance, is_positive), concatenated at the end.
  std::vector<torch::Tensor> distances;
  std::vector<torch::Tensor> positive;

  if (config.mining != Mining::batch_all) {  // none, batch_hard
    distances.push_back(pair_distance(emb_a, emb_b));
    positive.push_back(y_bool);
  }
  if (config.mining != Mining::none) {  // batch_all, batch_hard
    check_ids(ids_a, ids_b, same, n);
    const auto all = torch::cat({emb_a, emb_b});                     // [2N, D]
    const auto ids = torch::cat({ids_a, ids_b}).to(all.device());    // [2N]
    const auto dist = distance_matrix(all, all);                     // [2N, 2N]
    const auto same_person = ids.unsqueeze(1).eq(ids.unsqueeze(0));  // [2N, 2N]
    const auto not_self = torch::eye(2 * n, same_person.options()).logical_not();
    if (config.mining == Mining::batch_all) {
      const auto upper = torch::ones_like(same_person).triu(1);
      distances.push_back(dist.masked_select(upper));
      positive.push_back(same_person.masked_select(upper));
    } else {
      const auto pos_mask = same_person.logical_and(not_self);
      const auto neg_mask = same_person.logical_not();
      const auto pos_d = dist.masked_select(pos_mask);
      distances.push_back(pos_d);
      positive.push_back(torch::ones(pos_d.size(0), pos_mask.options()));
      const auto has_neg = neg_mask.any(1);
      const auto hardest = std::get<0>(dist.masked_fill(neg_mask.logical_not(), INFINITY).min(1));
      const auto neg_d = hardest.masked_select(has_neg);
      distances.push_back(neg_d);
      positive.push_back(torch::zeros(neg_d.size(0), pos_mask.options()));
    }
  }

  const auto d = torch::cat(distances);
  const auto is_pos = torch::cat(positive);
  LossOutput out;
  out.loss = contrastive_terms(d, is_pos.to(d.dtype()), margin).mean();
  out.pairs = d.size(0);
  out.positive_pairs = is_pos.sum().item<int64_t>();
  out.negative_pairs = out.pairs - out.positive_pairs;
  const auto d_detached = d.detach();
  out.mean_pos_distance = mean_or_zero(d_detached.masked_select(is_pos));
  out.mean_neg_distance = mean_or_zero(d_detached.masked_select(is_pos.logical_not()));
  return out;
}

LossOutput margin_loss(const torch::Tensor& emb, const torch::Tensor& ids,
                       const torch::Tensor& weight, const LossConfig& config) {
  if (!emb.defined() || emb.dim() != 2 || emb.size(0) < 1) {
    throw_internal(fmt::format("margin_loss: expected [N, D] embeddings, got {}", shape_string(emb)));
  }
  if (!weight.defined() || weight.dim() != 2 || weight.size(1) != emb.size(1)) {
    throw_internal(fmt::format("margin_loss: classifier {} does not fit embeddings {}",
                               shape_string(weight), shape_string(emb)));
  }
  if (!ids.defined() || ids.dim() != 1 || ids.size(0) != emb.size(0) ||
      ids.scalar_type() != torch::kInt64) {
    throw_internal(fmt::format("margin_loss: expected int64 ids [{}], got {}", emb.size(0),
                               shape_string(ids)));
  }
  const auto labels = ids.to(emb.device());
  // Checked on the CPU only: on a GPU the check would cost a device sync every step.
  if (labels.is_cpu() &&
      (labels.min().item<int64_t>() < 0 || labels.max().item<int64_t>() >= weight.size(0))) {
    throw_internal(fmt::format("margin_loss: ids outside [0, {})", weight.size(0)));
  }
  const double m = config.margin;
  const double s = config.scale;
  const auto w = torch::nn::functional::normalize(
      weight, torch::nn::functional::NormalizeFuncOptions().dim(1).eps(1e-12));
  const auto cosine = torch::mm(emb, w.t()).clamp(-1.0, 1.0);           // [N, C]
  const auto target_cos = cosine.gather(1, labels.unsqueeze(1));         // [N, 1]
  torch::Tensor target_logit;
  if (config.type == LossType::arcface) {
    // cos(theta + m) = cos cos m - sin sin m; the clamp keeps sqrt's gradient finite at |cos| = 1.
    const auto sine = torch::sqrt((1.0 - target_cos.square()).clamp_min(1e-9));
    const auto with_margin = target_cos * std::cos(m) - sine * std::sin(m);
    const double threshold = std::cos(M_PI - m);
    target_logit = torch::where(target_cos > threshold, with_margin, target_cos - std::sin(M_PI - m) * m);
  } else if (config.type == LossType::cosface) {
    target_logit = target_cos - m;
  } else {
    throw_internal(
        fmt::format("margin_loss: loss.type '{}' is not a margin loss", to_string(config.type)));
  }
  const auto logits = s * cosine.scatter(1, labels.unsqueeze(1), target_logit);
  LossOutput out;
  out.loss = torch::nn::functional::cross_entropy(logits, labels);
  const auto e = emb.detach();
  const int64_t n = e.size(0);
  const auto d = distance_matrix(e, e);
  const auto same = labels.unsqueeze(1).eq(labels.unsqueeze(0));
  const auto not_self = torch::eye(n, same.options()).logical_not();
  const auto pos = d.masked_select(same.logical_and(not_self));
  const auto neg = d.masked_select(same.logical_not());
  out.pairs = n;
  out.positive_pairs = pos.numel() / 2;
  out.negative_pairs = neg.numel() / 2;
  out.mean_pos_distance = mean_or_zero(pos);
  out.mean_neg_distance = mean_or_zero(neg);
  return out;
}

torch::Tensor init_margin_classifier(int64_t classes, int64_t dim) {
  if (classes < 1 || dim < 1) {
    throw_internal(fmt::format("init_margin_classifier: {} classes of dimension {}", classes, dim));
  }
  return torch::nn::functional::normalize(
      torch::randn({classes, dim}), torch::nn::functional::NormalizeFuncOptions().dim(1));
}

}  // namespace faceid
