// The presentation-attack part of the dataset layout: attack frames live under
// ROOT/attacks/<type>/<targeted identity>/NNN_K_{c,d}.ext, so each ROOT/attacks/<type> folder is
// itself a dataset root whose "persons" are the targeted identities (scan_dataset(ROOT) skips the
// attacks folder). The generator writes this layout (synth --attacks) and liveness evaluation
// reads it; the type names are the folder names, so neither needs the other.
#pragma once

#include <filesystem>
#include <string>

#include "faceid/io/dataset.hpp"

namespace faceid {

enum class AttackType {
  photo,   // a printed photo (planar or slightly bent sheet) carrying the person's colour image
  screen,  // a screen replay: planar, emissive, moire, colour shift
  mask,    // the person's rigid face shape without expression, another material, eye holes
};
inline constexpr AttackType kAttackTypes[] = {AttackType::photo, AttackType::screen, AttackType::mask};

// "photo" | "screen" | "mask".
const char* to_string(AttackType type);
// The reverse; Errc::bad_input naming the value otherwise.
AttackType parse_attack_type(const std::string& name);

// ROOT/attacks/<type>: a dataset root whose person folders name the targeted identities.
std::filesystem::path attack_dataset_root(const std::filesystem::path& root, AttackType type);

}  // namespace faceid
