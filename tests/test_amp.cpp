// Mixed precision (train.amp) on the CPU: the loss scaler, the autocast scope, bf16 training,
// fp16 refused without a GPU. The GPU side is tests/cuda/test_cuda.cpp.
#include "catch_torch.hpp"

#include <cmath>
#include <limits>

#include "faceid/core/error.hpp"
#include "faceid/model/checkpoint.hpp"
#include "faceid/train/trainer.hpp"
#include "synth_fixture.hpp"
#include "test_util.hpp"
#include "train/amp.hpp"

using namespace faceid;

TEST_CASE("amp: the loss scaler unscales, skips non-finite steps, backs off and grows", "[amp]") {
  torch::Tensor w = torch::ones({3}, torch::requires_grad());
  LossScaler scaler(true, /*init_scale=*/1024.0, /*growth=*/2.0, /*backoff=*/0.5,
                    /*growth_interval=*/2);
  auto step = [&](float factor) {
    w.mutable_grad() = torch::Tensor();
    (scaler.scaled((w * factor).sum())).backward();
    return scaler.unscale({w});
  };
  REQUIRE(step(3.0f));
  CHECK(torch::allclose(w.grad(), torch::full({3}, 3.0f)));  // d(sum 3w)/dw, scale divided out
  CHECK(scaler.scale() == 1024.0);
  REQUIRE(step(1.0f));
  CHECK(scaler.scale() == 2048.0);  // two clean steps in a row: grown
  // An overflow: the step is refused, the scale halves, the clean-step count restarts.
  CHECK_FALSE(step(std::numeric_limits<float>::infinity()));
  CHECK(scaler.scale() == 1024.0);
  CHECK(scaler.skipped_steps() == 1);
  CHECK_FALSE(step(std::numeric_limits<float>::quiet_NaN()));
  CHECK(scaler.scale() == 512.0);
  REQUIRE(step(1.0f));
  CHECK(scaler.scale() == 512.0);  // one clean step: not yet grown

  LossScaler off(false);
  const torch::Tensor loss = torch::tensor(2.5f);
  CHECK(off.scaled(loss).item<float>() == 2.5f);
  w.mutable_grad() = torch::full({3}, std::numeric_limits<float>::infinity());
  CHECK(off.unscale({w}));  // disabled: never skips (non-finite losses are the trainer's error)
}

TEST_CASE("amp: autocast scope casts inside, restores outside, nests", "[amp]") {
  const torch::Tensor x = torch::randn({2, 4, 8, 8});
  const torch::Tensor k = torch::randn({3, 4, 3, 3});
  CHECK(torch::conv2d(x, k).scalar_type() == torch::kFloat);
  {
    AutocastScope outer(torch::kCPU, torch::kBFloat16);
    CHECK(torch::conv2d(x, k).scalar_type() == torch::kBFloat16);
    {
      AutocastScope none(torch::kCPU, torch::kFloat);  // a no-op scope leaves autocast on
      CHECK(torch::conv2d(x, k).scalar_type() == torch::kBFloat16);
    }
    CHECK(torch::conv2d(x, k).scalar_type() == torch::kBFloat16);
  }
  CHECK(torch::conv2d(x, k).scalar_type() == torch::kFloat);
}

TEST_CASE("amp: train.amp values; fp16 needs a CUDA device", "[amp][config]") {
  CHECK(amp_dtype(AmpMode::none, torch::kCPU) == torch::kFloat);
  CHECK(amp_dtype(AmpMode::bf16, torch::kCPU) == torch::kBFloat16);
  CHECK_THAT(test::bad_input_message([] { amp_dtype(AmpMode::fp16, torch::kCPU); }),
             Catch::Contains("train.amp") && Catch::Contains("CUDA"));
  CHECK_THAT(test::bad_input_message([] { test::smoke_config({"train.amp=fp8"}); }),
             Catch::Contains("train.amp") && Catch::Contains("bf16"));
  const Config fp16 = test::smoke_config({"train.amp=fp16", "train.device=cpu"});
  const TrainOptions o = test::quiet_options(test::scratch_dir("amp-fp16-cpu"));
  CHECK_THAT(test::bad_input_message([&] { run_training(fp16, o); }),
             Catch::Contains("train.amp"));
  CHECK_FALSE(std::filesystem::exists(o.run_dir / "last.pt"));
}

TEST_CASE("amp: bf16 training on the CPU learns and keeps fp32 weights", "[amp][train]") {
  const Config config = test::smoke_config(
      {"train.amp=bf16", "train.device=cpu", "train.epochs=2", "train.steps_per_epoch=4"});
  const TrainOptions o = test::quiet_options(test::scratch_dir("amp-bf16"));
  const TrainResult r = run_training(config, o);
  REQUIRE(r.step_losses.size() == 8);
  for (double l : r.step_losses) CHECK(std::isfinite(l));
  REQUIRE(r.epochs.size() == 2);
  CHECK(std::isfinite(r.epochs.back().eer));
  const LoadedCheckpoint ck = load_checkpoint(o.run_dir / "last.pt", torch::kCPU);
  for (const auto& p : ck.model->parameters()) CHECK(p.scalar_type() == torch::kFloat);
}
