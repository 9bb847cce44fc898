#include "faceid/train/checkpoint_info.hpp"

#include "faceid/train/checkpoint.hpp"

namespace faceid {

CheckpointInfo read_checkpoint_info(const std::filesystem::path& path) {
  LoadedCheckpoint loaded = load_checkpoint(path, torch::kCPU);
  CheckpointInfo info;
  info.config_yaml = loaded.meta.config_yaml;
  info.metrics = loaded.meta.metrics;
  info.eer_threshold = loaded.meta.eer_threshold;
  info.epoch = loaded.meta.epoch;
  info.step = loaded.meta.step;
  info.fingerprint = model_fingerprint(loaded.model);
  return info;
}

std::string checkpoint_config_yaml(const std::filesystem::path& path) {
  return read_checkpoint_meta(path).config_yaml;
}

}  // namespace faceid
