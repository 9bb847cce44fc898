#include "faceid/io/attacks.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "faceid/core/error.hpp"

namespace faceid {

namespace {

std::string choices() {
  std::string s;
  for (AttackType t : kAttackTypes) s += std::string(s.empty() ? "" : "|") + to_string(t);
  return s;
}

}  // namespace

const char* to_string(AttackType type) {
  switch (type) {
    case AttackType::photo:
      return "photo";
    case AttackType::screen:
      return "screen";
    case AttackType::mask:
      return "mask";
    case AttackType::mask_plaster:
      return "mask_plaster";
    case AttackType::mask_paper:
      return "mask_paper";
    case AttackType::mask_silicone:
      return "mask_silicone";
    case AttackType::mask_resin:
      return "mask_resin";
    case AttackType::mask_partial:
      return "mask_partial";
    case AttackType::head_form:
      return "head_form";
  }
  return "photo";
}

const char* to_string(AttackFamily family) {
  switch (family) {
    case AttackFamily::photo:
      return "photo";
    case AttackFamily::screen:
      return "screen";
    case AttackFamily::mask:
      return "mask";
  }
  return "photo";
}

AttackFamily family_of(AttackType type) {
  switch (type) {
    case AttackType::photo:
      return AttackFamily::photo;
    case AttackType::screen:
      return AttackFamily::screen;
    default:
      return AttackFamily::mask;
  }
}

AttackType parse_attack_type(const std::string& name) {
  for (AttackType t : kAttackTypes) {
    if (name == to_string(t)) return t;
  }
  throw_bad_input(fmt::format("attack type: expected one of {}, got '{}'", choices(), name));
}

AttackFamily parse_attack_family(const std::string& name) {
  for (AttackFamily f : {AttackFamily::photo, AttackFamily::screen, AttackFamily::mask}) {
    if (name == to_string(f)) return f;
  }
  throw_bad_input(fmt::format("attack family: expected one of photo|screen|mask, got '{}'", name));
}

std::vector<AttackType> parse_attack_types(const std::string& list, const std::string& what) {
  std::vector<bool> chosen(std::size(kAttackTypes), false);
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string item = list.substr(start, comma - start);
    bool matched = false;
    for (size_t i = 0; i < std::size(kAttackTypes); ++i) {
      const AttackType t = kAttackTypes[i];
      const bool family_match = item == to_string(family_of(t)) && item != "photo" && item != "screen";
      if (item == "all" || item == to_string(t) || family_match) {
        chosen[i] = true;
        matched = true;
      }
    }
    if (!matched) {
      throw_bad_input(fmt::format("{}: unknown attack instrument '{}' (expected a comma-separated list of "
                                  "{}, or 'all')",
                                  what, item, choices()));
    }
    start = comma + 1;
  }
  std::vector<AttackType> out;
  for (size_t i = 0; i < chosen.size(); ++i) {
    if (chosen[i]) out.push_back(kAttackTypes[i]);
  }
  return out;
}

std::filesystem::path attack_dataset_root(const std::filesystem::path& root, AttackType type) {
  return root / kAttackFolderName / to_string(type);
}

std::filesystem::path live_burst_root(const std::filesystem::path& root) {
  return root / kBurstFolderName / kLiveBurstName;
}

std::filesystem::path attack_burst_root(const std::filesystem::path& root, AttackType type) {
  return root / kBurstFolderName / to_string(type);
}

}  // namespace faceid
