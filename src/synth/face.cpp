#include "synth/face.hpp"

#include <algorithm>
#include <cmath>

#include "synth/streams.hpp"

namespace faceid::synth {

namespace {

constexpr float kPi = 3.14159265358979f;

inline float clamp01(float v) { return v < 0 ? 0 : (v > 1 ? 1 : v); }
inline float lerp(float a, float b, float t) { return a + (b - a) * t; }
// Hermite step from e0 to e1; e0 > e1 gives the falling step.
inline float smoothstep(float e0, float e1, float x) {
  const float t = clamp01((x - e0) / (e1 - e0));
  return t * t * (3 - 2 * t);
}
// Unnormalised 2-D Gaussian, exactly 0 beyond 4 sigma (cheap to skip).
inline float gauss2(float dx, float sx, float dy, float sy) {
  const float u = dx / sx, v = dy / sy;
  const float q = u * u + v * v;
  return q > 16.0f ? 0.0f : std::exp(-0.5f * q);
}
inline float gauss1(float d, float s) {
  const float u = d / s;
  return u * u > 16.0f ? 0.0f : std::exp(-0.5f * u * u);
}

inline Rgb operator*(const Rgb& c, float s) { return {c.r * s, c.g * s, c.b * s}; }
inline Rgb operator*(const Rgb& a, const Rgb& b) { return {a.r * b.r, a.g * b.g, a.b * b.b}; }
inline Rgb mix(const Rgb& a, const Rgb& b, float t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

// Value noise in [0, 1): hashed lattice, smooth interpolation.
inline float lattice(uint64_t key, int ix, int iy) {
  const uint64_t h = splitmix_step(key ^ (static_cast<uint64_t>(static_cast<uint32_t>(ix)) << 32) ^
                                   static_cast<uint32_t>(iy));
  return static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
}
inline float value_noise(uint64_t key, float x, float y) {
  const float fx = std::floor(x), fy = std::floor(y);
  const int ix = static_cast<int>(fx), iy = static_cast<int>(fy);
  float tx = x - fx, ty = y - fy;
  tx = tx * tx * (3 - 2 * tx);
  ty = ty * ty * (3 - 2 * ty);
  const float v00 = lattice(key, ix, iy), v10 = lattice(key, ix + 1, iy);
  const float v01 = lattice(key, ix, iy + 1), v11 = lattice(key, ix + 1, iy + 1);
  return lerp(lerp(v00, v10, tx), lerp(v01, v11, tx), ty);
}

// The mouth line (curved upwards by a smile).
inline float mouth_line(const Face& f, float x) {
  const float xm = std::min(std::fabs(x), f.mouth_half_w * 1.2f);
  return f.mouth_y + f.smile_k * xm * xm;
}
// Gap between the lips (open mouth): the rest band [line - gap, line] is stretched open.
inline float mouth_gap(const Face& f) { return f.jaw_drop > 0 ? 4.5f : 0.0f; }

// The hairline height at |azimuth| `at`: over the forehead, down to the temples on the sides and
// to the nape at the back.
float hair_line(const Face& f, float at) {
  if (at < 0.6f) return f.hairline_y + 6 * (at / 0.6f) * (at / 0.6f);
  if (at < 1.8f) return lerp(f.hairline_y + 6, f.side_hair_y, smoothstep(0.6f, 1.35f, at));
  return lerp(f.side_hair_y, f.nape_y, smoothstep(1.8f, 2.4f, at));
}
// Hair coverage (colour): a sharp edge at the hairline.
float hair_mask(const Face& f, float at, float y) {
  const float line = hair_line(f, at);
  return smoothstep(line - 2, line + 3, y);
}
// Hair thickness profile: the hair thins out towards the hairline.
float hair_thickness(const Face& f, float at, float y) {
  const float line = hair_line(f, at);
  return smoothstep(line - 2, line + 20, y);
}

// Beard coverage: below the nose on the front, below the cheekbones on the sides, lips kept clear.
float beard_mask(const Face& f, float x, float y, float at) {
  if (f.beard_density <= 0) return 0;
  const float line = lerp(f.nose_tip_y - 7, f.eye_y - 22, smoothstep(0.45f, 1.3f, at));
  float m = smoothstep(line + 2, line - 4, y) * smoothstep(1.8f, 1.55f, at);
  if (m <= 0) return 0;
  const float my = mouth_line(f, x);
  const float lx = std::fabs(x) / (f.mouth_half_w + 3);
  const float low = my - mouth_gap(f);
  const float lip_zone =
      smoothstep(1.0f, 0.8f, lx) * smoothstep(low - 9, low - 7, y) * smoothstep(my + 7, my + 5, y);
  return m * (1 - lip_zone);
}

}  // namespace

Face make_face(const IdentityParams& id, const SessionParams& s, const FrameParams& fr) {
  Face f;
  f.a = id.head_width / 2;
  f.b = id.head_height / 2;
  f.c = id.head_depth / 2;
  f.hpow = 2.0f / id.squareness;
  f.jaw = id.jaw;
  f.eye_x = id.eye_spacing / 2;
  f.eye_y = id.eye_y;
  f.eye_depth = id.eye_depth;
  f.eye_w = id.eye_width;
  f.eye_h = id.eye_open;
  f.brow_y = id.eye_y + 13;
  f.brow_ridge = id.brow_ridge;
  f.cheek = id.cheekbones;
  f.nose_root_y = id.eye_y + 3;
  f.nose_len = id.nose_length;
  f.nose_tip_y = f.nose_root_y - id.nose_length;
  f.nose_half_w = id.nose_width / 2;
  f.nose_proj = id.nose_projection;
  f.mouth_y = f.nose_tip_y - id.philtrum;
  f.mouth_half_w = id.mouth_width / 2;
  f.lip = id.lip_thickness;
  f.chin = id.chin;
  f.chin_y = std::min(-0.86f * f.b, f.mouth_y - 24);
  f.ear = id.ear_size;
  f.hairline_y = id.eye_y + id.forehead;
  f.side_hair_y = id.eye_y + 14;
  f.nape_y = -0.45f * f.b;
  f.hair_volume = id.hair_volume * s.hair_volume;
  if (id.beard) {
    f.beard_density = id.beard_density;
    f.beard_len = id.beard_length;
  }
  const float k = fr.expression_amount;
  switch (fr.expression) {
    case Expression::neutral:
      break;
    case Expression::smile:
      f.mouth_half_w *= 1 + 0.1f * k;
      f.smile_k = 7 * k / (f.mouth_half_w * f.mouth_half_w);
      f.cheek_bulge = 3 * k;
      f.teeth = 1.3f * k;
      f.eye_h *= 1 - 0.15f * k;
      break;
    case Expression::open_mouth:
      f.jaw_drop = 8 + 10 * k;
      f.cavity = 10 + 10 * k;
      f.eye_h *= 1.05f;
      break;
    case Expression::raised_brows:
      f.brow_y += 5 * k;
      f.wrinkles = k > 0.6f;
      f.eye_h *= 1 + 0.25f * k;
      break;
  }
  f.gaze_x = fr.gaze_x;
  f.gaze_y = fr.gaze_y;

  const Rgb skin_change = Rgb{s.skin_tint.r, s.skin_tint.g, s.skin_tint.b} * s.skin_shift;
  f.skin = id.skin * skin_change;
  f.lips = id.lips * skin_change;
  f.iris = id.iris;
  f.hair = id.hair * s.hair_shift;
  f.brows = id.brows * (0.5f + 0.5f * s.hair_shift);
  f.beard = id.hair * (0.8f * s.hair_shift);
  f.brow_thickness = id.brow_thickness;
  f.brow_density = id.brow_density;
  f.skin_blotch = id.skin_blotch;
  f.freckles = id.freckles;
  f.cheek_red = id.cheek_red;
  f.key = id.texture_key;
  f.glasses = s.glasses_on;
  f.glasses_w = id.glasses_w;
  f.glasses_h = id.glasses_h;
  f.glasses_rim = id.glasses_rim;
  f.glasses_shape = id.glasses_shape;
  f.glasses_color = id.glasses_color;
  return f;
}

float feature_offset(const Face& f, float x, float y) {
  const float ax = std::fabs(x);
  const float dx = ax - f.eye_x, dy = y - f.eye_y;
  float d = 0;
  // Eye sockets with the eyeball and lids inside.
  d -= f.eye_depth * gauss2(dx, 13, dy - 1, 9);
  d += 0.45f * f.eye_depth * gauss2(dx, 7.5f, dy, 5);
  d += f.brow_ridge * gauss2(dx + 3, 18, y - f.brow_y, 6);
  d += f.cheek * gauss2(ax - f.eye_x - 12, 13, y - (f.eye_y - 24), 12);
  // Nose: a ridge growing from the nasion to the tip, then the retreating underside.
  if (ax < 40 && y < f.nose_root_y + 30 && y > f.nose_tip_y - 25) {
    const float t = (f.nose_root_y - y) / f.nose_len;
    float profile;
    if (t < 0) {
      profile = 0.3f * f.nose_proj * gauss1(t * f.nose_len, 9);
    } else if (t <= 1) {
      profile = f.nose_proj * (0.3f + 0.7f * std::pow(t, 1.3f));
    } else {
      profile = f.nose_proj * gauss1((t - 1) * f.nose_len, 6.0f);
    }
    const float sx = 4 + 4 * clamp01(t);
    d += profile * gauss1(x, sx);
    d += 0.15f * f.nose_proj * gauss2(x, 6, y - (f.nose_tip_y + 2), 5);
    d += 0.38f * f.nose_proj * gauss2(ax - (f.nose_half_w - 5), 4.5f, y - (f.nose_tip_y - 1), 5);
    d += 0.25f * f.nose_proj * gauss2(x, f.nose_half_w * 0.6f, y - (f.nose_tip_y + 4), 9);
  }
  // Upper jaw, lips, the fold under the lower lip, chin.
  d += 4.5f * gauss2(x, 17, y - (f.mouth_y + 10), 10);
  if (ax < f.mouth_half_w * 1.6f && std::fabs(y - f.mouth_y) < 30) {
    const float my = mouth_line(f, x);
    const float lx = x / (f.mouth_half_w * 0.8f);
    const float lip_x = std::exp(-lx * lx * lx * lx);
    d += f.lip * lip_x * (gauss1(y - my - 3.2f, 2.6f) + 1.1f * gauss1(y - (my - mouth_gap(f) - 4.2f), 3.2f));
  }
  d -= 1.5f * gauss2(x, 12, y - (f.mouth_y - mouth_gap(f) - 13), 3.5f);
  d += f.chin * gauss2(x, 15, y - f.chin_y, 11);
  if (f.cheek_bulge > 0) d += f.cheek_bulge * gauss2(ax - 30, 12, y - (f.mouth_y + 14), 10);
  return d;
}

void head_point(const Face& f, float theta, float phi, float pos[3], float rest[3]) {
  const float st = std::sin(theta), ct = std::cos(theta);
  const float sp = std::sin(phi), cp = std::max(0.0f, std::cos(phi));
  const float hx = std::copysign(std::pow(std::fabs(st), f.hpow), st);
  const float hz = std::copysign(std::pow(std::fabs(ct), f.hpow), ct);
  const float front = smoothstep(-0.2f, 0.6f, hz);
  float kx = cp, kz = cp, y;
  if (sp < 0) {
    // The lower face is filled in towards a jaw and chin; the back of the skull ends higher.
    kz = lerp(cp, std::pow(cp, 0.35f), front);
    kx = lerp(cp, std::pow(cp, 0.6f), front) * (1 + f.jaw * gauss1(-sp - 0.55f, 0.22f));
    y = f.b * sp * lerp(0.62f, 1.0f, front);
  } else {
    y = f.b * sp;
  }
  const float x = f.a * kx * hx, z = f.c * kz * hz;
  rest[0] = x;
  rest[1] = y;
  rest[2] = z;

  const float wf = smoothstep(0.3f, 0.75f, hz);
  const float dz = wf > 0 ? wf * feature_offset(f, x, y) : 0.0f;
  const float at = std::fabs(theta);
  const float ear = f.ear * gauss2(at - 1.68f, 0.14f, y - (f.eye_y - 12), 15);
  const float cover = f.hair_volume * hair_thickness(f, at, y) + f.beard_len * beard_mask(f, x, y, at);
  // Hair and beard grow along the base normal.
  float nx = x / (f.a * f.a), ny = y / (f.b * f.b), nz = z / (f.c * f.c);
  const float inv = 1.0f / std::sqrt(nx * nx + ny * ny + nz * nz + 1e-12f);
  nx *= inv;
  ny *= inv;
  nz *= inv;
  float px = x + nx * cover + std::copysign(ear, x);
  float py = y + ny * cover;
  float pz = z + dz + nz * cover;
  if (f.jaw_drop > 0) {
    const float my = mouth_line(f, x);
    const float gap = mouth_gap(f);
    const float s = smoothstep(0.3f, gap - 0.3f, my - y) * smoothstep(-0.3f, 0.5f, hz);
    py -= f.jaw_drop * s;
    pz -= 0.3f * f.jaw_drop * s;
    pz -= wf * f.cavity * gauss2(x, f.mouth_half_w * 0.55f, y - (my - 0.5f * gap), gap / 3);
  }
  pos[0] = px;
  pos[1] = py;
  pos[2] = pz;
}

float surface_noise(uint64_t key, float x, float y) { return value_noise(key, x, y); }

Rgb head_albedo(const Face& f, float x, float y, float z, AlbedoInfo& info) {
  const float ax = std::fabs(x);
  const float at = std::fabs(std::atan2(x / f.a, z / f.c));
  // Skin with low-frequency blotches and fine grain.
  const float n1 = value_noise(f.key, x * (1 / 22.0f), y * (1 / 22.0f));
  const float n2 = value_noise(f.key ^ 0x5555ULL, x * (1 / 3.0f), y * (1 / 3.0f));
  Rgb c = f.skin * (1 + f.skin_blotch * (2 * n1 - 1) + 0.025f * (2 * n2 - 1));
  const float dxe = ax - f.eye_x, dye = y - f.eye_y;
  const float red = f.cheek_red * gauss2(dxe - 4, 14, dye + 30, 12);
  c.r += red;
  c.g -= 0.5f * red;
  c.b -= 0.3f * red;
  if (f.freckles > 0 && y > f.mouth_y && at < 1.0f) {
    const float fn = value_noise(f.key ^ 0xf0f0ULL, x * (1 / 2.2f), y * (1 / 2.2f));
    if (fn > 1 - 0.22f * f.freckles) c = c * 0.82f;
  }
  c = c * (1 - 0.07f * gauss2(dxe, 10, dye + 8, 4));  // under-eye shadow
  // Nostrils (seen when the head tilts up).
  c = c * (1 - 0.65f * gauss2(ax - 0.42f * f.nose_half_w, 2.2f, y - (f.nose_tip_y - 5), 1.3f));

  // Lips and the mouth opening.
  const float my = mouth_line(f, x);
  if (ax < f.mouth_half_w && y < my + 14 && y > my - 20) {
    const float lx = ax / f.mouth_half_w;
    const float taper = std::sqrt(1 - lx * lx);
    const float gap = mouth_gap(f);
    const float up = (0.9f * f.lip + 2.6f) * taper + 0.4f;
    const float lo = (1.1f * f.lip + 3.2f) * taper + 0.4f;
    float w;
    if (y >= my) {
      w = smoothstep(up + 0.6f, up - 0.6f, y - my);
    } else if (y >= my - gap) {
      w = 0;
    } else {
      w = smoothstep(lo + 0.6f, lo - 0.6f, my - gap - y);
    }
    c = mix(c, f.lips, w * smoothstep(1.0f, 0.85f, lx));
    const float inside = my - y;  // depth into the rest band of the opening
    if (gap > 0 && inside > 0.2f && inside < gap - 0.2f && lx < 0.9f) {
      const Rgb dark{0.22f, 0.06f, 0.06f};
      const Rgb teeth{0.84f, 0.81f, 0.72f};
      c = (inside < 1.2f && lx < 0.6f) ? teeth * 0.9f : dark * (0.5f + 0.5f * lx);
    } else if (gap == 0 && f.teeth > 0 && std::fabs(y - my) < f.teeth * taper && lx < 0.8f) {
      c = Rgb{0.82f, 0.80f, 0.70f} * (0.75f + 0.25f * taper);
    } else if (gap == 0 && std::fabs(y - my) < 0.45f) {
      c = c * 0.45f;
    }
  }

  // Eyes: almond opening, sclera, iris, pupil, lash line.
  if (std::fabs(dxe) < f.eye_w && std::fabs(dye) < f.eye_h + 3) {
    const float u = dxe / f.eye_w;
    const float hh = f.eye_h * std::pow(1 - u * u, 0.6f);
    const float top = hh + 0.3f, bottom = -0.85f * hh;
    if (dye < top && dye > bottom) {
      const float sx = x - std::copysign(f.eye_x, x) - f.gaze_x;
      const float sy = dye - f.gaze_y;
      const float r = std::sqrt(sx * sx + sy * sy);
      Rgb e{0.86f, 0.83f, 0.79f};
      e = e * (0.78f + 0.22f * (1 - u * u));
      if (r < 5.8f) {
        const float tex = value_noise(f.key ^ 0x1215ULL, std::atan2(sy, sx) * 6, r * 0.8f);
        e = f.iris * (0.7f + 0.6f * tex);
        if (r > 5.0f) e = e * 0.6f;
        if (r < 2.2f) e = Rgb{0.03f, 0.03f, 0.03f};
      }
      if (dye > top - 1.2f) e = e * 0.55f;
      c = e;
    } else if (dye >= top && dye < top + 1.3f) {
      c = mix(c, Rgb{0.05f, 0.04f, 0.04f}, 0.75f);
    }
  }

  // Eyebrows: an arch from the inner to the outer end, thinning outwards.
  const float bt = (ax - (f.eye_x - 15)) / 34;
  if (bt > -0.1f && bt < 1.1f && y > f.brow_y - 6 && y < f.brow_y + 12) {
    const float yc = f.brow_y - 1 + 4 * std::sin(kPi * std::pow(clamp01(bt), 0.75f));
    const float th = 0.5f * f.brow_thickness * (1 - 0.55f * clamp01(bt));
    const float w = smoothstep(th + 0.6f, th - 0.6f, std::fabs(y - yc)) * smoothstep(-0.1f, 0.05f, bt) *
                    smoothstep(1.1f, 0.9f, bt);
    if (w > 0) {
      const float hn = value_noise(f.key ^ 0xb0b0ULL, x * 1.3f, y * 0.5f);
      c = mix(c, f.brows, w * f.brow_density * (0.6f + 0.4f * hn));
    }
  }
  if (f.wrinkles && ax < 45 && y > f.brow_y + 8 && y < f.brow_y + 35) {
    for (int i = 0; i < 3; ++i) {
      const float y0 = f.brow_y + 12 + 7 * i + 1.5f * std::sin(x / 20);
      c = c * (1 - 0.1f * gauss1(y - y0, 0.7f));
    }
  }

  // Beard and stubble.
  const float bm = beard_mask(f, x, y, at);
  if (bm > 0) {
    const float bn = value_noise(f.key ^ 0xbeefULL, x * 1.1f, y * 1.1f);
    const float cover = bm * clamp01(f.beard_density * 1.3f * (0.55f + 0.6f * bn));
    c = mix(c, f.beard, cover);
  }

  // Scalp hair with strands and large-scale variation.
  const float hm = hair_mask(f, at, y);
  info.hair = hm;
  if (hm > 0) {
    const float strand = value_noise(f.key ^ 0x4a1ULL, (x + z) * 0.8f, y * 0.12f);
    const float broad = value_noise(f.key ^ 0x4a2ULL, x * (1 / 30.0f), y * (1 / 30.0f));
    c = mix(c, f.hair * (0.7f + 0.35f * strand + 0.25f * broad), hm);
  }
  return c;
}

}  // namespace faceid::synth
