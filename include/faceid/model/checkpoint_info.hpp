// Torch-free access to what a checkpoint says about itself, for apps that must not pull in torch.
#pragma once

#include <filesystem>
#include <string>

namespace faceid {

// The resolved run config a checkpoint was trained with (YAML), without loading its weights.
// Errc::bad_input naming the file when it is not a readable checkpoint.
std::string checkpoint_config_yaml(const std::filesystem::path& path);

}  // namespace faceid
