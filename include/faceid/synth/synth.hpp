// The synthetic RGB-D face generator: procedural 3-D heads rendered with a z-buffer into a
// 640x480 Kinect-like depth camera (fx ~ 525) and a registered 1280x960 colour camera. It writes
// exactly the VAP layout, so every path of the reader is exercised. Deterministic for a seed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <opencv2/core.hpp>

namespace faceid {

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
  bool attacks = false;            // also write presentation attacks (photo, screen, mask) of
                                   // every identity, session and pose under
                                   // out/attacks/<type>/<person>/ (see attacks.hpp)
  int* frames_written = nullptr;   // if set, receives how many frames were rendered and written
                                   // (the others already existed and were kept)
};

// One rendered frame, before writing.
struct SynthFrame {
  cv::Mat color;      // CV_8UC3 BGR, 1280x960 (registered to depth: pixel (2x, 2y) ~ depth (x, y))
  cv::Mat depth_raw;  // CV_16SC1 640x480 with VAP codes: mm, -1 holes, 0 too near, 4095 too far
};

// Renders identity `person` (global index) in `session` (1-based) and `pose` (1-based).
SynthFrame render_synth_frame(uint64_t seed, int person, int session, int pose);

// The folder name of identity `person`, e.g. "synth_00042".
std::string synth_person_name(int person);

// Writes the whole dataset; `progress(done, total)` is called from one thread at a time.
// Files are written atomically; an existing complete frame is kept unless overwrite is set.
void generate_synth_dataset(const SynthOptions& options,
                            const std::function<void(int, int)>& progress = {});

}  // namespace faceid
