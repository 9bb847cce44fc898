// The burst model (burst.hpp): a deterministic temporal change of one frame's scene.
#include "synth/burst.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "faceid/core/error.hpp"
#include "synth/render.hpp"
#include "synth/scene.hpp"
#include "synth/streams.hpp"

namespace faceid::synth {

namespace {

constexpr float kDeg = 3.14159265358979f / 180.0f;

}  // namespace

uint64_t burst_key(uint64_t seed, uint64_t tag, int person, int session, int pose) {
  return hash_key({seed, static_cast<uint64_t>(Stream::burst), tag, static_cast<uint64_t>(person),
                   static_cast<uint64_t>(session), static_cast<uint64_t>(pose)});
}

BurstMotion burst_motion(uint64_t key, int frame) {
  Rng rng(key);
  // The burst's own character first (a fixed number of draws), then one step per frame.
  const bool blink = rng.chance(0.2);
  const int blink_at = 2 + modulo_below(rng, 3);   // the lids start closing at frame 2..4
  const bool slow_blink = rng.chance(0.5);         // closing over 2 frames instead of 1
  const float blink_peak = rng.chance(0.7) ? 1.0f : 0.6f;
  const bool expression = rng.chance(0.3);
  const float expression_delta = static_cast<float>((rng.chance(0.5) ? 1 : -1) * rng.uniform(0.05, 0.3));
  const float smile_target = static_cast<float>(rng.uniform(0.3, 0.8));
  const int expression_frames = 2 + modulo_below(rng, 3);  // reached after 2..4 frames
  const bool gaze = rng.chance(0.3);
  const int gaze_at = 2 + modulo_below(rng, 4);
  const float gaze_dx = static_cast<float>(rng.normal(0, 1.2, -2.5, 2.5));
  const float gaze_dy = static_cast<float>(rng.normal(0, 0.5, -1, 1));
  const float angle = static_cast<float>(rng.uniform(0.1, 0.6)) * kDeg;  // per frame
  const float step = static_cast<float>(rng.uniform(0.5, 3.0));          // mm per frame
  const float flex = static_cast<float>(rng.uniform(0, 3));

  BurstMotion m;
  for (int f = 2; f <= frame; ++f) {
    m.yaw += angle * static_cast<float>(rng.normal(0, 1, -1.6, 1.6));
    m.pitch += angle * static_cast<float>(rng.normal(0, 1, -1.6, 1.6));
    m.roll += 0.5f * angle * static_cast<float>(rng.normal(0, 1, -1.6, 1.6));
    Eigen::Vector3f d(static_cast<float>(rng.normal(0, 1)), static_cast<float>(rng.normal(0, 1)),
                      static_cast<float>(rng.normal(0, 1)));
    const float len = d.norm();
    if (len > 1e-6f) d /= len;
    m.shift += d * step * static_cast<float>(rng.uniform(0.5, 1.0));
    m.sag = flex * static_cast<float>(rng.uniform(-1, 1));
  }
  if (blink && frame >= blink_at) {
    static constexpr float kFast[] = {1.0f, 0.35f};
    static constexpr float kSlow[] = {0.5f, 1.0f, 0.4f};
    const int d = frame - blink_at;
    if (slow_blink && d < 3) m.lid = blink_peak * kSlow[d];
    if (!slow_blink && d < 2) m.lid = blink_peak * kFast[d];
  }
  if (expression && frame >= 2) {
    const float t = std::min(1.0f, static_cast<float>(frame - 1) / static_cast<float>(expression_frames));
    m.expression_change = true;
    m.expression_delta = expression_delta * t;
    m.smile_onset = smile_target * t;
  }
  if (gaze && frame >= gaze_at) {
    m.gaze_x = gaze_dx;
    m.gaze_y = gaze_dy;
  }
  return m;
}

void apply_motion(FrameParams& fr, const BurstMotion& m, bool expression) {
  fr.yaw += m.yaw;
  fr.pitch += m.pitch;
  fr.roll += m.roll;
  fr.offset_x += m.shift.x();
  fr.offset_y += m.shift.y();
  fr.distance += m.shift.z();
  if (expression && m.expression_change) {
    if (fr.expression == Expression::neutral) {
      fr.expression = Expression::smile;  // the onset of a smile (amount 0 is exactly neutral)
      fr.expression_amount = m.smile_onset;
    } else {
      fr.expression_amount = std::clamp(fr.expression_amount + m.expression_delta, 0.2f, 1.0f);
    }
  }
  if (expression) {
    fr.gaze_x += m.gaze_x;
    fr.gaze_y += m.gaze_y;
  }
}

void close_lids(Face& f, float lid) {
  if (lid > 0) f.eye_h *= 1 - 0.93f * std::min(lid, 1.0f);  // the lash line is all that stays
}

void check_burst_frame(int frame) {
  if (frame < 1 || frame > kMaxBurstFrames) {
    throw_bad_input(fmt::format("burst frame must be in 1..{}, got {}", kMaxBurstFrames, frame));
  }
}

SynthFrame render_moving_frame(uint64_t seed, int person, int session, int pose, int frame,
                               const Distractors& distractors, uint64_t tag, cv::Mat* parts) {
  check_frame_indices(person, session, pose);
  check_burst_frame(frame);
  if (frame == 1) {
    RenderTruth truth;
    SynthFrame f = render_frame(seed, person, session, pose, distractors, parts ? &truth : nullptr);
    if (parts) *parts = truth.parts;
    return f;
  }
  FrameParams fr = make_frame(seed, person, session, pose, distractors);
  const BurstMotion m = burst_motion(burst_key(seed, tag, person, session, pose), frame);
  apply_motion(fr, m, true);
  const Scene sc = build_scene(seed, person, session, fr, [&](Face& f) { close_lids(f, m.lid); });
  const uint64_t p = static_cast<uint64_t>(person), s = static_cast<uint64_t>(session),
                 q = static_cast<uint64_t>(pose), fk = 1000 + static_cast<uint64_t>(frame);
  const uint64_t color_key = hash_key({seed, static_cast<uint64_t>(Stream::color_noise), p, s, q, tag, fk});
  const uint64_t depth_key = hash_key({seed, static_cast<uint64_t>(Stream::depth_noise), p, s, q, tag, fk});
  return render_scene(sc, color_key, depth_key, parts);
}

}  // namespace faceid::synth

namespace faceid {

SynthFrame render_live_burst_frame(uint64_t seed, int person, int session, int pose, int frame,
                                   const Distractors& distractors) {
  return synth::render_moving_frame(seed, person, session, pose, frame, distractors, synth::kLiveBurstTag,
                                    nullptr);
}

}  // namespace faceid
