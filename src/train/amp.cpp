#include "train/amp.hpp"

#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <torch/version.h>

#include "faceid/core/error.hpp"

namespace faceid {

torch::ScalarType amp_dtype(AmpMode amp, torch::Device device) {
  if (amp == AmpMode::bf16) return torch::kBFloat16;
  if (amp == AmpMode::fp16) {
    if (!device.is_cuda()) {
      throw_bad_input(fmt::format("train.amp: fp16 needs a CUDA device, and the step runs on {} "
                                  "(use bf16 on a CPU)",
                                  device.str()));
    }
    return torch::kHalf;
  }
  return torch::kFloat;
}

namespace {
// The one version guard of autocast: 2.x takes the device type, 1.x has one function per device.
#if TORCH_VERSION_MAJOR >= 2
bool autocast_enabled(torch::DeviceType d) { return at::autocast::is_autocast_enabled(d); }
torch::ScalarType autocast_dtype(torch::DeviceType d) { return at::autocast::get_autocast_dtype(d); }
void set_autocast(torch::DeviceType d, bool on, torch::ScalarType dtype) {
  at::autocast::set_autocast_enabled(d, on);
  at::autocast::set_autocast_dtype(d, dtype);
}
#else
bool autocast_enabled(torch::DeviceType d) {
  return d == torch::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
}
torch::ScalarType autocast_dtype(torch::DeviceType d) {
  return d == torch::kCPU ? at::autocast::get_autocast_cpu_dtype()
                          : at::autocast::get_autocast_gpu_dtype();
}
void set_autocast(torch::DeviceType d, bool on, torch::ScalarType dtype) {
  if (d == torch::kCPU) {
    at::autocast::set_cpu_enabled(on);
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_enabled(on);
    at::autocast::set_autocast_gpu_dtype(dtype);
  }
}
#endif
}  // namespace

AutocastScope::AutocastScope(torch::DeviceType device_type, torch::ScalarType dtype)
    : device_type_(device_type) {
  if (dtype == torch::kFloat) return;
  was_enabled_ = autocast_enabled(device_type_);
  was_dtype_ = autocast_dtype(device_type_);
  set_autocast(device_type_, true, dtype);
  at::autocast::increment_nesting();
  active_ = true;
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(device_type_, was_enabled_, was_dtype_);
}

LossScaler::LossScaler(bool enabled, double init_scale, double growth, double backoff,
                       int growth_interval)
    : enabled_(enabled),
      scale_(init_scale),
      growth_(growth),
      backoff_(backoff),
      growth_interval_(growth_interval) {
  if (!(init_scale > 0) || !(growth > 1) || !(backoff > 0 && backoff < 1) || growth_interval < 1) {
    throw_internal("LossScaler: scale > 0, growth > 1, 0 < backoff < 1, interval >= 1");
  }
}

torch::Tensor LossScaler::scaled(const torch::Tensor& loss) const {
  return enabled_ ? loss * scale_ : loss;
}

bool LossScaler::unscale(const std::vector<torch::Tensor>& params) {
  if (!enabled_) return true;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return true;
  // One reduction on the device, one host sync (as GradScaler.step has).
  torch::Tensor finite = torch::ones({}, torch::dtype(torch::kBool).device(grads[0].device()));
  for (auto& g : grads) {
    g.mul_(1.0 / scale_);
    finite.logical_and_(torch::isfinite(g).all());
  }
  if (finite.item<bool>()) {
    if (++clean_steps_ >= growth_interval_) {
      scale_ *= growth_;
      clean_steps_ = 0;
    }
    return true;
  }
  scale_ *= backoff_;
  clean_steps_ = 0;
  ++skipped_;
  return false;
}

}  // namespace faceid
