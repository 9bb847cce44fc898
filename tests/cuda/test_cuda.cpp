// [cuda] tests: the GPU paths, run when a CUDA device is present (scripts/gpu_check.sh runs them
// on the GPU machine). Without one, each test prints why and exits 4, which CTest reports as
// skipped (SKIP_RETURN_CODE in CMakeLists.txt). Kept in their own executable, faceid_cuda_tests,
// so that an early exit never hides the CPU suite.
#include "catch_torch.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <c10/core/impl/DeviceGuardImplInterface.h>

#include "faceid/model/device.hpp"
#include "faceid/core/app.hpp"
#include "faceid/runtime/embedder.hpp"
#include "faceid/model/checkpoint.hpp"
#include "faceid/train/trainer.hpp"
#include "synth_fixture.hpp"

using namespace faceid;

namespace {

void require_cuda_or_skip() {
  if (torch::cuda::is_available()) return;
  std::printf("skipped: no CUDA device visible to this LibTorch (%s)\n",
              c10::impl::hasDeviceGuardImpl(c10::DeviceType::CUDA)
                  ? "a CUDA build, no GPU or driver on this machine"
                  : "a CPU-only build");
  std::fflush(stdout);
  std::_Exit(4);
}

// `count` random RGB-D crops of side `side` (values in [0, 1), as the preprocessing gives).
std::vector<torch::Tensor> some_crops(int side, int count) {
  torch::manual_seed(3);
  std::vector<torch::Tensor> crops;
  for (int i = 0; i < count; ++i) crops.push_back(torch::rand({4, side, side}).contiguous());
  return crops;
}

}  // namespace

TEST_CASE("cuda: the shipped model embeds on cuda:0 as on the CPU (TF32 off)", "[cuda]") {
  require_cuda_or_skip();
  const Embedder cpu(shipped_model_path(), "cpu");
  const Embedder gpu(shipped_model_path(), "cuda:0");
  const auto crops = some_crops(cpu.input_size(), 32);
  std::vector<const float*> raw;
  for (const auto& c : crops) raw.push_back(c.data_ptr<float>());
  const Embeddings a = cpu.embed(raw, 16);
  const Embeddings b = gpu.embed(raw, 16);
  REQUIRE(a.rows() == b.rows());
  // Unit vectors: a distance error of 1e-4 is far below the threshold's resolution.
  CHECK((a - b).cwiseAbs().maxCoeff() < 1e-4f);
  CHECK_FALSE(at::globalContext().allowTF32CuDNN());
}

TEST_CASE("cuda: training on cuda:0 with amp none, bf16 and fp16 gives finite losses", "[cuda]") {
  require_cuda_or_skip();
  for (const char* amp : {"none", "bf16", "fp16"}) {
    INFO("train.amp=" << amp);
    const Config config = test::smoke_config({"train.device=cuda:0", std::string("train.amp=") + amp,
                                              "train.epochs=1", "train.steps_per_epoch=4",
                                              "train.cudnn_benchmark=true"});
    const TrainResult r = run_training(config, test::quiet_options(test::scratch_dir(std::string("cuda-") + amp)));
    REQUIRE(r.step_losses.size() == 4);
    for (double l : r.step_losses) CHECK(std::isfinite(l));
    CHECK(std::isfinite(r.epochs.back().eer));
    // The checkpoint loads on the CPU: no tensor of it is left on the GPU.
    const LoadedCheckpoint ck = load_checkpoint(r.last_checkpoint, torch::kCPU);
    for (const auto& p : ck.model->parameters()) CHECK(p.device().is_cpu());
  }
}

TEST_CASE("cuda: --resume on cuda:0 restores the GPU generator", "[cuda]") {
  require_cuda_or_skip();
  // Dropout draws from the GPU generator: without its state in the checkpoint the resumed
  // epoch would draw other masks. cuDNN's backward is not bit-exact, so compare closely.
  const Config config = test::smoke_config({"train.device=cuda:0", "train.epochs=2",
                                            "train.steps_per_epoch=3", "model.dropout=0.5"});
  const TrainResult full = run_training(config, test::quiet_options(test::scratch_dir("cuda-resume-full")));
  const auto dir = test::scratch_dir("cuda-resume");
  const std::vector<double> joined = test::losses_with_resume(config, dir);
  CHECK(read_checkpoint_meta(dir / "last.pt").cuda_rng_state.defined());
  REQUIRE(joined.size() == full.step_losses.size());
  for (size_t i = 0; i < joined.size(); ++i) {
    CHECK(joined[i] == Approx(full.step_losses[i]).epsilon(1e-3));
  }
}

TEST_CASE("cuda: the current device follows the training device", "[cuda]") {
  require_cuda_or_skip();
  const torch::Device last(torch::kCUDA,
                           static_cast<c10::DeviceIndex>(torch::cuda::device_count() - 1));
  configure_cuda(last, false, false);
  CHECK(c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->getDevice() == last);
  configure_cuda(torch::Device(torch::kCUDA, 0), false, false);
}
