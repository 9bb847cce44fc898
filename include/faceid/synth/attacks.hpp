// Presentation attacks for the synthetic generator (synth --attacks): nine instruments (AttackType
// in faceid/io/attacks.hpp), rendered by the same renderer and sensor models as the live frames.
//   photo   an A5-A3 print (portrait or landscape, the face 0.6-1.3x life-size, flat or bent,
//           matte to glossy) held 350-900 mm from the camera by one or two of the attacker's
//           hands, the attacker's body 250-450 mm behind it, its head hidden or out of view
//   screen  a phone, tablet or laptop replaying a video of the person (emissive, moire, colour
//           shift), held the same way
//   mask, mask_plaster, mask_paper, mask_silicone, mask_resin, mask_partial: a rigid cast of the
//           person's neutral head in one material or paint, worn over another identity's head
//           (its hair, neck, real eyes behind eye holes, mouth below a partial mask)
//   head_form  a print of the person wrapped on a smoothed generic head form
// The attackers and wearers are identities >= 2,000,000,000 (outside every data set). Frames are
// written in the VAP layout under ROOT/attacks/<type>/<targeted identity>/NNN_K_{c,d}.ext, bursts
// under ROOT/bursts/<type>/<targeted identity>/NNN_F_{c,d}.ext (faceid/io/attacks.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "faceid/io/attacks.hpp"
#include "faceid/synth/synth.hpp"

namespace faceid {

// An attack on identity `person` (global index) presented in `session` and at `pose` (a mask
// follows the pose table; a held sheet turns by half of it). Photos and screens show a frontal
// frame of the person from another session. Each instrument's parameters come from its own
// random stream: deterministic for a seed and independent of the other instruments.
SynthFrame render_attack_frame(uint64_t seed, AttackType type, int person, int session, int pose);

// Frame `frame` (1..8) of a burst of that attack: frame 1 is render_attack_frame's; later frames
// move the instrument rigidly (hand or head tremor), flex a print, blink the real eyes behind eye
// holes, move a partial mask's real mouth and play the screen's video on.
SynthFrame render_attack_burst_frame(uint64_t seed, AttackType type, int person, int session, int pose, int frame);

}  // namespace faceid
