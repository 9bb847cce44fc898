// Torch-free access to what a checkpoint says about itself, for apps that must not pull in torch.
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace faceid {

struct CheckpointInfo {
  std::string config_yaml;                // the resolved run config
  std::map<std::string, double> metrics;  // last validation metrics
  double eer_threshold = 0;               // NaN when never validated
  long long epoch = 0;
  long long step = 0;
  std::string fingerprint;                // model_fingerprint of the weights + model config
};

// Reads and verifies a checkpoint (Errc::bad_input naming the path when missing or corrupt).
CheckpointInfo read_checkpoint_info(const std::filesystem::path& path);

// Just the stored config YAML.
std::string checkpoint_config_yaml(const std::filesystem::path& path);

}  // namespace faceid
