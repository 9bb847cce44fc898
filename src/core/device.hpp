// Private: turning train.device strings into torch devices, and CPU thread setup.
#pragma once

#include <torch/torch.h>

#include <string>

namespace faceid {

// "auto" → CUDA when available, else CPU; "cpu"; "cuda" / "cuda:N" (Errc::bad_input when this
// build or machine has no CUDA, or N is out of range).
torch::Device resolve_device(const std::string& name);

// Sets the intra-op thread count (0 = all cores) and returns the count in effect.
int configure_cpu_threads(int threads);

}  // namespace faceid
