// The presentation-attack part of the dataset layout. Attack frames live under
// ROOT/attacks/<instrument>/<targeted identity>/NNN_K_{c,d}.ext, so each ROOT/attacks/<instrument>
// folder is itself a dataset root whose "persons" are the targeted identities (scan_dataset(ROOT)
// skips the attacks folder). Short bursts of frames (one unlock attempt = K frames) live under
// ROOT/bursts/<live|instrument>/<identity>/NNN_F_{c,d}.ext: pose NNN of the set's last session,
// frame F = 1..K of the burst. The generator writes this layout (synth --attacks, --bursts) and
// liveness evaluation reads it; the instrument names are the folder names, so neither needs the
// other.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "faceid/io/dataset.hpp"

namespace faceid {

// What kind of thing is presented: a flat print, an emissive screen, or a 3-D object with a
// face's relief (every mask make and the photo wrapped on a head form).
enum class AttackFamily { photo, screen, mask };

// The attack instruments (makes). Each one is a folder under ROOT/attacks/.
enum class AttackType {
  photo,          // a print (A5 to A3, life-size or not, flat or bent) held in the attacker's hands
  screen,         // a phone, tablet or laptop replay: emissive, moire, colour shift; hands in view
  mask,           // a plain rigid cast of the person's head in one material, dark eye holes
  mask_plaster,   // matte plaster, painted eyes (no holes), nothing else painted
  mask_paper,     // paper mache: fibrous paper tone, eye holes with the wearer's real eyes behind
  mask_silicone,  // skin-toned silicone, painted lips and brows, worn over a real head (the
                  // wearer's hair, ears, neck), eye holes with real eyes behind
  mask_resin,     // glossy resin, fully painted (skin tone, lips, brows, painted eyes), often
                  // with glasses
  mask_partial,   // an upper-face half mask (hairline to below the nose) worn over a real head:
                  // the wearer's own mouth and chin
  head_form,      // a printed photo of the person wrapped on a generic head form
};
inline constexpr AttackType kAttackTypes[] = {
    AttackType::photo,        AttackType::screen,        AttackType::mask,
    AttackType::mask_plaster, AttackType::mask_paper,    AttackType::mask_silicone,
    AttackType::mask_resin,   AttackType::mask_partial,  AttackType::head_form,
};

// "photo" | "screen" | "mask" | "mask_plaster" | ... (the folder name).
const char* to_string(AttackType type);
// "photo" | "screen" | "mask".
const char* to_string(AttackFamily family);
AttackFamily family_of(AttackType type);
// The reverse of to_string; Errc::bad_input naming the value and the choices otherwise.
AttackType parse_attack_type(const std::string& name);
AttackFamily parse_attack_family(const std::string& name);
// "photo,mask_paper" → those instruments, in kAttackTypes order, no repeats; a family name
// selects every instrument of the family and "all" every instrument. Errc::bad_input naming
// `what` and the bad element.
std::vector<AttackType> parse_attack_types(const std::string& list, const std::string& what);

// ROOT/attacks/<type>: a dataset root whose person folders name the targeted identities.
std::filesystem::path attack_dataset_root(const std::filesystem::path& root, AttackType type);

// Bursts (kBurstFolderName in dataset.hpp): ROOT/bursts/live and ROOT/bursts/<type>, dataset roots whose frames NNN_F are the F-th
// frame of the burst at pose NNN (FrameRef::repetition = F).
inline constexpr const char* kLiveBurstName = "live";
std::filesystem::path live_burst_root(const std::filesystem::path& root);
std::filesystem::path attack_burst_root(const std::filesystem::path& root, AttackType type);

}  // namespace faceid
