// Private: turning train.device strings into torch devices, and CPU thread setup.
#pragma once

#include <torch/torch.h>

#include <string>

namespace faceid {

// "auto" → CUDA when available, else CPU; "cpu"; "cuda" / "cuda:N" (Errc::bad_input when this
// build or machine has no CUDA, or N is out of range).
torch::Device resolve_device(const std::string& name);

// Sets the intra-op thread count (0 = the cores divided among `processes_on_machine`, the
// local ranks of a distributed run) and returns the count in effect.
int configure_cpu_threads(int threads, int processes_on_machine = 1);

// A CUDA `device`: makes it the current device (one GPU per rank), sets cuDNN's benchmark mode
// and TF32 for cuDNN and cuBLAS. TF32 is on in cuDNN by default; off, GPU embeddings match
// the CPU's to ~1e-6, so a threshold calibrated on either holds on both. A CPU device: nothing.
void configure_cuda(torch::Device device, bool cudnn_benchmark, bool allow_tf32);
// Makes a CUDA `device` this thread's current device (NCCL creates its communicator there);
// nothing for a CPU device.
void make_current(torch::Device device);

}  // namespace faceid
