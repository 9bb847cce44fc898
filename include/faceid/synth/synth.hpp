// The synthetic RGB-D face generator: procedural 3-D heads rendered with a z-buffer into a
// 640x480 Kinect-like depth camera (fx ~ 525) and a registered 1280x960 colour camera. It writes
// exactly the VAP layout, so every path of the reader is exercised, optionally with presentation
// attacks (attacks.hpp) and short bursts of consecutive frames (one unlock attempt each).
// Deterministic for a seed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "faceid/io/attacks.hpp"
#include "faceid/io/face_truth.hpp"

namespace faceid {

// What real Kinect captures contain besides one centred head (issue 14): each frame draws each
// distractor with its rate from the frame's own random stream (docs/synth.md, "Distractors").
struct Distractors {
  float lean = 0.15f;          // torso pitched towards the camera: the chest 50-200 mm nearer
                               // than the face centre
  float shadow = 0.5f;         // Kinect shadow band: holes along the chin/neck edge and projector
                               // shadows 2-5 px wider, so the head is cut from the body in depth
  float hand = 0.05f;          // a raised hand (palm, fingers, forearm) 150-400 mm in front of the
                               // face, covering about 10-35% of it
  float chair = 0.2f;          // a chair back 400-550 mm wide, 100-300 mm behind the torso, up to
                               // 0-250 mm above the shoulders
  float second_person = 0.1f;  // another identity 300-1200 mm further back, to the side
  float off_centre = 0.3f;     // the head 80-250 mm sideways and up to +-150 mm vertically off the
                               // image centre (at 1 m; scaled with the distance)
  float empty = 0;             // no person at all: wall, chair, a coat on a chair, or a body whose
                               // head is above the image (for "no face" tests and benchmarks)
  float min_distance = 500;    // face distance range, millimetres (uniform)
  float max_distance = 1500;

  // Every rate 0 and generator version 1's distances (625-1060 mm): exactly the old clean scene.
  static Distractors none() {
    Distractors d;
    d.lean = d.shadow = d.hand = d.chair = d.second_person = d.off_centre = d.empty = 0;
    d.min_distance = 625;
    d.max_distance = 1060;
    return d;
  }
};

struct SynthOptions {
  std::filesystem::path out = "data/synth";  // dataset root to write
  int persons = 50;                // identities
  int sessions = 3;                // repetitions K (1..3 in VAP); a session changes lighting,
                                   // glasses on/off and small appearance details
  int poses = 17;                  // pose indices NNN (17 in VAP: yaw +-45, pitch +-20, roll +-10)
  uint64_t seed = 1;               // identity i of seed s is the same whatever `persons` is
  int first_person = 0;            // index of the first identity (to generate disjoint sets)
  int threads = 0;                 // 0 = all cores
  bool compact = false;            // write 640x480 NNN_K_c.png + 16-bit NNN_K_d.png (small)
                                   // instead of 1280x960 32-bit BMP + text .dat (VAP-exact)
  bool overwrite = false;          // replace existing frames instead of keeping them
  bool attacks = false;            // also write presentation attacks of every identity, session
                                   // and pose under out/attacks/<type>/<person>/ (attacks.hpp)
  std::vector<AttackType> attack_types{std::begin(kAttackTypes), std::end(kAttackTypes)};
                                   // the instruments --attacks writes (--attack-types)
  int bursts = 0;                  // 0: none; K in 2..8: for every person and pose of the last
                                   // session, a live burst of K frames under
                                   // out/bursts/live/<person>/NNN_F_{c,d} (and, with attacks,
                                   // one per instrument under out/bursts/<type>/<person>/)
  Distractors distractors;         // per-frame distractor rates (--rate-*, --distractors none)
  int* frames_written = nullptr;   // if set, receives how many frames were rendered and written
                                   // (the others already existed and were kept)
};

// One rendered frame, before writing.
struct SynthFrame {
  cv::Mat color;      // CV_8UC3 BGR, 1280x960 (registered to depth: pixel (2x, 2y) ~ depth (x, y))
  cv::Mat depth_raw;  // CV_16SC1 640x480 with VAP codes: mm, -1 holes, 0 too near, 4095 too far
  FaceTruth truth;    // where the face is (has_face = false for an empty scene)
};

// Renders identity `person` (global index) in `session` (1-based) and `pose` (1-based), with the
// default distractor rates (Distractors{}) or the given ones.
SynthFrame render_synth_frame(uint64_t seed, int person, int session, int pose);
SynthFrame render_synth_frame(uint64_t seed, int person, int session, int pose,
                              const Distractors& distractors);

// Frame `frame` (1..8) of the live burst at (person, session, pose): frame 1 is
// render_synth_frame's frame; frames 2..K add 66 ms of realistic change (a rigid micro-motion,
// sometimes a blink, an expression change or a gaze shift) and their own sensor noise.
SynthFrame render_live_burst_frame(uint64_t seed, int person, int session, int pose, int frame,
                                   const Distractors& distractors);

// The folder name of identity `person`, e.g. "synth_00042".
std::string synth_person_name(int person);

// How many frames generate_synth_dataset(options) renders or keeps: live, attacks and bursts.
int synth_frame_count(const SynthOptions& options);

// Writes the whole dataset; `progress(done, total)` is called from one thread at a time.
// Files are written atomically; an existing complete frame is kept unless overwrite is set.
// Every live frame gets ROOT/<person>/NNN_K_truth.yaml beside it (face_truth.hpp); attacks and
// bursts do not. The manifest records the settings; a resume with other settings is refused.
void generate_synth_dataset(const SynthOptions& options,
                            const std::function<void(int, int)>& progress = {});

}  // namespace faceid
