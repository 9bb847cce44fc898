#include "catch_torch.hpp"

#include "faceid/core/error.hpp"
#include "faceid/model/loss.hpp"

using faceid::LossConfig;
using faceid::Mining;

namespace {

LossConfig loss_config(Mining mining, double margin = 1.0) {
  LossConfig c;
  c.mining = mining;
  c.margin = margin;
  return c;
}

bool all_finite(const torch::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }

// The hand-made batch of the mining tests: two pairs, 2-d embeddings (not normalised: the loss
// does not need it). Embeddings in order a0, a1, b0, b1 = e0..e3:
//   e0 (0, 0)     person 0      e2 (0, 0.8)    person 0   -> sampled pair 0: genuine, d = 0.8
//   e1 (0.6, 0)   person 1      e3 (0.6, 0.8)  person 2   -> sampled pair 1: impostor, d = 0.8
// All distances: d01 = 0.6, d02 = 0.8, d03 = 1.0, d12 = 1.0, d13 = 0.8, d23 = 0.6.
struct Batch {
  torch::Tensor a = torch::tensor({{0.0f, 0.0f}, {0.6f, 0.0f}});
  torch::Tensor b = torch::tensor({{0.0f, 0.8f}, {0.6f, 0.8f}});
  torch::Tensor same = torch::tensor({true, false});
  torch::Tensor ids_a = torch::tensor({0, 1}, torch::kInt64);
  torch::Tensor ids_b = torch::tensor({0, 2}, torch::kInt64);
};

}  // namespace

TEST_CASE("loss: distances", "[loss]") {
  const auto a = torch::tensor({{3.0f, 4.0f}, {1.0f, 1.0f}});
  const auto b = torch::tensor({{0.0f, 0.0f}, {1.0f, 1.0f}});
  const auto d = faceid::pair_distance(a, b);
  CHECK(d[0].item<float>() == Approx(5.0));
  CHECK(d[1].item<float>() == Approx(1e-6).margin(1e-7));  // sqrt(eps)
  const auto m = faceid::distance_matrix(a, b);
  REQUIRE(m.sizes() == std::vector<int64_t>{2, 2});
  CHECK(m[0][0].item<float>() == Approx(5.0));
  CHECK(m[0][1].item<float>() == Approx(std::sqrt(13.0)));
  CHECK(m[1][0].item<float>() == Approx(std::sqrt(2.0)));
  CHECK(m[1][1].item<float>() == Approx(0.0).margin(1e-3));
}

TEST_CASE("loss: hand-computed contrastive values", "[loss]") {
  // y = 1: d^2. y = 0 inside the margin: (m - d)^2; outside: 0.
  const auto d = torch::tensor({0.3f, 0.4f, 1.5f});
  CHECK(faceid::contrastive_loss_from_distance(d.slice(0, 0, 1), torch::tensor({1}), 1.0)
            .item<float>() == Approx(0.09));
  CHECK(faceid::contrastive_loss_from_distance(d.slice(0, 1, 2), torch::tensor({0}), 1.0)
            .item<float>() == Approx(0.36));
  CHECK(faceid::contrastive_loss_from_distance(d.slice(0, 2, 3), torch::tensor({0}), 1.0)
            .item<float>() == Approx(0.0).margin(1e-12));
  CHECK(faceid::contrastive_loss_from_distance(d, torch::tensor({1, 0, 0}), 1.0).item<float>() ==
        Approx((0.09 + 0.36 + 0.0) / 3));
  // A larger margin makes the far impostor count: (2 - 1.5)^2 = 0.25.
  CHECK(faceid::contrastive_loss_from_distance(d.slice(0, 2, 3), torch::tensor({false}), 2.0)
            .item<float>() == Approx(0.25));
}

TEST_CASE("loss: the gradient stays finite at zero distance", "[loss]") {
  for (const Mining mining : {Mining::none, Mining::batch_all, Mining::batch_hard}) {
    auto a = torch::tensor({{0.6f, 0.8f}, {1.0f, 0.0f}}).requires_grad_(true);
    auto b = torch::tensor({{0.6f, 0.8f}, {1.0f, 0.0f}}).requires_grad_(true);
    // Pair 0 genuine, pair 1 impostor (another person's identical embedding).
    const auto out = faceid::contrastive_loss(
        a, b, torch::tensor({true, false}), torch::tensor({0, 1}, torch::kInt64),
        torch::tensor({0, 2}, torch::kInt64), loss_config(mining));
    out.loss.backward();
    INFO(faceid::to_string(mining));
    CHECK(all_finite(out.loss));
    CHECK(all_finite(a.grad()));
    CHECK(all_finite(b.grad()));
  }
  auto x = torch::randn({4, 8}).requires_grad_(true);
  faceid::distance_matrix(x, x).sum().backward();
  CHECK(all_finite(x.grad()));
}

TEST_CASE("loss: mining on a hand-made batch", "[loss]") {
  const Batch batch;
  auto run = [&](Mining mining) {
    return faceid::contrastive_loss(batch.a, batch.b, batch.same, batch.ids_a, batch.ids_b,
                                    loss_config(mining));
  };
  SECTION("none: the two sampled pairs") {
    const auto out = run(Mining::none);
    CHECK(out.pairs == 2);
    CHECK(out.positive_pairs == 1);
    CHECK(out.negative_pairs == 1);
    CHECK(out.loss.item<float>() == Approx((0.64 + 0.04) / 2));
    CHECK(out.mean_pos_distance == Approx(0.8));
    CHECK(out.mean_neg_distance == Approx(0.8));
  }
  SECTION("batch_all: all six unordered pairs of e0..e3") {
    const auto out = run(Mining::batch_all);
    CHECK(out.pairs == 6);
    CHECK(out.positive_pairs == 1);  // (e0, e2)
    CHECK(out.negative_pairs == 5);
    // 0.64 (d02) + 0.16 (d01) + 0 (d03) + 0 (d12) + 0.04 (d13) + 0.16 (d23)
    CHECK(out.loss.item<float>() == Approx(1.0 / 6).epsilon(1e-5));
    CHECK(out.mean_pos_distance == Approx(0.8).epsilon(1e-5));
    CHECK(out.mean_neg_distance == Approx((0.6 + 1.0 + 1.0 + 0.8 + 0.6) / 5).epsilon(1e-5));
  }
  SECTION("batch_hard: sampled pairs, each anchor's positives and hardest negative") {
    const auto out = run(Mining::batch_hard);
    // Sampled: 0.64 + 0.04. Positives: e0->e2, e2->e0: 0.64 each. Hardest negatives: e0->e1,
    // e1->e0, e2->e3, e3->e2, all at 0.6: 0.16 each.
    CHECK(out.pairs == 8);
    CHECK(out.positive_pairs == 3);
    CHECK(out.negative_pairs == 5);
    CHECK(out.loss.item<float>() == Approx(2.6 / 8).epsilon(1e-5));
    CHECK(out.mean_pos_distance == Approx(0.8).epsilon(1e-5));
    CHECK(out.mean_neg_distance == Approx((0.8 + 4 * 0.6) / 5).epsilon(1e-5));
  }
}

TEST_CASE("loss: batch_all matches a pair-by-pair loop", "[loss]") {
  torch::manual_seed(3);
  const int64_t n = 5;
  const auto a = torch::randn({n, 6});
  const auto b = torch::randn({n, 6});
  const auto ids_a = torch::tensor({0, 1, 2, 3, 1}, torch::kInt64);
  const auto ids_b = torch::tensor({0, 2, 2, 1, 1}, torch::kInt64);
  const auto same = ids_a.eq(ids_b);
  const double margin = 1.5;
  const auto out =
      faceid::contrastive_loss(a, b, same, ids_a, ids_b, loss_config(Mining::batch_all, margin));
  const auto all = torch::cat({a, b});
  const auto ids = torch::cat({ids_a, ids_b});
  double sum = 0;
  int64_t count = 0;
  int64_t positives = 0;
  for (int64_t i = 0; i < 2 * n; ++i) {
    for (int64_t j = i + 1; j < 2 * n; ++j) {
      const double d = (all[i] - all[j]).norm().item<double>();
      const bool pos = ids[i].item<int64_t>() == ids[j].item<int64_t>();
      sum += pos ? d * d : std::pow(std::max(margin - d, 0.0), 2);
      ++count;
      positives += pos;
    }
  }
  CHECK(out.pairs == count);
  CHECK(out.pairs == 2 * n * (2 * n - 1) / 2);
  CHECK(out.positive_pairs == positives);
  CHECK(out.loss.item<double>() == Approx(sum / count).epsilon(1e-4));
}

TEST_CASE("loss: edge cases and misuse", "[loss]") {
  // One person only: batch_hard finds no negative for any anchor.
  const auto a = torch::tensor({{0.0f, 0.0f}});
  const auto b = torch::tensor({{0.0f, 0.5f}});
  const auto ids = torch::tensor({4}, torch::kInt64);
  const auto out = faceid::contrastive_loss(a, b, torch::tensor({true}), ids, ids,
                                            loss_config(Mining::batch_hard));
  CHECK(out.pairs == 3);  // the sampled pair and each side's positive
  CHECK(out.negative_pairs == 0);
  CHECK(out.mean_neg_distance == 0.0);
  CHECK(out.loss.item<float>() == Approx(0.25));

  auto code_of = [](const std::function<void()>& fn) {
    try {
      fn();
    } catch (const faceid::Error& e) {
      return e.code();
    }
    FAIL("expected faceid::Error");
    return faceid::Errc::internal;
  };
  // Labels that contradict the ids, ids missing for mining, mismatched shapes.
  CHECK(code_of([&] {
          faceid::contrastive_loss(a, b, torch::tensor({false}), ids, ids,
                                   loss_config(Mining::batch_all));
        }) == faceid::Errc::internal);
  CHECK(code_of([&] {
          faceid::contrastive_loss(a, b, torch::tensor({true}), torch::Tensor(), torch::Tensor(),
                                   loss_config(Mining::batch_hard));
        }) == faceid::Errc::internal);
  CHECK(code_of([&] {
          faceid::contrastive_loss(a, torch::zeros({2, 2}), torch::tensor({true}), ids, ids,
                                   loss_config(Mining::none));
        }) == faceid::Errc::internal);
  // none needs no ids.
  CHECK(faceid::contrastive_loss(a, b, torch::tensor({true}), torch::Tensor(), torch::Tensor(),
                                 loss_config(Mining::none))
            .loss.item<float>() == Approx(0.25));
}
