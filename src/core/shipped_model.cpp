// Where the shipped model lives. Compiled without the precompiled header: FACEID_MODELS_DIR is
// defined for this file alone (CMakeLists.txt).
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "faceid/core/app.hpp"
#include "faceid/core/error.hpp"

#ifndef FACEID_MODELS_DIR
#error "FACEID_MODELS_DIR must name the folder of the shipped models"
#endif

namespace faceid {

std::filesystem::path shipped_model_path() {
  if (const char* env = std::getenv("FACEID_MODEL"); env != nullptr && *env != '\0') return env;
  return std::filesystem::path(FACEID_MODELS_DIR) / "faceid_rgbd_v1.pt";
}

std::filesystem::path checkpoint_or_shipped(const std::string& checkpoint, const std::string& app) {
  if (!checkpoint.empty()) return checkpoint;
  const std::filesystem::path model = shipped_model_path();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model, ec)) {
    throw_bad_input(fmt::format(
        "no --checkpoint given and the shipped model {} is missing (FACEID_MODEL names another; "
        "scripts/pretrain.sh makes one)",
        model.string()));
  }
  std::fprintf(stderr, "%s: no --checkpoint: using the shipped model %s\n", app.c_str(),
               model.string().c_str());
  return model;
}

}  // namespace faceid
