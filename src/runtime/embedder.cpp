#include "faceid/runtime/embedder.hpp"

#include <cmath>

#include <fmt/format.h>

#include "faceid/model/device.hpp"
#include "faceid/core/error.hpp"
#include "faceid/model/checkpoint.hpp"
#include "faceid/model/embed_batch.hpp"

namespace faceid {

struct Embedder::Impl {
  std::filesystem::path path;
  Config config;
  LoadedCheckpoint loaded;
  torch::Device device{torch::kCPU};
  std::string fingerprint;
};

Embedder::Embedder(const std::filesystem::path& checkpoint, const std::string& device,
                   int threads)
    : impl_(std::make_unique<Impl>()) {
  impl_->path = checkpoint;
  impl_->device = resolve_device(device);
  configure_cpu_threads(threads);
  configure_cuda(impl_->device, /*cudnn_benchmark=*/false, /*allow_tf32=*/false);
  impl_->loaded = load_checkpoint(checkpoint, impl_->device);
  const int pv = impl_->loaded.meta.preprocess_version;
  if (pv != 0 && pv != kPreprocessVersion) {
    throw_bad_input(fmt::format(
        "{}: the model was trained on crops of preprocessing version {}, this build makes version "
        "{}: it would embed crops it never saw (retrain, or use a model of this version)",
        checkpoint.string(), pv, kPreprocessVersion));
  }
  impl_->config = parse_config(impl_->loaded.meta.config_yaml,
                               checkpoint.string() + " (stored config)");
  impl_->loaded.model->eval();
  impl_->fingerprint = model_fingerprint(impl_->loaded.model);
}

Embedder::~Embedder() = default;
Embedder::Embedder(Embedder&&) noexcept = default;
Embedder& Embedder::operator=(Embedder&&) noexcept = default;

const Config& Embedder::config() const { return impl_->config; }
const std::filesystem::path& Embedder::checkpoint() const { return impl_->path; }
double Embedder::eer_threshold() const { return impl_->loaded.meta.eer_threshold; }
double Embedder::operating_threshold() const { return impl_->loaded.meta.operating_threshold; }
double Embedder::target_far() const { return impl_->loaded.meta.target_far; }
double Embedder::match_threshold(std::string* source) const {
  const auto& m = impl_->loaded.meta;
  if (std::isfinite(m.operating_threshold)) {
    if (source) *source = fmt::format("checkpoint operating threshold (FAR {:g} on validation)", m.target_far);
    return m.operating_threshold;
  }
  if (source) *source = "checkpoint validation EER threshold";
  return m.eer_threshold;
}
const std::string& Embedder::fingerprint() const { return impl_->fingerprint; }
int Embedder::dimension() const { return impl_->loaded.meta.model.embedding_dim; }
int Embedder::input_size() const { return impl_->loaded.meta.input_size; }

PreprocessResult Embedder::preprocess(const Frame& frame) const {
  return faceid::preprocess(frame, impl_->config.preprocess);
}

Embeddings Embedder::embed(const std::vector<const FaceCrop*>& crops, int batch) const {
  std::vector<const float*> data;
  data.reserve(crops.size());
  for (const FaceCrop* c : crops) {
    if (c == nullptr || c->size != input_size() ||
        c->chw.size() != static_cast<size_t>(kChannels) * c->size * c->size) {
      throw_internal(fmt::format("Embedder: crop of side {} given to a model of input {}",
                                 c ? c->size : 0, input_size()));
    }
    data.push_back(c->chw.data());
  }
  return embed(data, batch);
}

Embeddings Embedder::embed(const std::vector<const float*>& crops, int batch) const {
  return embed_crops(impl_->loaded.model, crops, input_size(), impl_->device, batch);
}

std::vector<float> Embedder::embed(const FaceCrop& crop) const {
  const Embeddings e = embed(std::vector<const FaceCrop*>{&crop}, 1);
  return std::vector<float>(e.data(), e.data() + e.cols());
}

}  // namespace faceid
