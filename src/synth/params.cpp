#include "synth/params.hpp"

#include <algorithm>
#include <cmath>

#include "synth/streams.hpp"

namespace faceid::synth {

const PoseDegrees kPoseTable[kPoseCount] = {
    {0, 0, 0},                                                   // 1 frontal
    {-15, 0, 0},   {15, 0, 0},  {-30, 0, 0},  {30, 0, 0},        // 2-5 yaw steps
    {-45, 0, 0},   {45, 0, 0},                                   // 6-7 profile-ish
    {0, 20, 0},    {0, -20, 0},                                  // 8-9 up, down
    {0, 0, -10},   {0, 0, 10},                                   // 10-11 tilts
    {-30, 15, 0},  {30, 15, 0}, {-30, -15, 0}, {30, -15, 0},     // 12-15 yaw + pitch
    {-20, 0, -10}, {20, 0, 10},                                  // 16-17 yaw + roll
};

namespace {

constexpr float kDeg = 3.14159265358979f / 180.0f;

Rgb lerp(const Rgb& a, const Rgb& b, float t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}
Rgb scale(const Rgb& c, float s) { return {c.r * s, c.g * s, c.b * s}; }

// Piecewise-linear palette lookup at t in [0, 1].
template <size_t N>
Rgb palette(const Rgb (&table)[N], double t) {
  const double x = std::clamp(t, 0.0, 1.0) * (N - 1);
  const size_t i = std::min(static_cast<size_t>(x), N - 2);
  return lerp(table[i], table[i + 1], static_cast<float>(x - static_cast<double>(i)));
}

// Skin tones from light to dark (display RGB albedo).
constexpr Rgb kSkin[] = {{0.96f, 0.80f, 0.70f}, {0.91f, 0.72f, 0.60f}, {0.82f, 0.61f, 0.48f},
                         {0.66f, 0.46f, 0.33f}, {0.48f, 0.32f, 0.22f}, {0.34f, 0.22f, 0.15f}};
// Hair from black through browns to blond; red and grey are separate draws.
constexpr Rgb kHair[] = {{0.05f, 0.04f, 0.035f}, {0.13f, 0.09f, 0.06f}, {0.27f, 0.18f, 0.11f},
                         {0.42f, 0.31f, 0.20f},  {0.62f, 0.50f, 0.33f}, {0.78f, 0.68f, 0.48f}};
constexpr Rgb kIris[] = {{0.30f, 0.45f, 0.62f}, {0.45f, 0.52f, 0.57f}, {0.36f, 0.46f, 0.30f},
                         {0.45f, 0.34f, 0.18f}, {0.30f, 0.18f, 0.08f}, {0.14f, 0.09f, 0.05f}};
constexpr Rgb kClothing[] = {{0.15f, 0.18f, 0.30f}, {0.60f, 0.12f, 0.12f}, {0.85f, 0.85f, 0.82f},
                             {0.10f, 0.10f, 0.10f}, {0.25f, 0.40f, 0.25f}, {0.50f, 0.50f, 0.55f},
                             {0.70f, 0.60f, 0.40f}, {0.20f, 0.35f, 0.60f}};
constexpr Rgb kWall[] = {{0.80f, 0.78f, 0.72f}, {0.70f, 0.72f, 0.74f}, {0.85f, 0.82f, 0.70f},
                         {0.60f, 0.62f, 0.60f}, {0.75f, 0.70f, 0.65f}};

Rgb jitter(Rng& rng, const Rgb& c, double sd) {
  auto f = [&](float v) { return static_cast<float>(std::clamp(v * (1 + rng.normal(0, sd)), 0.0, 1.0)); };
  return {f(c.r), f(c.g), f(c.b)};
}

}  // namespace

IdentityParams make_identity(uint64_t seed, int person) {
  Rng rng(hash_key({seed, static_cast<uint64_t>(Stream::identity), static_cast<uint64_t>(person)}));
  IdentityParams p;
  // Overall size first: larger heads have larger features (correlated, like real faces), each
  // feature then varies on its own. Distributions overlap strongly between identities.
  const double size = rng.normal(1.0, 0.045, 0.88, 1.12);
  p.head_width = static_cast<float>(152 * size * rng.normal(1, 0.035, 0.9, 1.1));
  p.head_height = static_cast<float>(228 * size * rng.normal(1, 0.035, 0.9, 1.1));
  p.head_depth = static_cast<float>(192 * size * rng.normal(1, 0.035, 0.9, 1.1));
  p.squareness = static_cast<float>(rng.normal(2.5, 0.2, 2.1, 3.0));
  p.jaw = static_cast<float>(rng.normal(0, 0.06, -0.12, 0.14));
  p.chin = static_cast<float>(rng.normal(6, 2.5, 0, 12));
  p.eye_y = static_cast<float>(rng.normal(0, 4, -8, 8));
  p.eye_spacing = static_cast<float>(63 * size * rng.normal(1, 0.05, 0.88, 1.12));
  p.eye_depth = static_cast<float>(rng.normal(9, 2, 4, 14));
  p.eye_width = static_cast<float>(rng.normal(14, 1.0, 12, 16.5));
  p.eye_open = static_cast<float>(rng.normal(4.6, 0.6, 3.3, 6.0));
  p.brow_ridge = static_cast<float>(rng.normal(4.5, 1.6, 1, 9));
  p.cheekbones = static_cast<float>(rng.normal(4, 1.6, 0.5, 8));
  p.nose_length = static_cast<float>(50 * size * rng.normal(1, 0.09, 0.78, 1.22));
  p.nose_width = static_cast<float>(rng.normal(34, 3.5, 26, 44));
  p.nose_projection = static_cast<float>(rng.normal(20, 3.5, 12, 29));
  p.philtrum = static_cast<float>(rng.normal(19, 2.5, 13, 25));
  p.mouth_width = static_cast<float>(rng.normal(50, 4, 40, 60));
  p.lip_thickness = static_cast<float>(rng.normal(5, 1.2, 2.5, 8));
  p.ear_size = static_cast<float>(rng.normal(9, 3, 3, 16));
  p.forehead = static_cast<float>(rng.normal(66, 8, 50, 95));
  p.hair_volume = static_cast<float>(rng.chance(0.08) ? rng.uniform(1, 3) : rng.normal(12, 5, 3, 26));
  p.brow_thickness = static_cast<float>(rng.normal(4.5, 1, 2.5, 7));
  p.brow_density = static_cast<float>(rng.normal(0.75, 0.15, 0.35, 1));
  p.skin_blotch = static_cast<float>(rng.normal(0.05, 0.02, 0.01, 0.1));
  p.freckles = static_cast<float>(rng.chance(0.15) ? rng.uniform(0.2, 1) : 0);
  p.cheek_red = static_cast<float>(rng.normal(0.04, 0.025, 0, 0.1));

  // Colours: continuous palettes with a per-channel jitter, so neighbours overlap.
  const double tone = rng.normal(0.32, 0.2, 0, 1);
  p.skin = jitter(rng, palette(kSkin, tone), 0.03);
  const Rgb lip_tint{1.0f, 0.72f, 0.76f};
  const float lip_dark = static_cast<float>(rng.normal(0.9, 0.06, 0.75, 1.05));
  p.lips = {p.skin.r * lip_tint.r * lip_dark, p.skin.g * lip_tint.g * lip_dark,
            p.skin.b * lip_tint.b * lip_dark};
  p.iris = jitter(rng, palette(kIris, rng.uniform01() * (0.5 + 0.5 * tone) + 0.5 * tone), 0.08);
  Rgb hair;
  const double hair_kind = rng.uniform01();
  if (hair_kind < 0.06) {
    hair = lerp({0.45f, 0.20f, 0.10f}, {0.65f, 0.35f, 0.18f}, static_cast<float>(rng.uniform01()));
  } else if (hair_kind < 0.14) {
    const float g = static_cast<float>(rng.uniform(0.4, 0.8));
    hair = {g, g * 0.98f, g * 0.95f};
  } else {
    // Darker skins draw darker hair more often.
    hair = palette(kHair, std::clamp(rng.normal(0.45 - 0.4 * tone, 0.25), 0.0, 1.0));
  }
  p.hair = jitter(rng, hair, 0.06);
  p.brows = scale(p.hair, static_cast<float>(rng.normal(0.7, 0.1, 0.45, 0.95)));
  p.beard = rng.chance(0.25);
  if (p.beard) {
    p.beard_density = static_cast<float>(rng.uniform(0.25, 1));
    p.beard_length = p.beard_density > 0.6f ? static_cast<float>(rng.uniform(2, 9)) : 0.0f;
  }
  p.glasses = rng.chance(0.3);
  if (p.glasses) {
    p.glasses_prob = static_cast<float>(rng.uniform(0.5, 1.0));
    p.glasses_w = static_cast<float>(rng.normal(24, 2, 20, 28));
    p.glasses_h = static_cast<float>(rng.normal(17, 2.5, 12, 22));
    p.glasses_rim = static_cast<float>(rng.uniform(1.8, 4.5));
    p.glasses_shape = static_cast<float>(rng.uniform(2, 5));
    const float gray = static_cast<float>(rng.uniform(0.03, 0.6));
    p.glasses_color = jitter(rng, {gray, gray * 0.9f, gray * 0.8f}, 0.2);
  }
  p.shoulder_width = static_cast<float>(450 * size * rng.normal(1, 0.06, 0.85, 1.15));
  p.torso_depth = static_cast<float>(210 * size * rng.normal(1, 0.06, 0.85, 1.15));
  p.texture_key = rng.next();
  return p;
}

SessionParams make_session(uint64_t seed, int person, int session, const IdentityParams& id) {
  Rng rng(hash_key({seed, static_cast<uint64_t>(Stream::session), static_cast<uint64_t>(person),
                    static_cast<uint64_t>(session)}));
  SessionParams s;
  s.light_azimuth = static_cast<float>(rng.uniform(-60, 60) * kDeg);
  s.light_elevation = static_cast<float>(rng.uniform(5, 50) * kDeg);
  s.light_diffuse = static_cast<float>(rng.uniform(0.5, 0.75));
  s.light_ambient = static_cast<float>(rng.uniform(0.22, 0.36));
  const float warm = static_cast<float>(rng.normal(0, 0.04, -0.1, 0.1));
  s.light_color = {1 + warm, 1, 1 - 1.2f * warm};
  s.skin_shift = static_cast<float>(rng.normal(1, 0.05, 0.88, 1.12));
  s.skin_tint = {static_cast<float>(rng.normal(1, 0.015)), 1, static_cast<float>(rng.normal(1, 0.015))};
  s.hair_shift = static_cast<float>(rng.normal(1, 0.07, 0.85, 1.15));
  s.hair_volume = static_cast<float>(rng.normal(1, 0.12, 0.75, 1.25));
  s.glasses_on = id.glasses && rng.chance(id.glasses_prob);
  s.clothing = jitter(rng, kClothing[modulo_below(rng, 8)], 0.12);
  s.clothing_stripes = rng.chance(0.3) ? static_cast<float>(rng.uniform(0.1, 0.4)) : 0.0f;
  s.wall = jitter(rng, kWall[modulo_below(rng, 5)], 0.04);
  s.wall_distance = static_cast<float>(rng.uniform(1500, 2500));
  s.wall_tilt = static_cast<float>(rng.uniform(-15, 15) * kDeg);
  s.doorway = rng.chance(0.15);
  s.doorway_x = static_cast<float>(rng.chance(0.5) ? rng.uniform(0.0, 0.1) : rng.uniform(0.7, 0.85));
  s.doorway_w = static_cast<float>(rng.uniform(0.12, 0.25));
  return s;
}

FrameParams make_frame(uint64_t seed, int person, int session, int pose) {
  return make_frame(seed, person, session, pose, Distractors::none());
}

namespace {

// Tags of the distractors' sub-streams (never reorder: the seeds' frames depend on them).
enum class Kind : uint64_t { lean = 1, shadow, hand, chair, second_person, off_centre, empty };

Rng distractor_rng(uint64_t seed, Kind kind, int person, int session, int pose) {
  return Rng(hash_key({seed, static_cast<uint64_t>(Stream::distractor), static_cast<uint64_t>(kind),
                       static_cast<uint64_t>(person), static_cast<uint64_t>(session),
                       static_cast<uint64_t>(pose)}));
}

constexpr Rgb kChair[] = {{0.06f, 0.06f, 0.07f}, {0.30f, 0.30f, 0.32f}, {0.15f, 0.20f, 0.35f},
                          {0.40f, 0.26f, 0.14f}, {0.55f, 0.15f, 0.12f}};

// Draws the distractors of one frame. Every kind draws its chance and all its parameters, used or
// not, from its own stream: a rate moves only its own distractor.
void draw_distractors(uint64_t seed, int person, int session, int pose, const Distractors& d,
                      FrameParams& f) {
  {
    Rng rng = distractor_rng(seed, Kind::empty, person, session, pose);
    f.no_person = rng.chance(d.empty);
    f.empty_kind = modulo_below(rng, 4);
  }
  {
    Rng rng = distractor_rng(seed, Kind::off_centre, person, session, pose);
    const bool on = rng.chance(d.off_centre);
    const double side = rng.chance(0.5) ? 1.0 : -1.0;
    const double x = side * rng.uniform(80, 250), y = rng.uniform(-150, 150);
    if (on) {
      f.off_centre = true;
      f.offset_x = static_cast<float>(x * f.distance / 1000);
      f.offset_y = static_cast<float>(y * f.distance / 1000);
    }
  }
  {
    Rng rng = distractor_rng(seed, Kind::lean, person, session, pose);
    const bool on = rng.chance(d.lean);
    const double lean = rng.uniform(50, 200);
    f.lean = on ? static_cast<float>(lean) : 0.0f;
  }
  {
    Rng rng = distractor_rng(seed, Kind::shadow, person, session, pose);
    f.shadow = rng.chance(d.shadow);
    f.shadow_band = static_cast<float>(rng.uniform(12, 40));
    f.shadow_widen = 2 + modulo_below(rng, 4);
  }
  {
    Rng rng = distractor_rng(seed, Kind::hand, person, session, pose);
    f.hand = rng.chance(d.hand);
    f.hand_dz = static_cast<float>(rng.uniform(150, 400));
    f.hand_cover = static_cast<float>(rng.uniform(0.10, 0.35));
    f.hand_dir = static_cast<float>(rng.uniform(-40, 220) * kDeg);  // beside or below the face
    f.hand_roll = static_cast<float>(rng.normal(0, 20, -35, 35) * kDeg);
    f.hand_size = static_cast<float>(rng.normal(1, 0.07, 0.85, 1.15));
    f.hand_left = rng.chance(0.5);
  }
  {
    Rng rng = distractor_rng(seed, Kind::chair, person, session, pose);
    f.chair = rng.chance(d.chair);
    f.chair_width = static_cast<float>(rng.uniform(400, 550));
    f.chair_gap = static_cast<float>(rng.uniform(100, 300));
    f.chair_x = static_cast<float>(rng.uniform(-120, 120));
    f.chair_rise = static_cast<float>(rng.uniform(0, 250));
    f.chair_thickness = static_cast<float>(rng.uniform(50, 90));
    f.chair_recline = static_cast<float>(rng.uniform(0, 15) * kDeg);
    f.chair_color = jitter(rng, kChair[modulo_below(rng, 5)], 0.1);
  }
  {
    Rng rng = distractor_rng(seed, Kind::second_person, person, session, pose);
    f.second_person = rng.chance(d.second_person);
    f.second_identity = 1000000000 + modulo_below(rng, 1000000);
    f.second_pose = 1 + modulo_below(rng, kPoseCount);
    f.second_dz = static_cast<float>(rng.uniform(300, 1200));
    f.second_x = static_cast<float>((rng.chance(0.5) ? 1 : -1) * rng.uniform(0.45, 0.85));
    f.second_y = static_cast<float>(rng.uniform(-150, 60));
  }
  if (f.no_person) {  // an empty scene has no person to lean, hold a hand or stand behind
    f.off_centre = f.shadow = f.hand = f.second_person = false;
    f.lean = 0;
    f.chair = f.empty_kind == 1 || f.empty_kind == 2;
  }
}

}  // namespace

FrameParams make_frame(uint64_t seed, int person, int session, int pose, const Distractors& d) {
  Rng rng(hash_key({seed, static_cast<uint64_t>(Stream::frame), static_cast<uint64_t>(person),
                    static_cast<uint64_t>(session), static_cast<uint64_t>(pose)}));
  FrameParams f;
  const PoseDegrees& p = kPoseTable[pose - 1];
  f.yaw = static_cast<float>((p.yaw + rng.normal(0, 2.0, -4, 4)) * kDeg);
  f.pitch = static_cast<float>((p.pitch + rng.normal(0, 2.0, -4, 4)) * kDeg);
  f.roll = static_cast<float>((p.roll + rng.normal(0, 1.5, -3, 3)) * kDeg);
  const double e = rng.uniform01();
  f.expression = e < 0.4    ? Expression::neutral
                 : e < 0.65 ? Expression::smile
                 : e < 0.8  ? Expression::open_mouth
                            : Expression::raised_brows;
  f.expression_amount = static_cast<float>(rng.uniform(0.5, 1.0));
  // One draw mapped to the range: version 1's range (625-1060) gives version 1's distances.
  f.distance = static_cast<float>(static_cast<double>(d.min_distance) +
                                  (static_cast<double>(d.max_distance) - d.min_distance) * rng.uniform01());
  f.offset_x = static_cast<float>(rng.uniform(-60, 60));
  f.offset_y = static_cast<float>(rng.uniform(-60, 30));
  f.light_jitter_az = static_cast<float>(rng.normal(0, 8) * kDeg);
  f.light_jitter_el = static_cast<float>(rng.normal(0, 5) * kDeg);
  f.light_gain = static_cast<float>(rng.normal(1, 0.1, 0.75, 1.25));
  f.exposure = static_cast<float>(rng.normal(1, 0.06, 0.85, 1.15));
  f.color_noise = static_cast<float>(rng.uniform(1.5, 4.0));
  f.gaze_x = static_cast<float>(rng.normal(0, 1.2, -3, 3));
  f.gaze_y = static_cast<float>(rng.normal(0, 0.6, -1.5, 1.5));
  f.body_yaw = static_cast<float>(rng.uniform(0.15, 0.4));
  draw_distractors(seed, person, session, pose, d, f);
  return f;
}

}  // namespace faceid::synth
