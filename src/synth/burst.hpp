// Bursts (synth --bursts K): one unlock attempt is K consecutive frames at ~15 fps (66 ms apart).
// Frame 1 is the set's own frame; frames 2..K change by a small temporal model drawn from the
// burst stream: a rigid micro-motion (a random walk), sometimes a blink, an expression change or
// a gaze shift, and a held sheet's flex. The same model moves a live head, a mask (rigidly), the
// real eyes and mouth behind a mask and the person replayed on a screen.
#pragma once

#include <cstdint>

#include <Eigen/Core>
#include <opencv2/core.hpp>

#include "faceid/io/attacks.hpp"
#include "faceid/synth/synth.hpp"
#include "synth/face.hpp"
#include "synth/params.hpp"

namespace faceid::synth {

constexpr int kMaxBurstFrames = 8;
// Tags of the burst streams: the live person, an instrument (kAttackBurstTag + type) and the
// video a screen replays (kVideoBurstTag + type).
constexpr uint64_t kLiveBurstTag = 0;
constexpr uint64_t kAttackBurstTag = 100;
constexpr uint64_t kVideoBurstTag = 200;

// The change of burst frame F from frame 1 (all zero for F = 1).
struct BurstMotion {
  float yaw = 0, pitch = 0, roll = 0;              // rigid micro-motion so far, radians
  Eigen::Vector3f shift = Eigen::Vector3f::Zero();  // millimetres, camera coordinates
  float lid = 0;                                    // eyelid closure in [0, 1] (a blink)
  bool expression_change = false;                   // the burst changes its expression
  float expression_delta = 0;                       //   expression_amount change so far
  float smile_onset = 0;                            //   from neutral: the smile's amount so far
  float gaze_x = 0, gaze_y = 0;                     // gaze shift, millimetres
  float sag = 0;                                    // a held print's flex, millimetres
};

// The motion of frame `frame` (1-based) of the burst with stream key `key`. Frame F's motion does
// not depend on the burst's length.
BurstMotion burst_motion(uint64_t key, int frame);
uint64_t burst_key(uint64_t seed, uint64_t tag, int person, int session, int pose);

// A live head's frame parameters moved by `m` (pose, position, expression when `expression`,
// gaze); the eyelids are a Face edit (close_lids).
void apply_motion(FrameParams& fr, const BurstMotion& m, bool expression);
void close_lids(Face& f, float lid);

// Errc::bad_input unless frame is in 1..kMaxBurstFrames.
void check_burst_frame(int frame);

// Frame `frame` of the burst of a live person (tag kLiveBurstTag) or of the person a screen
// replays (kVideoBurstTag + type); frame 1 is render_frame's. `parts` as render_scene's.
SynthFrame render_moving_frame(uint64_t seed, int person, int session, int pose, int frame,
                               const Distractors& distractors, uint64_t tag, cv::Mat* parts);

// Attack frames with what each depth pixel shows (tests): frame 1 is render_attack_frame's.
SynthFrame render_attack(uint64_t seed, AttackType type, int person, int session, int pose, int frame,
                         cv::Mat* parts);

}  // namespace faceid::synth
