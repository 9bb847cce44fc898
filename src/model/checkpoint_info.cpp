#include "faceid/model/checkpoint_info.hpp"

#include "faceid/model/checkpoint.hpp"

namespace faceid {

std::string checkpoint_config_yaml(const std::filesystem::path& path) {
  return read_checkpoint_meta(path).config_yaml;
}

}  // namespace faceid
