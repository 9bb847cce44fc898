// Presentation attacks for the synthetic generator (synth --attacks): a printed photo, a screen
// replay and a rigid 3-D mask of an identity, rendered by the same renderer and sensor models as
// the live frames. Attack frames are written in the VAP layout under
// ROOT/attacks/<type>/<targeted identity>/NNN_K_{c,d}.ext, so each ROOT/attacks/<type> folder is
// itself a dataset root whose "persons" are the targeted identities (scan_dataset(ROOT) skips the
// attacks folder).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "faceid/io/attacks.hpp"
#include "faceid/synth/synth.hpp"

namespace faceid {

// An attack on identity `person` (global index) presented in `session` and at `pose` (the
// placement of the sheet or the mask follows the pose table, damped for a held sheet). Photos and
// screens show a frontal frame of the person from another session. Deterministic for a seed.
SynthFrame render_attack_frame(uint64_t seed, AttackType type, int person, int session, int pose);

}  // namespace faceid
