#include "synth/render.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "faceid/core/error.hpp"
#include "synth/raster.hpp"
#include "synth/scene.hpp"
#include "synth/sensor.hpp"
#include "synth/streams.hpp"

namespace faceid::synth {

namespace {

inline float pow16(float x) {
  x *= x;
  x *= x;
  x *= x;
  return x * x;
}

inline float luminance(const Rgb& c) { return 0.3f * c.r + 0.59f * c.g + 0.11f * c.b; }

inline uint8_t to_byte(float v) {
  return static_cast<uint8_t>(static_cast<int>(std::min(std::max(v * 255.0f + 0.5f, 0.0f), 255.0f)));
}

constexpr float kTwoPi = 6.28318530717959f;
constexpr Rgb kWearerEyes{0.07f, 0.05f, 0.045f};

// Bilinear lookup of a BGR texture at pixel coordinates (u, v); outside it (`inside` false): a
// black frame (the screen's bezel).
Rgb sample_texture(const cv::Mat& tex, float u, float v, bool& inside) {
  const int x0 = static_cast<int>(std::floor(u)), y0 = static_cast<int>(std::floor(v));
  inside = !(x0 < 0 || y0 < 0 || x0 + 1 >= tex.cols || y0 + 1 >= tex.rows);
  if (!inside) return Rgb{0.03f, 0.03f, 0.03f};
  const float fx = u - static_cast<float>(x0), fy = v - static_cast<float>(y0);
  const uint8_t* r0 = tex.ptr<uint8_t>(y0) + 3 * x0;
  const uint8_t* r1 = tex.ptr<uint8_t>(y0 + 1) + 3 * x0;
  float bgr[3];
  for (int k = 0; k < 3; ++k) {
    const float top = r0[k] + fx * (r0[3 + k] - r0[k]);
    const float bottom = r1[k] + fx * (r1[3 + k] - r1[k]);
    bgr[k] = (top + fy * (bottom - top)) * (1.0f / 255.0f);
  }
  return Rgb{bgr[2], bgr[1], bgr[0]};
}

// Where a rigid mask covers the head (rest coordinates): the face from the chin to the hairline,
// with holes at the eyes.
struct MaskHit {
  float cover = 0;      // 1 on the mask, fading to 0 at its edge
  bool eye_hole = false;
};

MaskHit mask_hit(const Face& f, const Eigen::Vector3f& rest, const AlbedoInfo& info) {
  MaskHit hit;
  const float x = rest.x(), y = rest.y();
  if (rest.z() < 0.25f * f.c || y < f.chin_y - 12 || y > f.hairline_y) return hit;
  const float ex = (std::fabs(x) - f.eye_x) / (1.2f * f.eye_w), ey = (y - f.eye_y) / (2.0f * f.eye_h);
  if (ex * ex + ey * ey < 1) {
    hit.eye_hole = true;
    return hit;
  }
  const float edge = std::min({(rest.z() - 0.25f * f.c) / 15.0f, (f.hairline_y - y) / 8.0f, 1.0f});
  hit.cover = std::max(0.0f, edge) * (1 - info.hair);
  return hit;
}

inline float clamp01(float v) { return std::min(1.0f, std::max(0.0f, v)); }
inline Rgb mix(const Rgb& a, const Rgb& b, float t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}
inline Rgb scaled(const Rgb& c, float s) { return {c.r * s, c.g * s, c.b * s}; }

float hair_dropout_of(const Face& f) { return 0.03f + 0.25f * (1 - std::min(1.0f, luminance(f.hair) * 2)); }

// A mask make other than the plain cast (MaskMake): the cover (paint or material, grain, seam),
// its eye holes with the wearer's real eyes, the wearer's own head or the head form beyond it.
// `albedo`, `ks`, `dropout` hold the subject's own shading on entry.
void shade_mask(const Face& f, const AttackLook& att, const Eigen::Vector3f& rest, Rgb& albedo, float& ks,
                float& z, float& dropout) {
  const float x = rest.x(), y = rest.y();
  Rgb outside = albedo;
  float outside_ks = ks;
  if (att.make == MaskMake::head_form) {
    outside = att.form_color;
    outside_ks = 0.03f;
    dropout = 0.002f;
  } else if (att.has_wearer) {
    AlbedoInfo wi;
    outside = head_albedo(att.wearer, x, y, rest.z(), wi);
    outside_ks = 0.07f + 0.06f * wi.hair;
    dropout = 0.002f + wi.hair * hair_dropout_of(att.wearer);
  }
  const float soft = att.edge_soft, soft_y = std::min(att.edge_soft, 8.0f);
  const float top = f.hairline_y + att.cover_top, bottom = std::max(f.chin_y - 12, att.cover_bottom);
  float cover = 0;
  if (y > bottom && y < top + soft_y) {
    cover = std::min({clamp01((rest.z() - 0.25f * f.c) / soft), clamp01((top - y) / soft_y + 0.5f),
                      clamp01((y - bottom) / soft_y + 0.5f)});
  }
  if (cover <= 0) {
    albedo = outside;
    ks = outside_ks;
    return;
  }
  if (att.eye_holes) {
    const float ex = (std::fabs(x) - f.eye_x) / (1.2f * f.eye_w), ey = (y - f.eye_y) / (2.0f * f.eye_h);
    if (ex * ex + ey * ey < 1) {
      // The wearer's real eye (and the skin around it) in the hole's shadow, behind the mask.
      AlbedoInfo wi;
      albedo = att.has_wearer ? scaled(head_albedo(att.wearer, x, y, rest.z(), wi), 0.6f) : kWearerEyes;
      ks = 0.06f;
      z += att.eye_recess;
      dropout = 0.002f;
      return;
    }
  }
  Rgb pa;
  if (att.make == MaskMake::head_form) {
    // The print: the subject's own albedo with the paper's contrast and ink gamut.
    pa = Rgb{(0.06f + att.gain * albedo.r) * att.tint.r, (0.06f + att.gain * albedo.g) * att.tint.g,
             (0.06f + att.gain * albedo.b) * att.tint.b};
  } else {
    AlbedoInfo pi;
    pa = head_albedo(att.paint, x, y, rest.z(), pi);
  }
  if (att.grain > 0) {
    const float g = surface_noise(att.paint.key ^ 0x9a1aULL, x * (1 / 1.5f), y * (1 / 1.5f));
    pa = scaled(pa, 1 + att.grain * (2 * g - 1));
  }
  if (att.fibre > 0) {
    const float n1 = surface_noise(att.paint.key ^ 0xf1b1ULL, x * 1.4f, y * 0.25f);
    const float n2 = surface_noise(att.paint.key ^ 0xf1b2ULL, (x + y) * 0.2f, (x - y) * 1.3f);
    const float blot = surface_noise(att.paint.key ^ 0xf1b3ULL, x * (1 / 12.0f), y * (1 / 12.0f));
    pa = scaled(pa, 1 + att.fibre * (n1 + n2 - 1) + 0.5f * att.fibre * (2 * blot - 1));
  }
  const float w = std::min(1.0f, 3 * cover);
  pa = scaled(pa, att.seam_shade + (1 - att.seam_shade) * cover);
  albedo = mix(outside, pa, w);
  ks = outside_ks + (att.mask_ks - outside_ks) * w;
  z -= att.seam_step * w;
  dropout = 0.002f + (dropout - 0.002f) * (1 - w);
}

// The shadow band's second half: in every column, the neck pixels within the band below the
// lowest head pixel above them become holes (the first half, neck points above the chin's height
// in body coordinates, is marked while shading), and the projector shadows are widened.
void shadow_band(const Scene& sc, IdealDepth& ideal) {
  const int w = ideal.width, h = ideal.height;
  const uint8_t head = static_cast<uint8_t>(Part::head), neck = static_cast<uint8_t>(Part::neck);
  for (int x = 0; x < w; ++x) {
    int last_head = -1;
    for (int y = 0; y < h; ++y) {
      const size_t i = static_cast<size_t>(y) * w + x;
      if (ideal.part[i] == head) {
        last_head = y;
      } else if (ideal.part[i] == neck && last_head >= 0 &&
                 static_cast<float>(y - last_head) * ideal.z[i] <= sc.frame.shadow_band * kDepthCamera.fy) {
        ideal.dropout[i] = 2;
      }
    }
  }
  ideal.shadow_widen = sc.frame.shadow_widen;
}

}  // namespace

void shade(const Scene& sc, const std::vector<Fragment>& frags, cv::Mat& color, IdealDepth& ideal) {
  const Mesh& mesh = sc.mesh;
  const Camera& cam = kColorCamera;
  thread_local cv::Mat lens_mask_buffer;
  cv::Mat lens_mask;
  if (sc.face.glasses) {
    lens_mask_buffer.create(cam.height, cam.width, CV_8UC1);
    lens_mask_buffer.setTo(0);
    lens_mask = lens_mask_buffer;
    for (int side = 0; side < 2; ++side) {
      // An empty scene keeps its identity's glasses but has no head, hence no lens outline.
      if (sc.lens_outline[side].size() < 3) continue;
      const std::vector<std::vector<cv::Point>> poly{sc.lens_outline[side]};
      cv::fillPoly(lens_mask, poly, cv::Scalar(side + 1));
    }
  }
  ideal.reset(kDepthCamera.width, kDepthCamera.height);
  color.create(cam.height, cam.width, CV_8UC3);
  const Eigen::Vector3f& light = sc.light_dir;
  const Rgb& lc = sc.light_color;
  const Face& face = sc.face;
  const SessionParams& ses = sc.session;
  const float wall_shade = sc.ambient + sc.diffuse * std::max(0.0f, sc.wall_normal.dot(light));
  const Rgb wall{ses.wall.r * lc.r * wall_shade, ses.wall.g * lc.g * wall_shade,
                 ses.wall.b * lc.b * wall_shade};
  const Rgb door{ses.wall.r * 0.3f, ses.wall.g * 0.3f, ses.wall.b * 0.32f};
  const float hair_dropout = 0.03f + 0.25f * (1 - std::min(1.0f, luminance(face.hair) * 2));
  const Face& face2 = sc.second.face;
  const float hair_dropout2 = 0.03f + 0.25f * (1 - std::min(1.0f, luminance(face2.hair) * 2));
  const Rgb neck2{face2.skin.r * 0.93f, face2.skin.g * 0.92f, face2.skin.b * 0.92f};
  const Rgb hand_skin{face.skin.r * 0.97f, face.skin.g * 0.94f, face.skin.b * 0.94f};
  const Rgb hand_skin2{face2.skin.r * 0.97f, face2.skin.g * 0.94f, face2.skin.b * 0.94f};
  const float vig_norm = 0.2f / (cam.cx * cam.cx + cam.cy * cam.cy);
  const float inv_fx = 1.0f / cam.fx, inv_fy = 1.0f / cam.fy;
  const AttackLook& att = sc.attack;
  const Rgb& neck_skin = att.has_wearer ? att.wearer.skin : face.skin;
  const Rgb neck = att.make == MaskMake::head_form && att.surface == Surface::mask
                       ? att.form_color
                       : Rgb{neck_skin.r * 0.93f, neck_skin.g * 0.92f, neck_skin.b * 0.92f};

  for (int v = 0; v < cam.height; ++v) {
    uint8_t* out = color.ptr<uint8_t>(v);
    const Fragment* frow = frags.data() + static_cast<size_t>(v) * cam.width;
    const float ry = (static_cast<float>(v) - cam.cy) * inv_fy;
    const bool depth_row = (v & 1) == 0;
    const float dv = static_cast<float>(v) - cam.cy;
    const float row_gain = sc.frame.exposure;
    const float wall_grad = 0.92f + 0.12f * static_cast<float>(v) / cam.height;
    const uint8_t* lens_row = lens_mask.empty() ? nullptr : lens_mask.ptr<uint8_t>(v);
    for (int u = 0; u < cam.width; ++u) {
      const float rx = (static_cast<float>(u) - cam.cx) * inv_fx;
      const Fragment& fr = frow[u];
      const bool depth_px = depth_row && (u & 1) == 0;
      Rgb c;
      float z = 0, cos_inc = 1, dropout = 0.002f;
      Part part = Part::background;
      if (fr.tri < 0) {
        if (u >= sc.door_x0 && u < sc.door_x1) {
          c = door;  // an open door or corridor: nothing within the sensor's range
        } else {
          c = Rgb{wall.r * wall_grad, wall.g * wall_grad, wall.b * wall_grad};
          if (depth_px) {  // only depth pixels need the wall's distance
            const float nr = sc.wall_normal.x() * rx + sc.wall_normal.z();
            z = sc.wall_offset / nr;
            cos_inc = std::fabs(nr) / std::sqrt(rx * rx + ry * ry + 1);
          }
        }
      } else {
        const Tri& tri = mesh.tris[fr.tri];
        float bw[3];
        perspective_barycentrics(mesh, fr, bw);
        Eigen::Vector3f n =
            bw[0] * mesh.nrm[tri.v[0]] + bw[1] * mesh.nrm[tri.v[1]] + bw[2] * mesh.nrm[tri.v[2]];
        n.normalize();
        z = 1.0f / fr.inv_z;
        const float inv_len = 1.0f / std::sqrt(rx * rx + ry * ry + 1);
        const Eigen::Vector3f view(-rx * inv_len, -ry * inv_len, -inv_len);
        if ((tri.material == Material::glasses || tri.material == Material::sheet) && n.dot(view) < 0) {
          n = -n;  // two-sided
        }
        Rgb albedo, emissive;
        float ks = 0;
        const bool second = tri.who == 1;
        switch (tri.material) {
          case Material::head: {
            const Eigen::Vector3f rest =
                bw[0] * mesh.rest[tri.v[0]] + bw[1] * mesh.rest[tri.v[1]] + bw[2] * mesh.rest[tri.v[2]];
            AlbedoInfo info;
            albedo = head_albedo(second ? face2 : face, rest.x(), rest.y(), rest.z(), info);
            ks = 0.07f + 0.06f * info.hair;
            dropout = 0.002f + info.hair * (second ? hair_dropout2 : hair_dropout);
            part = Part::head;
            if (att.surface == Surface::mask && !second && att.make != MaskMake::plain) {
              shade_mask(face, att, rest, albedo, ks, z, dropout);
            } else if (att.surface == Surface::mask && !second) {
              const MaskHit hit = mask_hit(face, rest, info);
              if (hit.eye_hole) {
                albedo = kWearerEyes;  // the wearer's shadowed eyes, behind the mask
                ks = 0.02f;
                z += att.eye_recess;
              } else if (hit.cover > 0) {
                const float k = hit.cover;
                albedo = Rgb{albedo.r + k * (att.mask_color.r - albedo.r),
                             albedo.g + k * (att.mask_color.g - albedo.g),
                             albedo.b + k * (att.mask_color.b - albedo.b)};
                ks = 0.07f + 0.1f * k;  // a smoother, shinier material than skin
              }
            }
            break;
          }
          case Material::sheet: {
            const float tu = bw[0] * mesh.rest[tri.v[0]].x() + bw[1] * mesh.rest[tri.v[1]].x() +
                             bw[2] * mesh.rest[tri.v[2]].x();
            const float tv = bw[0] * mesh.rest[tri.v[0]].y() + bw[1] * mesh.rest[tri.v[1]].y() +
                             bw[2] * mesh.rest[tri.v[2]].y();
            bool printed = true;
            const Rgb t = sample_texture(att.texture, tu, tv, printed);
            if (att.surface == Surface::screen) {
              // Emissive: the display's own light, its colour shift and the moire beat between
              // its pixel grid and the camera's, plus a faint reflection of the room.
              const float beat =
                  1 + att.moire_depth * std::sin(kTwoPi * (tu * std::cos(att.moire_angle) +
                                                           tv * std::sin(att.moire_angle)) /
                                                 att.moire_period);
              emissive = Rgb{t.r * att.tint.r * att.gain * beat, t.g * att.tint.g * att.gain * beat,
                             t.b * att.tint.b * att.gain * beat};
              albedo = Rgb{0.04f, 0.04f, 0.04f};
              ks = 0.25f;  // glass
              dropout = 0.01f;
            } else {
              // Print: reduced contrast and ink gamut, a semi-gloss paper.
              albedo = printed ? Rgb{(0.06f + att.gain * t.r) * att.tint.r, (0.06f + att.gain * t.g) * att.tint.g,
                                     (0.06f + att.gain * t.b) * att.tint.b}
                               : Rgb{att.paper.r * att.tint.r, att.paper.g * att.tint.g, att.paper.b * att.tint.b};
              ks = att.sheet_ks;
            }
            part = Part::other;
            break;
          }
          case Material::neck: {
            albedo = second ? neck2 : neck;
            ks = 0.05f;
            part = Part::neck;
            if (sc.frame.shadow && !second && depth_px) {
              const float y = bw[0] * mesh.rest[tri.v[0]].y() + bw[1] * mesh.rest[tri.v[1]].y() +
                              bw[2] * mesh.rest[tri.v[2]].y();
              if (y > sc.neck_cut_y) dropout = 2;  // the shadow band under the chin: a hole
            }
            break;
          }
          case Material::torso:
          case Material::arm: {
            const float y = bw[0] * mesh.rest[tri.v[0]].y() + bw[1] * mesh.rest[tri.v[1]].y() +
                            bw[2] * mesh.rest[tri.v[2]].y();
            const SessionParams& cs = second ? sc.second.session : ses;
            const bool worn = att.has_wearer && !second;  // a mask's wearer: its own clothes
            const Rgb& cloth = worn ? att.wearer_clothing : cs.clothing;
            const float stripe = 1 + (worn ? att.wearer_stripes : cs.clothing_stripes) * std::sin(y * (1 / 9.0f));
            albedo = Rgb{cloth.r * stripe, cloth.g * stripe, cloth.b * stripe};
            part = tri.material == Material::arm ? Part::hand : Part::torso;
            break;
          }
          case Material::glasses:
            albedo = second ? face2.glasses_color : face.glasses_color;
            ks = 0.35f;
            dropout = 0.2f;
            part = Part::head;
            break;
          case Material::hand:
            albedo = second ? hand_skin2 : hand_skin;  // an attacker's hands holding a sheet
            ks = 0.05f;
            part = Part::hand;
            break;
          case Material::chair:
            albedo = sc.frame.chair_color;
            ks = 0.08f;
            part = Part::chair;
            break;
        }
        if (second && part != Part::hand) part = Part::second_person;
        const float shade = sc.ambient + sc.diffuse * std::max(0.0f, n.dot(light));
        float spec = 0;
        if (ks > 0) spec = ks * pow16(std::max(0.0f, n.dot((light + view).normalized())));
        c = Rgb{(albedo.r * shade + spec) * lc.r + emissive.r, (albedo.g * shade + spec) * lc.g + emissive.g,
                (albedo.b * shade + spec) * lc.b + emissive.b};
        cos_inc = std::fabs(n.dot(view));
      }
      if (lens_row && lens_row[u] > 0 && (fr.tri < 0 || z > sc.lens_z[lens_row[u] - 1] - 2)) {
        c = Rgb{c.r * 0.9f + 0.05f * lc.r, c.g * 0.93f + 0.05f * lc.g, c.b * 0.95f + 0.05f * lc.b};
        dropout = std::max(dropout, 0.3f);
      }
      const float du = static_cast<float>(u) - cam.cx;
      const float gain = row_gain * (1.0f - (du * du + dv * dv) * vig_norm);
      out[3 * u + 0] = to_byte(c.b * gain);
      out[3 * u + 1] = to_byte(c.g * gain);
      out[3 * u + 2] = to_byte(c.r * gain);
      if (depth_px) {
        const size_t di = static_cast<size_t>(v / 2) * ideal.width + u / 2;
        ideal.z[di] = z;
        ideal.dropout[di] = dropout;
        ideal.cos_inc[di] = cos_inc;
        ideal.part[di] = static_cast<uint8_t>(part);
      }
    }
  }
  if (sc.frame.shadow && sc.has_face) shadow_band(sc, ideal);
}

SynthFrame render_scene(const Scene& sc, uint64_t color_key, uint64_t depth_key, cv::Mat* parts) {
  // Scratch buffers live on with the thread: large fresh allocations cost page faults.
  thread_local std::vector<Fragment> frags;
  thread_local IdealDepth ideal;
  rasterize(sc.mesh, kColorCamera, frags);
  cv::Mat color;
  shade(sc, frags, color, ideal);
  simulate_color(color, sc.frame.color_noise, color_key);
  SynthFrame frame;
  frame.color = color;
  frame.depth_raw = simulate_depth(ideal, depth_key);
  frame.truth = face_truth(sc);
  if (parts) cv::Mat(ideal.height, ideal.width, CV_8UC1, ideal.part.data()).copyTo(*parts);
  return frame;
}

FaceTruth face_truth(const Scene& sc) {
  FaceTruth t;
  const FrameParams& fr = sc.frame;
  auto add = [&](bool on, const char* name) {
    if (on) t.distractors.emplace_back(name);
  };
  add(fr.lean > 0, "lean");
  add(fr.shadow, "shadow");
  add(fr.hand, "hand");
  add(fr.chair, "chair");
  add(fr.second_person, "second_person");
  add(fr.off_centre, "off_centre");
  add(fr.no_person, "empty");
  t.has_face = sc.has_face;
  if (!sc.has_face) return t;
  const Eigen::Vector3f& fc = sc.face_center;
  t.face_center_mm = {fc.x(), fc.y(), fc.z()};
  t.face_center_px = {kDepthCamera.fx * fc.x() / fc.z() + kDepthCamera.cx + 0.5f,
                      kDepthCamera.fy * fc.y() / fc.z() + kDepthCamera.cy + 0.5f};
  t.head_box_px = sc.head_box_px;
  t.head_z_mm = sc.head_center.z();
  return t;
}

void check_frame_indices(int person, int session, int pose) {
  if (person < 0) throw_bad_input(fmt::format("render_synth_frame: person must be >= 0, got {}", person));
  if (session < 1 || session > kMaxSessions) {
    throw_bad_input(
        fmt::format("render_synth_frame: session must be in 1..{}, got {}", kMaxSessions, session));
  }
  if (pose < 1 || pose > kPoseCount) {
    throw_bad_input(fmt::format("render_synth_frame: pose must be in 1..{}, got {}", kPoseCount, pose));
  }
}

SynthFrame render_frame(uint64_t seed, int person, int session, int pose, RenderTruth* truth) {
  return render_frame(seed, person, session, pose, Distractors{}, truth);
}

SynthFrame render_frame(uint64_t seed, int person, int session, int pose, const Distractors& distractors,
                        RenderTruth* truth) {
  check_frame_indices(person, session, pose);
  const Scene sc = build_scene(seed, person, session, make_frame(seed, person, session, pose, distractors));
  const uint64_t p = static_cast<uint64_t>(person), s = static_cast<uint64_t>(session),
                 q = static_cast<uint64_t>(pose);
  const uint64_t color_key = hash_key({seed, static_cast<uint64_t>(Stream::color_noise), p, s, q});
  const uint64_t depth_key = hash_key({seed, static_cast<uint64_t>(Stream::depth_noise), p, s, q});
  SynthFrame frame = render_scene(sc, color_key, depth_key, truth ? &truth->parts : nullptr);
  if (truth) {
    const Eigen::Vector3f& fc = sc.face_center;
    truth->face_px = {kDepthCamera.fx * fc.x() / fc.z() + kDepthCamera.cx,
                      kDepthCamera.fy * fc.y() / fc.z() + kDepthCamera.cy};
    truth->face_z = fc.z();
    truth->frame = sc.frame;
    truth->glasses = sc.face.glasses;
  }
  return frame;
}

}  // namespace faceid::synth

namespace faceid {

SynthFrame render_synth_frame(uint64_t seed, int person, int session, int pose) {
  return synth::render_frame(seed, person, session, pose, Distractors{}, nullptr);
}

SynthFrame render_synth_frame(uint64_t seed, int person, int session, int pose, const Distractors& distractors) {
  return synth::render_frame(seed, person, session, pose, distractors, nullptr);
}

}  // namespace faceid
