#include "faceid/io/attacks.hpp"

#include <fmt/format.h>

#include "faceid/core/error.hpp"

namespace faceid {

const char* to_string(AttackType type) {
  switch (type) {
    case AttackType::photo:
      return "photo";
    case AttackType::screen:
      return "screen";
    case AttackType::mask:
      return "mask";
  }
  return "photo";
}

AttackType parse_attack_type(const std::string& name) {
  for (AttackType t : kAttackTypes) {
    if (name == to_string(t)) return t;
  }
  throw_bad_input(fmt::format("attack type: expected photo|screen|mask, got '{}'", name));
}

std::filesystem::path attack_dataset_root(const std::filesystem::path& root, AttackType type) {
  return root / kAttackFolderName / to_string(type);
}

}  // namespace faceid
