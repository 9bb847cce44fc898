#include "catch_torch.hpp"

#include "test_util.hpp"

#include "faceid/core/error.hpp"
#include "faceid/model/model.hpp"
#include "model/fire.hpp"

using faceid::EmbeddingNet;
using faceid::ModelConfig;
using faceid::ModelVariant;

namespace {
using faceid::test::bad_input_message;

ModelConfig model_config(ModelVariant variant, int dim, double dropout = 0.2) {
  ModelConfig m;
  m.variant = variant;
  m.embedding_dim = dim;
  m.dropout = dropout;
  return m;
}


bool has_parameter(EmbeddingNet& net, const std::string& name) {
  return net->named_parameters().find(name) != nullptr;
}

}  // namespace

TEST_CASE("model: Fire block shapes", "[model]") {
  torch::manual_seed(0);
  auto fire_bn = faceid::make_fire(64, 16, 64, true);
  CHECK(fire_bn->forward(torch::randn({2, 64, 13, 13})).sizes() ==
        std::vector<int64_t>{2, 128, 13, 13});
  // 1x1 squeeze + 1x1 and 3x3 expand without biases, three BatchNorms (weight and bias each).
  CHECK(fire_bn->named_parameters().size() == 3 + 6);

  auto fire = faceid::make_fire(96, 48, 48, false);
  CHECK(fire->forward(torch::randn({1, 96, 5, 7})).sizes() == std::vector<int64_t>{1, 96, 5, 7});
  int64_t count = 0;
  for (const auto& p : fire->parameters()) count += p.numel();
  CHECK(count == (96 * 48 + 48) + (48 * 48 + 48) + (48 * 9 * 48 + 48));
}

TEST_CASE("model: exact parameter counts", "[model]") {
  // squeezenet1_1 does not depend on the input side (global average pooling).
  for (int size : {64, 128, 200}) {
    EmbeddingNet net(model_config(ModelVariant::squeezenet1_1, 128), size);
    CHECK(net->parameter_count() == 791680);
  }
  CHECK(EmbeddingNet(model_config(ModelVariant::squeezenet1_1, 64), 128)->parameter_count() ==
        791680 - 64 * 513);
  // faceid_beta: Dense(512 * s * s -> 512) dominates; s = 5, 6, 11 at 112, 128, 200.
  CHECK(EmbeddingNet(model_config(ModelVariant::faceid_beta, 128), 200)->parameter_count() ==
        32039424);
  CHECK(EmbeddingNet(model_config(ModelVariant::faceid_beta, 128), 128)->parameter_count() ==
        9757184);
  CHECK(EmbeddingNet(model_config(ModelVariant::faceid_beta, 128), 112)->parameter_count() ==
        6873600);
}

TEST_CASE("model: submodule names are the checkpoint keys", "[model]") {
  EmbeddingNet net(model_config(ModelVariant::squeezenet1_1, 16), 48);
  CHECK(has_parameter(net, "features.0.weight"));
  CHECK(has_parameter(net, "features.4.squeeze.weight"));
  CHECK(has_parameter(net, "features.4.expand3x3_bn.bias"));
  CHECK(has_parameter(net, "head.3.weight"));
  EmbeddingNet beta(model_config(ModelVariant::faceid_beta, 16), 64);
  CHECK(has_parameter(beta, "features.0.bias"));
  CHECK(has_parameter(beta, "head.1.weight"));
  CHECK(has_parameter(beta, "head.4.weight"));
}

TEST_CASE("model: output is [N, D] with unit norm, both variants", "[model]") {
  torch::manual_seed(1);
  for (const auto& [variant, size] :
       std::vector<std::pair<ModelVariant, int>>{{ModelVariant::squeezenet1_1, 48},
                                                 {ModelVariant::faceid_beta, 64}}) {
    EmbeddingNet net(model_config(variant, 32), size);
    const auto x = torch::randn({3, 4, size, size});
    const auto y = net->forward(x);  // train mode
    CHECK(y.sizes() == std::vector<int64_t>{3, 32});
    CHECK(torch::allclose(y.norm(2, 1), torch::ones(3), 1e-5, 1e-5));
    y.sum().backward();
    for (const auto& p : net->parameters()) {
      REQUIRE(p.grad().defined());
      CHECK(torch::isfinite(p.grad()).all().item<bool>());
    }
  }
}

TEST_CASE("model: eval() is deterministic and takes a batch of one", "[model]") {
  torch::manual_seed(2);
  EmbeddingNet net(model_config(ModelVariant::squeezenet1_1, 16, 0.5), 48);
  net->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 4, 48, 48});
  const auto a = net->embed(x);
  const auto b = net->embed(x);
  CHECK(torch::equal(a, b));
  const auto one = net->embed(x.slice(0, 0, 1));
  CHECK(one.sizes() == std::vector<int64_t>{1, 16});
  CHECK(torch::allclose(one[0], a[0], 1e-5, 1e-6));
  EmbeddingNet beta(model_config(ModelVariant::faceid_beta, 8, 0.5), 64);
  beta->eval();
  const auto x1 = torch::randn({1, 4, 64, 64});
  const auto y = beta->embed(x1);
  CHECK(y.sizes() == std::vector<int64_t>{1, 8});
  CHECK(torch::equal(y, beta->embed(x1)));
}

TEST_CASE("model: the smallest inputs work and smaller ones are refused", "[model]") {
  CHECK(faceid::min_input_size(ModelVariant::squeezenet1_1) == 25);
  CHECK(faceid::min_input_size(ModelVariant::faceid_beta) == 33);
  torch::NoGradGuard no_grad;
  for (const ModelVariant variant : {ModelVariant::squeezenet1_1, ModelVariant::faceid_beta}) {
    const int s = faceid::min_input_size(variant);
    EmbeddingNet net(model_config(variant, 8), s);
    net->eval();
    CHECK(net->forward(torch::randn({1, 4, s, s})).sizes() == std::vector<int64_t>{1, 8});
  }
  // Odd sides exercise the ceil/floor pooling arithmetic against the real layers.
  for (int s : {57, 101, 113}) {
    EmbeddingNet beta(model_config(ModelVariant::faceid_beta, 8), s);
    beta->eval();
    CHECK(beta->forward(torch::randn({1, 4, s, s})).sizes() == std::vector<int64_t>{1, 8});
  }
  CHECK(bad_input_message([] { EmbeddingNet(model_config(ModelVariant::squeezenet1_1, 8), 24); }) ==
        "preprocess.input_size: 24 is too small for model.variant squeezenet1_1 (minimum 25)");
  CHECK(bad_input_message([] { EmbeddingNet(model_config(ModelVariant::faceid_beta, 8), 32); }) ==
        "preprocess.input_size: 32 is too small for model.variant faceid_beta (minimum 33)");
  CHECK(bad_input_message([] {
          EmbeddingNet net(model_config(ModelVariant::squeezenet1_1, 8), 48);
          net->forward(torch::zeros({1, 3, 48, 48}));
        }) == "EmbeddingNet: expected input [N, 4, 48, 48], got [1, 3, 48, 48]");
}

TEST_CASE("model: distance is NaN-safe", "[model]") {
  const auto a = torch::tensor({{0.6f, 0.8f}, {1.0f, 0.0f}});
  const auto b = torch::tensor({{0.6f, 0.8f}, {0.0f, 1.0f}});
  const auto d = EmbeddingNet::Impl::distance(a, b);
  CHECK(d[0].item<float>() == Approx(0.0).margin(1e-5));
  CHECK(d[1].item<float>() == Approx(std::sqrt(2.0)).epsilon(1e-6));
}
