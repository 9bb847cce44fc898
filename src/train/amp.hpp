// Private: mixed precision for the training step (train.amp). Autocast, with the one LibTorch
// version guard of its API in amp.cpp, and dynamic loss scaling for fp16 as
// torch.amp.GradScaler does it.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "faceid/core/config.hpp"

namespace faceid {

// train.amp for a step on `device`: kFloat for none, kBFloat16, kHalf. fp16 on a CPU device is
// Errc::bad_input naming train.amp (CPU autocast is bf16; fp16 there has no loss-scaling kernels
// in LibTorch 1.x and no speed-up).
torch::ScalarType amp_dtype(AmpMode amp, torch::Device device);

// Autocast of `device_type` to `dtype` while alive (a no-op for kFloat). Restores the previous
// state on exit, and clears the autocast cast cache when the outermost scope ends.
class AutocastScope {
 public:
  AutocastScope(torch::DeviceType device_type, torch::ScalarType dtype);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  torch::DeviceType device_type_;
  bool active_ = false;
  bool was_enabled_ = false;
  torch::ScalarType was_dtype_ = torch::kFloat;
};

// Dynamic loss scaling: backward runs on loss x scale so that small fp16 gradients do not
// underflow; the gradients are divided back before clipping and the step. A step whose
// gradients hold an inf or NaN is skipped and the scale multiplied by `backoff`; after
// `growth_interval` clean steps in a row it is multiplied by `growth`. Defaults: GradScaler's.
// Disabled, it passes everything through and never skips.
class LossScaler {
 public:
  explicit LossScaler(bool enabled, double init_scale = 65536.0, double growth = 2.0,
                      double backoff = 0.5, int growth_interval = 2000);
  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  int64_t skipped_steps() const { return skipped_; }
  torch::Tensor scaled(const torch::Tensor& loss) const;
  // Divides the gradients of `params` by the scale, in place. Returns false, backs off and
  // counts a skipped step when any gradient is not finite: then the caller skips the step.
  bool unscale(const std::vector<torch::Tensor>& params);

 private:
  bool enabled_;
  double scale_, growth_, backoff_;
  int growth_interval_;
  int clean_steps_ = 0;
  int64_t skipped_ = 0;
};

}  // namespace faceid
