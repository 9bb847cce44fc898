// Presentation-attack scenes (attacks.hpp): a print or a screen held in an attacker's hands in
// front of its body, and 3-D instruments on the person's (or a generic) head: plain, plaster,
// paper mache, silicone, resin and partial masks and a photo wrapped on a head form. Every
// parameter is drawn from the attack stream of (seed, type, person, session, pose); bursts move
// the instrument with the burst model (burst.hpp).
#include <algorithm>
#include <cmath>
#include <iterator>

#include <fmt/format.h>

#include "faceid/core/error.hpp"
#include "faceid/synth/attacks.hpp"
#include "synth/burst.hpp"
#include "synth/render.hpp"
#include "synth/scene.hpp"
#include "synth/streams.hpp"

namespace faceid {

namespace {

using synth::Face;
using synth::Rgb;
using synth::Scene;

constexpr float kDeg = 3.14159265358979f / 180.0f;
const Eigen::Vector3f kFlip(1, -1, -1);  // world (y up, z to the camera) <-> camera

float uni(Rng& rng, double lo, double hi) { return static_cast<float>(rng.uniform(lo, hi)); }
Rgb vary(Rng& rng, const Rgb& c, double sd) {
  auto f = [&](float v) { return std::clamp(v * static_cast<float>(rng.normal(1, sd)), 0.0f, 1.0f); };
  return Rgb{f(c.r), f(c.g), f(c.b)};
}

// Another identity (an attacker, a mask's wearer): outside every data set's person range.
int other_identity(Rng& rng) { return 2000000000 + synth::modulo_below(rng, 100000000); }

// ---- Sheets: prints and screens --------------------------------------------------------------

// A held sheet in millimetres: the picture (or print) and the frame around it.
struct SheetSize {
  float width, height, bezel;
};
constexpr int kSheetCols = 36, kSheetRows = 48;

// Where a sheet is: sheet coordinates (x right, y down from the face point, h towards the
// camera) to camera coordinates.
struct SheetPlace {
  Eigen::Matrix3f rot;      // world frame
  Eigen::Vector3f origin;   // camera coordinates of the sheet point carrying the face
  float left = 0, top = 0, w = 0, h = 0, sag = 0;
  float bend(float sx) const {
    const float t = 2 * (sx - left) / w - 1;  // -1..1 across
    return sag * (1 - t * t);                 // the middle bulges towards the camera
  }
  Eigen::Vector3f at(float sx, float sy, float dh = 0) const {
    return origin + (rot * Eigen::Vector3f(sx, -sy, bend(sx) + dh)).cwiseProduct(kFlip);
  }
  Eigen::Vector3f dir(float dx, float dy, float dh) const {
    return (rot * Eigen::Vector3f(dx, -dy, dh)).cwiseProduct(kFlip);
  }
};

// The sheet's grid; the picture carries `source` with `px_per_mm` source pixels per sheet mm, the
// face pixel `face_px` on the origin; the bezel (or a print's margin) maps outside the picture.
void add_sheet(synth::Mesh& m, const SheetPlace& pl, const SheetSize& size, cv::Point2f face_px, float px_per_mm) {
  const int base = static_cast<int>(m.pos.size());
  for (int j = 0; j < kSheetRows; ++j) {
    const float sy = pl.top + pl.h * static_cast<float>(j) / (kSheetRows - 1);
    for (int i = 0; i < kSheetCols; ++i) {
      const float sx = pl.left + pl.w * static_cast<float>(i) / (kSheetCols - 1);
      m.pos.push_back(pl.at(sx, sy));
      const bool inside_x = std::abs(sx - pl.left - pl.w / 2) <= pl.w / 2 - size.bezel;
      const bool inside_y = sy >= pl.top + size.bezel && sy <= pl.top + pl.h - size.bezel;
      const float u = inside_x && inside_y ? face_px.x + sx * px_per_mm : -10.0f;
      const float v = inside_x && inside_y ? face_px.y + sy * px_per_mm : -10.0f;
      m.rest.emplace_back(u, v, 0.0f);
    }
  }
  synth::add_grid_tris(m, base, kSheetRows, kSheetCols, synth::Material::sheet, false);
}

// A laptop's base: a dark plate from the screen's bottom edge towards the camera.
void add_laptop_base(synth::Mesh& m, const SheetPlace& pl, float depth, float open) {
  const float y = pl.top + pl.h;
  const Eigen::Vector3f a = pl.at(pl.left, y), b = pl.at(pl.left + pl.w, y);
  const Eigen::Vector3f out = pl.dir(0, -std::cos(open), std::sin(open)) * depth;  // hinge angle
  const int base = static_cast<int>(m.pos.size());
  for (const Eigen::Vector3f& p : {a, b, Eigen::Vector3f(a + out), Eigen::Vector3f(b + out)}) {
    m.pos.push_back(p);
    m.rest.emplace_back(-10.0f, -10.0f, 0.0f);  // outside the picture: the dark case
  }
  synth::add_grid_tris(m, base, 2, 2, synth::Material::sheet, false);
}

// A hand gripping the sheet's edge at (sx, sy), (ux, uy) pointing into the sheet: the palm behind
// and beyond the edge, the thumb (or the fingers) in front, over the border; the arm goes to
// `shoulder`. Its triangles belong to the attacker (who = 1).
void add_grip(synth::Mesh& m, const SheetPlace& pl, float sx, float sy, float ux, float uy, bool fingers_front,
              float s, const Eigen::Vector3f& shoulder) {
  const size_t first = m.tris.size();
  const Eigen::Vector3f e = pl.at(sx, sy);
  const Eigen::Vector3f u = pl.dir(ux, uy, 0), v = pl.dir(-uy, ux, 0), w = pl.dir(0, 0, 1);
  Eigen::Matrix3f axes;
  axes << v, u, w;  // local x along the edge, y into the sheet, z towards the camera
  const Eigen::Vector3f palm = e - u * (30 * s) - w * (17 * s);
  synth::add_ellipsoid(m, palm, axes, Eigen::Vector3f(40, 45, 14) * s, synth::Material::hand);
  if (fingers_front) {
    for (const float x : {-24.0f, -8.0f, 8.0f, 24.0f}) {
      synth::add_ellipsoid(m, e + v * (x * s) + u * (6 * s) + w * (7 * s), axes, Eigen::Vector3f(8, 20, 7) * s,
                           synth::Material::hand);
    }
  } else {
    synth::add_ellipsoid(m, e + u * (9 * s) + w * (8 * s), axes, Eigen::Vector3f(10, 24, 9) * s,
                         synth::Material::hand);
  }
  // The arm, in its sleeve, from the wrist to the shoulder.
  const Eigen::Vector3f wrist = palm - u * (40 * s);
  Eigen::Vector3f d = shoulder - wrist;
  const float len = std::clamp(d.norm(), 150.0f, 600.0f);
  d.normalize();
  Eigen::Vector3f x = d.cross(Eigen::Vector3f(0, 0, 1));
  if (x.norm() < 1e-3f) x = Eigen::Vector3f(1, 0, 0);
  x.normalize();
  Eigen::Matrix3f arm;
  arm << x, d, x.cross(d);
  synth::add_ellipsoid(m, wrist + d * (0.5f * len), arm, Eigen::Vector3f(36, 0.5f * len + 20, 34), synth::Material::arm);
  for (size_t t = first; t < m.tris.size(); ++t) m.tris[t].who = 1;
}

enum class Device { print, phone, tablet, laptop };

// Replaces the scene's people by a held sheet showing `source` (its face pixel `face_px` at depth
// `face_z`), hands and the attacker's body behind it. Frame `motion` moves the sheet and hands.
void make_held_sheet(Scene& sc, uint64_t seed, Device device, const cv::Mat& source, cv::Point2f face_px,
                     float face_z, const synth::BurstMotion& motion, Rng& rng) {
  const synth::FrameParams& fr = sc.frame;
  SheetSize size{};
  float scale = 1, top_frac = 0.38f;
  int hands = 2;
  bool base = false;
  switch (device) {
    case Device::print: {
      static constexpr SheetSize kPrints[] = {{148, 210, 0}, {210, 297, 0}, {297, 420, 0}};  // A5, A4, A3
      size = kPrints[synth::modulo_below(rng, 3)];
      if (rng.chance(0.3)) std::swap(size.width, size.height);  // landscape
      size.bezel = rng.chance(0.5) ? uni(rng, 4, 15) : 0.0f;    // a white margin
      scale = rng.chance(0.35) ? 1.0f : uni(rng, 0.6, 1.3);
      hands = rng.chance(0.4) ? 1 : 2;
      top_frac = size.width > size.height ? 0.45f : 0.38f;
      break;
    }
    case Device::phone:
      size = {70 + 10, 150 + 10, 5};
      scale = uni(rng, 0.3, 0.5);
      hands = 1;
      top_frac = 0.45f;
      break;
    case Device::tablet:
      size = {175 + 24, 240 + 24, 12};
      if (rng.chance(0.3)) std::swap(size.width, size.height);
      scale = uni(rng, 0.6, 1.0);
      top_frac = size.width > size.height ? 0.45f : 0.4f;
      break;
    case Device::laptop:
      size = {300 + 20, 190 + 20, 10};
      scale = uni(rng, 0.6, 1.1);
      base = rng.chance(0.5);
      top_frac = 0.45f;
      break;
  }
  SheetPlace pl;
  pl.w = size.width;
  pl.h = size.height;
  pl.top = -top_frac * pl.h + uni(rng, -0.05, 0.05) * pl.h;
  pl.left = -0.5f * pl.w + uni(rng, -0.06, 0.06) * pl.w;
  const float dist = uni(rng, 350, 900);
  const bool at_face = rng.chance(0.5);  // where the live face would be, or elsewhere
  const float ox = uni(rng, -0.12, 0.12) * dist, oy = uni(rng, -0.1, 0.06) * dist;
  pl.origin = at_face ? Eigen::Vector3f(fr.offset_x * dist / fr.distance, fr.offset_y * dist / fr.distance, dist)
                      : Eigen::Vector3f(ox, oy, dist);
  pl.rot = synth::pose_rotation(0.5f * fr.yaw + uni(rng, -8, 8) * kDeg, 0.5f * fr.pitch + uni(rng, -8, 8) * kDeg,
                                0.6f * fr.roll + uni(rng, -5, 5) * kDeg);
  pl.sag = device == Device::print && rng.chance(0.5) ? uni(rng, -18, 18) : 0.0f;
  // The attacker: 250-450 mm behind the sheet (arm's length), its head hidden behind the sheet
  // or, when the sheet is too small for that, above the image.
  const int attacker = other_identity(rng);
  const float arm = uni(rng, 250, 450), hand_size = static_cast<float>(rng.normal(1, 0.07, 0.85, 1.15));
  const int grip_kind = synth::modulo_below(rng, 2);
  const bool left_hand = rng.chance(0.5);
  const float grip_at = uni(rng, 0.3, 0.75);
  const bool fingers_front = rng.chance(0.5);
  const float base_depth = uni(rng, 180, 220), base_open = uni(rng, 95, 120) * kDeg;
  // A burst moves the sheet and the hands (tremor), not the body.
  pl.rot = synth::pose_rotation(motion.yaw, motion.pitch, motion.roll) * pl.rot;
  pl.origin += motion.shift;
  if (device == Device::print && pl.sag != 0) pl.sag += motion.sag;

  synth::Mesh& m = sc.mesh;
  m = synth::Mesh{};
  const float px_per_mm = synth::kColorCamera.fx / face_z / scale;
  add_sheet(m, pl, size, face_px, px_per_mm);
  if (base) add_laptop_base(m, pl, base_depth, base_open);

  synth::FrameParams f2 = synth::make_frame(seed, attacker, 1, 1);
  f2.yaw = 0.3f * f2.yaw;
  f2.pitch = f2.roll = 0;
  const Eigen::Vector3f centre = pl.at(pl.left + 0.5f * pl.w, pl.top + 0.5f * pl.h);
  const synth::IdentityParams aid = synth::make_identity(seed, attacker);
  const float a2 = aid.head_width / 2, b2 = aid.head_height / 2, c2 = aid.head_depth / 2;
  f2.distance = centre.z() + arm;
  const float ratio = centre.z() / f2.distance;
  const bool hidden = 0.5f * pl.w >= 1.1f * a2 * ratio && 0.5f * pl.h >= 1.05f * b2 * ratio;
  f2.offset_x = centre.x() * (f2.distance + c2) / centre.z();
  f2.offset_y = hidden ? centre.y() * (f2.distance + c2) / centre.z()
                       : -synth::kDepthCamera.cy / synth::kDepthCamera.fy * (f2.distance + c2) - 1.4f * b2;
  synth::add_other_person(sc, seed, attacker, f2, true);
  const float shoulder_y = f2.offset_y + 0.45f * b2 + 70, shoulder_z = f2.distance + 0.6f * c2;
  const float half = 0.4f * aid.shoulder_width;
  const Eigen::Vector3f shoulder_l(f2.offset_x - half, shoulder_y, shoulder_z);
  const Eigen::Vector3f shoulder_r(f2.offset_x + half, shoulder_y, shoulder_z);
  const float bottom = pl.top + pl.h, right = pl.left + pl.w;
  if (hands == 1) {
    if (grip_kind == 0) {  // a side edge
      if (left_hand) {
        add_grip(m, pl, pl.left, pl.top + grip_at * pl.h, 1, 0, false, hand_size, shoulder_l);
      } else {
        add_grip(m, pl, right, pl.top + grip_at * pl.h, -1, 0, false, hand_size, shoulder_r);
      }
    } else {  // the bottom edge
      add_grip(m, pl, pl.left + grip_at * pl.w, bottom, 0, -1, fingers_front, hand_size,
               left_hand ? shoulder_l : shoulder_r);
    }
  } else if (grip_kind == 0 || device != Device::print) {  // both sides
    add_grip(m, pl, pl.left, pl.top + grip_at * pl.h, 1, 0, false, hand_size, shoulder_l);
    add_grip(m, pl, right, pl.top + (1.05f - grip_at) * pl.h, -1, 0, false, hand_size, shoulder_r);
  } else {  // both bottom corners
    add_grip(m, pl, pl.left + 0.15f * pl.w, bottom, 0, -1, fingers_front, hand_size, shoulder_l);
    add_grip(m, pl, pl.left + 0.85f * pl.w, bottom, 0, -1, fingers_front, hand_size, shoulder_r);
  }
  synth::compute_normals(m);
  sc.attack.texture = source;
  sc.attack.attacker_hands = true;
  sc.face.glasses = false;
  sc.lens_outline[0].clear();
  sc.lens_outline[1].clear();
  synth::fit_wall(sc);
}

// ---- 3-D instruments ---------------------------------------------------------------------------

// `other`'s appearance (skin, hair and iris colours, brows, beard, texture) on `f`'s landmarks, so
// that its eyes, mouth and hairline lie where the geometry has them.
Face appearance_on(const Face& f, const Face& other) {
  Face w = f;
  w.skin = other.skin;
  w.lips = other.lips;
  w.iris = other.iris;
  w.hair = other.hair;
  w.brows = other.brows;
  w.beard = other.beard;
  w.beard_density = other.beard_density;
  w.brow_thickness = other.brow_thickness;
  w.brow_density = other.brow_density;
  w.skin_blotch = other.skin_blotch;
  w.freckles = other.freckles;
  w.cheek_red = other.cheek_red;
  w.key = other.key;
  return w;
}

// A face painted in one material: no hair, beard, freckles or blush; `lips` and `brows` < 0 leave
// them in the material's colour.
Face material_face(const Face& f, const Rgb& material, uint64_t key) {
  Face p = f;
  p.skin = p.lips = p.hair = p.brows = p.beard = material;
  p.beard_density = 0;
  p.brow_density = 0;
  p.freckles = 0;
  p.cheek_red = 0;
  p.skin_blotch = 0.015f;
  p.key = key;
  return p;
}

void draw_glasses(Face& f, bool on, Rng& rng) {
  const float gw = static_cast<float>(rng.normal(24, 2, 20, 28)), gh = static_cast<float>(rng.normal(17, 2.5, 12, 22));
  const float rim = uni(rng, 1.8, 4.5), shape = uni(rng, 2, 5), grey = uni(rng, 0.03, 0.6);
  f.glasses = on;
  if (!on) return;
  f.glasses_w = gw;
  f.glasses_h = gh;
  f.glasses_rim = rim;
  f.glasses_shape = shape;
  f.glasses_color = Rgb{grey, grey * 0.9f, grey * 0.8f};
}

// The mask colour styles a partial mask picks from.
enum class Style { plaster, paper, silicone, resin };

// Fills the cover's look for a style; `target` is the subject's face.
void draw_style(synth::AttackLook& att, Style style, const Face& target, uint64_t key, Rng& rng) {
  switch (style) {
    case Style::plaster: {
      const float g = uni(rng, 0.85, 0.95);
      att.paint = material_face(target, Rgb{g, g * uni(rng, 0.97, 1.0), g * uni(rng, 0.92, 0.99)}, key);
      att.paint.iris = vary(rng, Rgb{0.25f, 0.30f, 0.38f}, 0.3);  // painted eyes
      att.mask_ks = uni(rng, 0.015, 0.03);
      att.grain = uni(rng, 0.03, 0.07);
      att.eye_holes = false;
      break;
    }
    case Style::paper: {
      static constexpr Rgb kPaper[] = {
          {0.82f, 0.74f, 0.60f}, {0.70f, 0.70f, 0.68f}, {0.90f, 0.89f, 0.85f}, {0.78f, 0.76f, 0.70f}};
      att.paint = material_face(target, vary(rng, kPaper[synth::modulo_below(rng, 4)], 0.04), key);
      const Rgb lips = vary(rng, Rgb{0.62f, 0.22f, 0.22f}, 0.15);
      if (rng.chance(0.5)) att.paint.lips = lips;  // painted lips
      att.mask_ks = uni(rng, 0.02, 0.04);
      att.fibre = uni(rng, 0.06, 0.14);
      att.eye_holes = true;
      break;
    }
    case Style::silicone: {
      Face p = target;  // the target's tones, a little off
      const float tone = static_cast<float>(rng.normal(1, 0.05, 0.9, 1.1));
      const Rgb hue{uni(rng, 0.95, 1.05), 1, uni(rng, 0.9, 1.1)};
      p.skin = Rgb{target.skin.r * tone * hue.r, target.skin.g * tone, target.skin.b * tone * hue.b};
      const float lip = uni(rng, 0.85, 1.1);
      p.lips = Rgb{target.lips.r * lip, target.lips.g * lip * uni(rng, 0.9, 1.05), target.lips.b * lip};
      p.brows = vary(rng, target.brows, 0.15);
      p.brow_density = std::min(1.0f, target.brow_density * uni(rng, 0.8, 1.2));
      p.skin_blotch *= 0.5f;
      p.freckles = 0;
      p.cheek_red *= 0.5f;
      p.beard_density = 0;
      p.hair = p.skin;
      p.key = key;
      att.paint = p;
      att.mask_ks = uni(rng, 0.08, 0.12);
      att.eye_holes = true;
      break;
    }
    case Style::resin: {
      Face p = target;  // fully painted
      p.skin = vary(rng, target.skin, 0.06);
      p.lips = vary(rng, target.lips, 0.08);
      p.brows = vary(rng, target.brows, 0.15);
      p.iris = vary(rng, target.iris, 0.15);
      p.skin_blotch *= 0.3f;
      p.freckles = 0;
      p.beard_density = 0;
      p.hair = p.skin;
      p.key = key;
      att.paint = p;
      att.mask_ks = uni(rng, 0.2, 0.35);
      att.eye_holes = false;
      break;
    }
  }
}

// A mask or head form on the subject's rigid, neutral head (following the pose and the burst's
// rigid motion). Frame `motion` may blink the wearer's real eyes and move a partial mask's mouth.
Scene build_mask_scene(uint64_t seed, AttackType type, int person, int session, int pose,
                       const synth::BurstMotion& motion, bool moving, Rng& rng) {
  synth::FrameParams frame = synth::make_frame(seed, person, session, pose);
  frame.expression = synth::Expression::neutral;
  frame.expression_amount = 0.5f;
  frame.gaze_x = frame.gaze_y = 0;
  synth::BurstMotion rigid = motion;
  rigid.expression_change = false;
  synth::apply_motion(frame, rigid, false);
  const uint64_t key = rng.next();
  if (type == AttackType::mask) {
    // The plain cast: one material, dark eye holes (the original instrument's draws first).
    static constexpr Rgb kMaterials[] = {
        {0.88f, 0.84f, 0.76f},  // ivory resin
        {0.93f, 0.92f, 0.90f},  // white paper mache
        {0.62f, 0.62f, 0.64f},  // grey 3-D print
        {0.86f, 0.70f, 0.62f},  // pale latex
        {0.78f, 0.58f, 0.42f},  // tan silicone
    };
    const Rgb base = kMaterials[synth::modulo_below(rng, 5)];
    const Rgb color = vary(rng, base, 0.05);
    const float recess = uni(rng, 8, 16);
    const bool glasses = rng.chance(0.25);
    Scene sc = synth::build_scene(seed, person, session, frame, [&](Face& f) { draw_glasses(f, glasses, rng); });
    sc.attack.surface = synth::Surface::mask;
    sc.attack.mask_color = color;
    sc.attack.eye_recess = recess;
    return sc;
  }
  synth::AttackLook att;
  att.surface = synth::Surface::mask;
  // The target's neutral face, for the colours a make copies.
  const synth::IdentityParams id = synth::make_identity(seed, person);
  const Face target = synth::make_face(id, synth::make_session(seed, person, session, id), frame);
  bool glasses = false;
  bool mouth = false;
  synth::FaceEdit geometry;  // head form: the generic head
  switch (type) {
    case AttackType::mask_plaster:
      draw_style(att, Style::plaster, target, key, rng);
      glasses = rng.chance(0.25);
      break;
    case AttackType::mask_paper:
      draw_style(att, Style::paper, target, key, rng);
      att.edge_soft = uni(rng, 6, 12);
      glasses = rng.chance(0.25);
      break;
    case AttackType::mask_silicone:
      draw_style(att, Style::silicone, target, key, rng);
      att.edge_soft = uni(rng, 2, 4);
      att.seam_step = uni(rng, 1, 3);
      att.seam_shade = rng.chance(0.5) ? uni(rng, 0.85, 0.95) : uni(rng, 1.04, 1.1);
      att.cover_top = uni(rng, -8, 4);
      glasses = rng.chance(0.25);
      break;
    case AttackType::mask_resin:
      draw_style(att, Style::resin, target, key, rng);
      att.edge_soft = uni(rng, 6, 12);
      glasses = rng.chance(0.5);
      break;
    case AttackType::mask_partial: {
      draw_style(att, static_cast<Style>(synth::modulo_below(rng, 4)), target, key, rng);
      att.eye_holes = true;  // whatever the colours, the wearer looks through it
      att.cover_bottom = target.nose_tip_y - uni(rng, 0, 15);
      att.edge_soft = uni(rng, 2, 5);
      att.seam_step = uni(rng, 2, 5);
      glasses = rng.chance(0.25);
      mouth = moving && motion.expression_change;  // the wearer's real mouth moves
      break;
    }
    case AttackType::head_form: {
      att.make = synth::MaskMake::head_form;
      att.gain = uni(rng, 0.75, 0.92);
      att.tint = Rgb{uni(rng, 0.95, 1.02), uni(rng, 0.93, 1.0), uni(rng, 0.85, 0.97)};
      att.mask_ks = 0.03f;
      att.eye_holes = false;
      att.cover_top = uni(rng, 4, 15);
      att.edge_soft = uni(rng, 4, 10);
      static constexpr Rgb kForms[] = {
          {0.88f, 0.87f, 0.84f}, {0.86f, 0.72f, 0.60f}, {0.55f, 0.55f, 0.56f}, {0.14f, 0.13f, 0.13f}};
      att.form_color = vary(rng, kForms[synth::modulo_below(rng, 4)], 0.04);
      const float keep = uni(rng, 0.3, 0.6);  // features reduced by 40-70 %
      const float ear = uni(rng, 0, 3);
      geometry = [keep, ear](Face& f) {
        f.nose_proj *= keep;
        f.eye_depth *= keep;
        f.brow_ridge *= keep;
        f.lip *= keep;
        f.cheek *= keep;
        f.chin *= keep;
        f.hair_volume = 0;
        f.beard_len = 0;
        f.ear = ear;
        f.a = 0.5f * (f.a + 76);  // halfway to a generic head
        f.b = 0.5f * (f.b + 114);
        f.c = 0.5f * (f.c + 96);
        f.hpow = 0.5f * (f.hpow + 0.8f);
        f.jaw *= 0.5f;
      };
      break;
    }
    default:
      throw_internal("build_mask_scene: not a mask");
  }
  if (att.make != synth::MaskMake::head_form) {
    att.make = type == AttackType::mask_plaster    ? synth::MaskMake::plaster
               : type == AttackType::mask_paper    ? synth::MaskMake::paper
               : type == AttackType::mask_silicone ? synth::MaskMake::silicone
               : type == AttackType::mask_resin    ? synth::MaskMake::resin
                                                   : synth::MaskMake::partial;
    att.eye_recess = uni(rng, 6, 12);
    // Worn over another identity's head: its colours on the subject's landmarks.
    const int wearer = other_identity(rng);
    const synth::IdentityParams wid = synth::make_identity(seed, wearer);
    const synth::SessionParams ws = synth::make_session(seed, wearer, 1, wid);
    att.has_wearer = true;
    att.wearer = appearance_on(target, synth::make_face(wid, ws, frame));
    att.wearer_clothing = ws.clothing;
    att.wearer_stripes = ws.clothing_stripes;
    if (att.eye_holes) synth::close_lids(att.wearer, motion.lid);  // real eyes blink
  }
  const float smile = mouth ? std::clamp(std::fabs(motion.expression_delta) * 2 + 0.2f, 0.2f, 0.7f) : 0.0f;
  Scene sc = synth::build_scene(seed, person, session, frame, [&](Face& f) {
    if (geometry) geometry(f);
    draw_glasses(f, glasses, rng);
    if (smile > 0) {  // the partial mask's wearer talks or smiles below the cut
      f.smile_k = 7 * smile / (f.mouth_half_w * f.mouth_half_w);
      f.teeth = 1.3f * smile;
    }
  });
  if (smile > 0) {
    att.wearer.smile_k = sc.face.smile_k;
    att.wearer.teeth = sc.face.teeth;
  }
  sc.attack = att;
  return sc;
}

Scene build_attack_scene(uint64_t seed, AttackType type, int person, int session, int pose, int frame) {
  Rng rng(synth::hash_key({seed, static_cast<uint64_t>(synth::Stream::attack), static_cast<uint64_t>(type),
                           static_cast<uint64_t>(person), static_cast<uint64_t>(session),
                           static_cast<uint64_t>(pose)}));
  const uint64_t t = static_cast<uint64_t>(type);
  const synth::BurstMotion motion =
      synth::burst_motion(synth::burst_key(seed, synth::kAttackBurstTag + t, person, session, pose), frame);
  if (family_of(type) == AttackFamily::mask) {
    return build_mask_scene(seed, type, person, session, pose, motion, frame > 1, rng);
  }
  // Photo and screen: a frontal picture of the person taken in another session (a screen plays
  // it as a video: frame F of the person's own burst).
  const int source_session = session % synth::kMaxSessions + 1;
  const bool video = type == AttackType::screen;
  const SynthFrame source =
      synth::render_moving_frame(seed, person, source_session, 1, video ? frame : 1, Distractors::none(),
                                 synth::kVideoBurstTag + t, nullptr);
  // Where the face is in the source (frame 1's scene: the mapping does not follow the video).
  const Scene src = synth::build_scene(seed, person, source_session, 1);
  const Eigen::Vector3f& fc = src.face_center;
  const cv::Point2f face_px(synth::kColorCamera.fx * fc.x() / fc.z() + synth::kColorCamera.cx,
                            synth::kColorCamera.fy * fc.y() / fc.z() + synth::kColorCamera.cy);
  Scene sc = synth::build_scene(seed, person, session, synth::make_frame(seed, person, session, pose));
  if (type == AttackType::photo) {
    sc.attack.surface = synth::Surface::photo;
    sc.attack.gain = uni(rng, 0.75, 0.92);
    sc.attack.tint = Rgb{uni(rng, 0.95, 1.02), uni(rng, 0.93, 1.0), uni(rng, 0.85, 0.97)};
    static constexpr float kGloss[] = {0.03f, 0.1f, 0.3f};  // matte, satin, glossy paper
    sc.attack.sheet_ks = kGloss[synth::modulo_below(rng, 3)];
    sc.attack.paper = Rgb{uni(rng, 0.88, 0.97), uni(rng, 0.88, 0.97), uni(rng, 0.86, 0.96)};
    make_held_sheet(sc, seed, Device::print, source.color, face_px, fc.z(), motion, rng);
  } else {
    sc.attack.surface = synth::Surface::screen;
    sc.attack.gain = uni(rng, 0.95, 1.25);
    sc.attack.tint = Rgb{uni(rng, 0.85, 0.97), uni(rng, 0.95, 1.03), uni(rng, 1.05, 1.2)};
    sc.attack.moire_period = uni(rng, 2.2, 4.5);
    sc.attack.moire_angle = uni(rng, 0, 3.14159);
    sc.attack.moire_depth = uni(rng, 0.06, 0.16);
    static constexpr Device kDevices[] = {Device::phone, Device::tablet, Device::laptop};
    make_held_sheet(sc, seed, kDevices[synth::modulo_below(rng, 3)], source.color, face_px, fc.z(), motion, rng);
  }
  return sc;
}

}  // namespace

}  // namespace faceid

namespace faceid::synth {

SynthFrame render_attack(uint64_t seed, AttackType type, int person, int session, int pose, int frame,
                         cv::Mat* parts) {
  check_frame_indices(person, session, pose);
  check_burst_frame(frame);
  const Scene sc = build_attack_scene(seed, type, person, session, pose, frame);
  const uint64_t p = static_cast<uint64_t>(person), s = static_cast<uint64_t>(session),
                 q = static_cast<uint64_t>(pose), t = 100 + static_cast<uint64_t>(type);
  const uint64_t ck = static_cast<uint64_t>(Stream::color_noise), dk = static_cast<uint64_t>(Stream::depth_noise);
  if (frame == 1) {
    return render_scene(sc, hash_key({seed, ck, p, s, q, t}), hash_key({seed, dk, p, s, q, t}), parts);
  }
  const uint64_t fk = 1000 + static_cast<uint64_t>(frame);
  return render_scene(sc, hash_key({seed, ck, p, s, q, t, fk}), hash_key({seed, dk, p, s, q, t, fk}), parts);
}

}  // namespace faceid::synth

namespace faceid {

SynthFrame render_attack_frame(uint64_t seed, AttackType type, int person, int session, int pose) {
  return synth::render_attack(seed, type, person, session, pose, 1, nullptr);
}

SynthFrame render_attack_burst_frame(uint64_t seed, AttackType type, int person, int session, int pose, int frame) {
  return synth::render_attack(seed, type, person, session, pose, frame, nullptr);
}

}  // namespace faceid
