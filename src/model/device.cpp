#include "faceid/model/device.hpp"

#include <thread>

#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <fmt/format.h>

#include "faceid/core/error.hpp"

namespace faceid {

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::kCPU;
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available()) {
      throw_bad_input(fmt::format(
          "train.device: '{}' requested but this LibTorch build or machine has no CUDA device "
          "(use cpu or auto)", name));
    }
    const int index = name == "cuda" ? 0 : std::stoi(name.substr(5));
    if (index >= static_cast<int>(torch::cuda::device_count())) {
      throw_bad_input(fmt::format("train.device: '{}' out of range: {} CUDA device(s)", name,
                                  torch::cuda::device_count()));
    }
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw_bad_input(fmt::format("train.device: expected auto|cpu|cuda|cuda:N, got '{}'", name));
}

int configure_cpu_threads(int threads, int processes_on_machine) {
  // threads 0: this process's share of the machine's cores, so that N ranks on one machine do
  // not each start one thread per core.
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int n = threads > 0 ? threads : std::max(1, cores / std::max(1, processes_on_machine));
  torch::set_num_threads(n);
  // Flush denormals to zero on the CPU. Late in training, optimiser moments and gradients of
  // rarely-active weights drift into the denormal range, where every multiply takes ~100x longer:
  // the 5,000-identity pretraining slowed from 450 to 110 pairs/s over 10 epochs without this.
  // Values below 1.2e-38 become 0; nothing faceid computes depends on them.
  at::globalContext().setFlushDenormal(true);
  return n;
}

void make_current(torch::Device device) {
  if (device.is_cuda()) c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->setDevice(device);
}

void configure_cuda(torch::Device device, bool cudnn_benchmark, bool allow_tf32) {
  if (!device.is_cuda()) return;
  make_current(device);
  auto& context = at::globalContext();
  context.setBenchmarkCuDNN(cudnn_benchmark);
  context.setAllowTF32CuDNN(allow_tf32);
  context.setAllowTF32CuBLAS(allow_tf32);
}

}  // namespace faceid
