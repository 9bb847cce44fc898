// Presentation-attack scenes: a printed photo or a screen (a textured sheet in front of the
// session's wall) and a rigid mask (the person's neutral head in another material, eye holes).
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "faceid/core/error.hpp"
#include "faceid/synth/attacks.hpp"
#include "synth/render.hpp"
#include "synth/scene.hpp"
#include "synth/streams.hpp"

namespace faceid {

namespace {

using synth::Rgb;
using synth::Scene;

// A held sheet: photo (A4-like print) or screen (tablet); millimetres.
struct SheetSize {
  float width, height, bezel;
};
constexpr SheetSize kPhotoSheet{210, 297, 0};
constexpr SheetSize kScreenSheet{175, 240, 12};
constexpr int kSheetCols = 36, kSheetRows = 48;

// Replaces the scene's people by a sheet carrying `source` life-size: the source face (colour
// pixel `face_px` at depth `face_z`) lands on the sheet's origin, which is placed where the
// frame puts the live face, turned by a damped pose and bent by `sag` mm.
void make_sheet(Scene& sc, const SheetSize& size, const cv::Mat& source, cv::Point2f face_px,
                float face_z, float sag, Rng& rng) {
  const synth::FrameParams& fr = sc.frame;
  synth::Mesh& m = sc.mesh;
  m = synth::Mesh{};
  const float w = size.width + 2 * size.bezel, h = size.height + 2 * size.bezel;
  const float top = -0.38f * h + static_cast<float>(rng.normal(0, 10, -25, 25));
  const float left = -0.5f * w + static_cast<float>(rng.normal(0, 6, -15, 15));
  const Eigen::Matrix3f rot = synth::pose_rotation(0.5f * fr.yaw, 0.5f * fr.pitch, 0.6f * fr.roll);
  const Eigen::Vector3f origin(fr.offset_x, fr.offset_y, fr.distance);
  const float px_per_mm = synth::kColorCamera.fx / face_z;
  for (int j = 0; j < kSheetRows; ++j) {
    const float sy = top + h * static_cast<float>(j) / (kSheetRows - 1);  // down the sheet
    for (int i = 0; i < kSheetCols; ++i) {
      const float sx = left + w * static_cast<float>(i) / (kSheetCols - 1);
      const float t = 2 * (sx - left) / w - 1;  // -1..1 across
      const float bend = sag * (1 - t * t);     // the middle bulges towards the camera
      // Sheet coordinates (x right, y down, z to the scene) -> world (y up, z to the camera),
      // turned, then back to camera coordinates.
      const Eigen::Vector3f world = rot * Eigen::Vector3f(sx, -sy, bend);
      m.pos.emplace_back(origin + Eigen::Vector3f(world.x(), -world.y(), -world.z()));
      // Texture coordinates; the bezel maps outside the image (drawn black).
      const bool inside_x = std::abs(sx - left - w / 2) <= w / 2 - size.bezel;
      const bool inside_y = sy >= top + size.bezel && sy <= top + h - size.bezel;
      const float u = inside_x && inside_y ? face_px.x + sx * px_per_mm : -10.0f;
      const float v = inside_x && inside_y ? face_px.y + sy * px_per_mm : -10.0f;
      m.rest.emplace_back(u, v, 0.0f);
    }
  }
  synth::add_grid_tris(m, 0, kSheetRows, kSheetCols, synth::Material::sheet, false);
  synth::compute_normals(m);
  sc.attack.texture = source;
  sc.face.glasses = false;
  sc.lens_outline[0].clear();
  sc.lens_outline[1].clear();
}

Scene build_attack_scene(uint64_t seed, AttackType type, int person, int session, int pose) {
  Rng rng(synth::hash_key({seed, static_cast<uint64_t>(synth::Stream::attack),
                           static_cast<uint64_t>(type), static_cast<uint64_t>(person),
                           static_cast<uint64_t>(session), static_cast<uint64_t>(pose)}));
  synth::FrameParams frame = synth::make_frame(seed, person, session, pose);
  if (type == AttackType::mask) {
    // A rigid cast: no expression, no gaze; worn like a face, so it follows the pose.
    frame.expression = synth::Expression::neutral;
    frame.expression_amount = 0.5f;
    frame.gaze_x = frame.gaze_y = 0;
    Scene sc = synth::build_scene(seed, person, session, frame);
    sc.attack.surface = synth::Surface::mask;
    static constexpr Rgb kMaterials[] = {
        {0.88f, 0.84f, 0.76f},  // ivory resin
        {0.93f, 0.92f, 0.90f},  // white paper mache
        {0.62f, 0.62f, 0.64f},  // grey 3-D print
        {0.86f, 0.70f, 0.62f},  // pale latex
        {0.78f, 0.58f, 0.42f},  // tan silicone
    };
    const Rgb base = kMaterials[synth::modulo_below(rng, 5)];
    const auto vary = [&](float c) { return std::clamp(c * static_cast<float>(rng.normal(1, 0.05)), 0.0f, 1.0f); };
    sc.attack.mask_color = Rgb{vary(base.r), vary(base.g), vary(base.b)};
    sc.attack.eye_recess = static_cast<float>(rng.uniform(8, 16));
    return sc;
  }
  // Photo and screen: a frontal picture of the person taken in another session.
  const int source_session = session % synth::kMaxSessions + 1;
  synth::RenderTruth truth;
  // The clean scene: attacks stay generator version 1's pixels (no distractors in the picture).
  const SynthFrame source = synth::render_frame(seed, person, source_session, 1, Distractors::none(), &truth);
  Scene sc = synth::build_scene(seed, person, session, frame);
  const cv::Point2f face_px(2 * truth.face_px.x, 2 * truth.face_px.y);  // colour pixels
  if (type == AttackType::photo) {
    sc.attack.surface = synth::Surface::photo;
    sc.attack.gain = static_cast<float>(rng.uniform(0.75, 0.92));
    sc.attack.tint = Rgb{static_cast<float>(rng.uniform(0.95, 1.02)), static_cast<float>(rng.uniform(0.93, 1.0)),
                         static_cast<float>(rng.uniform(0.85, 0.97))};
    const float sag = rng.chance(0.5) ? 0.0f : static_cast<float>(rng.uniform(-18, 18));
    make_sheet(sc, kPhotoSheet, source.color, face_px, truth.face_z, sag, rng);
  } else {
    sc.attack.surface = synth::Surface::screen;
    sc.attack.gain = static_cast<float>(rng.uniform(0.95, 1.25));
    sc.attack.tint = Rgb{static_cast<float>(rng.uniform(0.85, 0.97)), static_cast<float>(rng.uniform(0.95, 1.03)),
                         static_cast<float>(rng.uniform(1.05, 1.2))};
    sc.attack.moire_period = static_cast<float>(rng.uniform(2.2, 4.5));
    sc.attack.moire_angle = static_cast<float>(rng.uniform(0, 3.14159));
    sc.attack.moire_depth = static_cast<float>(rng.uniform(0.06, 0.16));
    make_sheet(sc, kScreenSheet, source.color, face_px, truth.face_z, 0.0f, rng);
  }
  return sc;
}

}  // namespace

SynthFrame render_attack_frame(uint64_t seed, AttackType type, int person, int session, int pose) {
  synth::check_frame_indices(person, session, pose);
  const Scene sc = build_attack_scene(seed, type, person, session, pose);
  const uint64_t p = static_cast<uint64_t>(person), s = static_cast<uint64_t>(session),
                 q = static_cast<uint64_t>(pose), t = 100 + static_cast<uint64_t>(type);
  const uint64_t color_key =
      synth::hash_key({seed, static_cast<uint64_t>(synth::Stream::color_noise), p, s, q, t});
  const uint64_t depth_key =
      synth::hash_key({seed, static_cast<uint64_t>(synth::Stream::depth_noise), p, s, q, t});
  return synth::render_scene(sc, color_key, depth_key);
}

}  // namespace faceid
