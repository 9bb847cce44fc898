#include "synth/scene.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <Eigen/Geometry>

namespace faceid::synth {

namespace {

constexpr float kPi = 3.14159265358979f;
constexpr int kThetaSteps = 160;  // head mesh columns (azimuth, periodic)
constexpr int kPhiSteps = 111;    // head mesh rows (elevation, pole to pole)

float window(float x, float lo, float hi, float soft) {
  auto step = [](float e0, float e1, float v) {
    const float t = std::clamp((v - e0) / (e1 - e0), 0.0f, 1.0f);
    return t * t * (3 - 2 * t);
  };
  return step(lo - soft, lo + soft, x) * step(hi + soft, hi - soft, x);
}

// Samples of [lo, hi] spaced so that their density follows `density`: count points, the first
// at lo; the last at hi when `closed`, else one step before (periodic).
template <class Density>
std::vector<float> warped_samples(float lo, float hi, int count, bool closed, Density density) {
  constexpr int kFine = 8192;
  std::vector<double> cdf(kFine + 1, 0.0);
  for (int i = 0; i < kFine; ++i) {
    const float x = lo + (hi - lo) * (static_cast<float>(i) + 0.5f) / kFine;
    cdf[i + 1] = cdf[i] + density(x);
  }
  std::vector<float> out(count);
  const int intervals = closed ? count - 1 : count;
  size_t j = 0;
  for (int k = 0; k < count; ++k) {
    const double target = cdf[kFine] * k / intervals;
    while (j + 1 < cdf.size() - 1 && cdf[j + 1] < target) ++j;
    const double span = cdf[j + 1] - cdf[j];
    const double frac = span > 0 ? (target - cdf[j]) / span : 0.0;
    out[k] = lo + (hi - lo) * static_cast<float>((static_cast<double>(j) + frac) / kFine);
  }
  if (closed) out[count - 1] = hi;
  return out;
}

struct HeadGrid {
  std::vector<float> theta, phi;
};

// The head mesh is denser over the face (front azimuths, eye-to-chin elevations).
const HeadGrid& head_grid() {
  static const HeadGrid grid = [] {
    HeadGrid g;
    g.theta = warped_samples(-kPi, kPi, kThetaSteps, false,
                             [](float t) { return 1.0f + 2.0f * window(t, -0.95f, 0.95f, 0.15f); });
    g.phi = warped_samples(-kPi / 2, kPi / 2, kPhiSteps, true,
                           [](float p) { return 1.0f + 1.6f * window(p, -1.25f, 0.7f, 0.15f); });
    return g;
  }();
  return grid;
}

}  // namespace

Eigen::Matrix3f pose_rotation(float yaw, float pitch, float roll) {
  // World frame: x right, y up, z towards the camera. Yaw turns the face towards +x, pitch
  // lifts it towards +y, roll tips the top of the head towards +x.
  const Eigen::Matrix3f ry = Eigen::AngleAxisf(yaw, Eigen::Vector3f::UnitY()).toRotationMatrix();
  const Eigen::Matrix3f rx = Eigen::AngleAxisf(-pitch, Eigen::Vector3f::UnitX()).toRotationMatrix();
  const Eigen::Matrix3f rz = Eigen::AngleAxisf(-roll, Eigen::Vector3f::UnitZ()).toRotationMatrix();
  return ry * rx * rz;
}

namespace {

void add_tri(Mesh& m, int a, int b, int c, Material mat) { m.tris.push_back({{a, b, c}, mat}); }

// A two-sided quad with its own four vertices (flat normal).
void add_quad(Mesh& m, const Eigen::Vector3f& a, const Eigen::Vector3f& b, const Eigen::Vector3f& c,
              const Eigen::Vector3f& d, Material mat) {
  const int base = static_cast<int>(m.pos.size());
  for (const auto* p : {&a, &b, &c, &d}) {
    m.pos.push_back(*p);
    m.rest.push_back(*p);
  }
  add_tri(m, base, base + 1, base + 2, mat);
  add_tri(m, base, base + 2, base + 3, mat);
}

}  // namespace

void add_grid_tris(Mesh& m, int base, int rows, int cols, Material mat, bool periodic) {
  for (int j = 0; j + 1 < rows; ++j) {
    for (int i = 0; i < (periodic ? cols : cols - 1); ++i) {
      const int i1 = (i + 1) % cols;
      const int a = base + j * cols + i, b = base + j * cols + i1;
      const int c = base + (j + 1) * cols + i, d = base + (j + 1) * cols + i1;
      add_tri(m, a, b, c, mat);
      add_tri(m, b, d, c, mat);
    }
  }
}

namespace {

// Glasses in head rest coordinates: two rims, a bridge, two temples. Returns the lens outlines.
void add_glasses(const Face& f, Mesh& m, int head_begin, int head_end,
                 std::vector<Eigen::Vector3f> lens[2], Eigen::Vector3f lens_center[2]) {
  const float gw = std::min(f.glasses_w, f.eye_x - 4);
  const float gh = f.glasses_h, rim = f.glasses_rim;
  const float cy = f.eye_y + 2;
  // The lens plane sits just in front of whatever the face has under the lenses.
  float zmax = -std::numeric_limits<float>::infinity();
  for (int v = head_begin; v < head_end; ++v) {
    const Eigen::Vector3f& r = m.rest[v];
    if (std::fabs(std::fabs(r.x()) - f.eye_x) < gw && std::fabs(r.x()) > 8 && r.y() > cy - gh &&
        r.y() < cy + gh + 4) {
      zmax = std::max(zmax, m.pos[v].z());
    }
  }
  const float zl = zmax + 4;
  constexpr int kRing = 32;
  const float e = 2.0f / f.glasses_shape;
  for (int side = 0; side < 2; ++side) {
    const float s = side == 0 ? -1.0f : 1.0f;
    const float cx = s * f.eye_x;
    auto at = [&](float x, float y) { return Eigen::Vector3f(x, y, zl - 0.14f * (x - cx) * s); };
    std::vector<Eigen::Vector3f> inner(kRing), outer(kRing);
    for (int k = 0; k < kRing; ++k) {
      const float w = 2 * kPi * static_cast<float>(k) / kRing;
      const float u = std::copysign(std::pow(std::fabs(std::cos(w)), e), std::cos(w));
      const float v = std::copysign(std::pow(std::fabs(std::sin(w)), e), std::sin(w));
      inner[k] = at(cx + gw * u, cy + gh * v);
      outer[k] = at(cx + (gw + rim) * u, cy + (gh + rim) * v);
    }
    for (int k = 0; k < kRing; ++k) {
      const int k1 = (k + 1) % kRing;
      add_quad(m, inner[k], outer[k], outer[k1], inner[k1], Material::glasses);
    }
    lens[side] = inner;
    lens_center[side] = at(cx, cy);
    // Temple: from the outer rim back over the ear.
    const float ty = cy + 0.3f * gh;
    const float x0 = cx + s * (gw + rim * 0.5f), x1 = s * (f.a + 5);
    const float z0 = at(x0, ty).z(), z1 = -0.15f * f.c;
    add_quad(m, {x0, ty - rim / 2, z0}, {x1, ty - rim / 2, z1}, {x1, ty + rim / 2, z1},
             {x0, ty + rim / 2, z0}, Material::glasses);
  }
  const float bx = f.eye_x - gw, by = cy + 0.25f * gh;
  add_quad(m, {-bx - 1, by, zl + 1}, {bx + 1, by, zl + 1}, {bx + 1, by + rim, zl + 1},
           {-bx - 1, by + rim, zl + 1}, Material::glasses);
}

}  // namespace

void compute_normals(Mesh& m) {
  m.nrm.assign(m.pos.size(), Eigen::Vector3f::Zero());
  for (const Tri& t : m.tris) {
    const Eigen::Vector3f& p0 = m.pos[t.v[0]];
    const Eigen::Vector3f n = (m.pos[t.v[1]] - p0).cross(m.pos[t.v[2]] - p0);
    for (int k = 0; k < 3; ++k) m.nrm[t.v[k]] += n;
  }
  for (auto& n : m.nrm) {
    const float len = n.norm();
    n = len > 0 ? Eigen::Vector3f(n / len) : Eigen::Vector3f(0, 0, -1);
  }
}

Scene build_scene(uint64_t seed, int person, int session, int pose) {
  return build_scene(seed, person, session, make_frame(seed, person, session, pose));
}

namespace {

const Eigen::Vector3f kFlip(1, -1, -1);  // world (y up, z to the camera) <-> camera

// Where one person's parts went in the mesh and how their rest coordinates map to the camera.
struct PersonBuild {
  int head_begin = 0, head_end = 0;    // head grid vertices
  int torso_begin = 0, torso_end = 0;  // torso vertices
  Eigen::Matrix3f rot = Eigen::Matrix3f::Identity();  // head pose
  Eigen::Vector3f pivot = Eigen::Vector3f::Zero(), place = Eigen::Vector3f::Zero();
  Eigen::Vector3f face_center{0, 0, 1};
  Eigen::Vector3f head_to_camera(const Eigen::Vector3f& p) const {
    return (rot * (p - pivot) + pivot + place).cwiseProduct(kFlip);
  }
};

// Appends a person: head with glasses (unless !with_head: a coat, torso only), neck and torso,
// in this order (the clean scene's pixels depend on it). lean > 0 shears the neck and torso
// towards the camera, pivoting at the hips, until the chest's nearest point is `lean` mm nearer
// than the face centre. `lens`, `lens_center`: the glasses' lens outlines, rest coordinates.
PersonBuild add_person(Mesh& m, const Face& f, const IdentityParams& id, const FrameParams& fr,
                       bool with_head, std::vector<Eigen::Vector3f> lens[2], Eigen::Vector3f lens_center[2]) {
  PersonBuild pb;
  pb.rot = pose_rotation(fr.yaw, fr.pitch, fr.roll);
  pb.pivot = Eigen::Vector3f(0, -0.55f * f.b, -0.2f * f.c);
  pb.place = Eigen::Vector3f(fr.offset_x, -fr.offset_y, -(fr.distance + f.c));
  pb.head_begin = static_cast<int>(m.pos.size());
  if (with_head) {
    // Head in rest coordinates, then rotated about the top of the neck, placed, y and z flipped.
    const HeadGrid& grid = head_grid();
    const int cols = static_cast<int>(grid.theta.size()), rows = static_cast<int>(grid.phi.size());
    m.pos.reserve(m.pos.size() + static_cast<size_t>(rows * cols) + 600);
    m.rest.reserve(m.pos.capacity());
    m.tris.reserve(m.tris.size() + static_cast<size_t>(2 * rows * cols) + 600);
    for (int j = 0; j < rows; ++j) {
      for (int i = 0; i < cols; ++i) {
        float p[3], r[3];
        head_point(f, grid.theta[i], grid.phi[j], p, r);
        m.pos.emplace_back(p[0], p[1], p[2]);
        m.rest.emplace_back(r[0], r[1], r[2]);
      }
    }
    pb.head_end = static_cast<int>(m.pos.size());
    add_grid_tris(m, pb.head_begin, rows, cols, Material::head);
    if (f.glasses) add_glasses(f, m, pb.head_begin, pb.head_end, lens, lens_center);
    for (size_t v = static_cast<size_t>(pb.head_begin); v < m.pos.size(); ++v) m.pos[v] = pb.head_to_camera(m.pos[v]);
    pb.face_center = pb.head_to_camera({0, f.eye_y, f.c});
  }
  pb.head_end = with_head ? pb.head_end : pb.head_begin;

  // Neck and torso in body coordinates (origin at the pivot), turned by part of the head yaw.
  const Eigen::Matrix3f body_rot = pose_rotation(fr.body_yaw * fr.yaw, 0, 0);
  auto body_to_camera = [&](const Eigen::Vector3f& q) -> Eigen::Vector3f {
    return (body_rot * q + pb.pivot + pb.place).cwiseProduct(kFlip);
  };
  constexpr int kNeckCols = 24, kNeckRows = 5;
  const float neck_rx = 0.8f * f.a, neck_rz = 0.62f * f.c, neck_z = -0.1f * f.c;
  const float neck_top = 0.3f * f.b, neck_bottom = -(0.45f * f.b + 110);
  std::vector<Eigen::Vector3f> neck, torso;
  for (int j = 0; j < kNeckRows; ++j) {
    const float y = neck_bottom + (neck_top - neck_bottom) * static_cast<float>(j) / (kNeckRows - 1);
    for (int i = 0; i < kNeckCols; ++i) {
      const float a = -kPi + 2 * kPi * static_cast<float>(i) / kNeckCols;
      neck.emplace_back(neck_rx * std::sin(a), y, neck_z + neck_rz * std::cos(a));
    }
  }
  constexpr int kTorsoCols = 48, kTorsoRows = 23;
  const float ws = id.shoulder_width / 2, ds = id.torso_depth / 2;
  const float torso_top = -(0.45f * f.b + 25), torso_z = -0.25f * f.c - 10;
  // 650 mm, or longer when the image shows more (far, raised): the body always leaves the image
  // at the bottom (camera Y of the bottom = offset_y + 0.55 b - torso_top + length).
  const float bottom_needed = (kDepthCamera.cy + 1) / kDepthCamera.fy * (fr.distance + f.c + 300) + 50;
  const float torso_length = std::max(650.0f, bottom_needed - (fr.offset_y + 0.55f * f.b - torso_top));
  for (int j = 0; j < kTorsoRows; ++j) {
    // Row 0 is the bottom; rows crowd towards the rounded shoulders.
    const float k = static_cast<float>(kTorsoRows - 1 - j) / (kTorsoRows - 1);
    const float t = torso_length * std::pow(k, 1.8f);
    // Sloping shoulders: the width grows quickly below the neck, then rounds off at the arms.
    const float sx = std::min(t, 130.0f) / 130.0f, sz = std::min(t, 45.0f) / 45.0f;
    const float rx = ws * std::pow(1 - (1 - sx) * (1 - sx) * (1 - sx), 0.5f) *
                     (1 - 0.06f * std::min(1.0f, t / torso_length));
    const float rz = ds * std::sqrt(1 - (1 - sz) * (1 - sz));
    for (int i = 0; i < kTorsoCols; ++i) {
      const float a = -kPi + 2 * kPi * static_cast<float>(i) / kTorsoCols;
      torso.emplace_back(rx * std::sin(a), torso_top - t, torso_z + rz * std::cos(a));
    }
  }
  // Leaning: z grows with the height above the hips (torso) and below the neck's top (neck).
  const float hips = torso_top - torso_length;
  auto torso_w = [&](float y) { return std::clamp((y - hips) / torso_length, 0.0f, 1.0f); };
  auto neck_w = [&](float y) { return std::clamp((neck_top - y) / (neck_top - torso_top), 0.0f, 1.0f); };
  float shear = 0;
  if (fr.lean > 0 && with_head) {
    const float target_z = pb.face_center.z() - fr.lean;
    auto nearest = [&](float sh) {
      float z = std::numeric_limits<float>::infinity();
      for (const auto& q : torso) z = std::min(z, body_to_camera(q + Eigen::Vector3f(0, 0, sh * torso_w(q.y()))).z());
      return z;
    };
    float lo = 0, hi = 1000;  // the nearest Z falls as the shear grows
    for (int it = 0; it < 30; ++it) {
      const float mid = 0.5f * (lo + hi);
      (nearest(mid) > target_z ? lo : hi) = mid;
    }
    shear = hi;
  }
  const int neck_base = static_cast<int>(m.pos.size());
  for (const auto& q : neck) {
    m.pos.push_back(body_to_camera(shear > 0 ? Eigen::Vector3f(q + Eigen::Vector3f(0, 0, shear * neck_w(q.y()))) : q));
    m.rest.push_back(q);
  }
  add_grid_tris(m, neck_base, kNeckRows, kNeckCols, Material::neck);
  pb.torso_begin = static_cast<int>(m.pos.size());
  for (const auto& q : torso) {
    m.pos.push_back(body_to_camera(shear > 0 ? Eigen::Vector3f(q + Eigen::Vector3f(0, 0, shear * torso_w(q.y()))) : q));
    m.rest.push_back(q);
  }
  pb.torso_end = static_cast<int>(m.pos.size());
  add_grid_tris(m, pb.torso_begin, kTorsoRows, kTorsoCols, Material::torso);
  return pb;
}

// A closed convex surface from its vertices (rows x cols grid, cols periodic) with every triangle
// turned to face away from `center`.
void add_closed_grid(Mesh& m, int base, int rows, int cols, Material mat, const Eigen::Vector3f& center) {
  const size_t first = m.tris.size();
  add_grid_tris(m, base, rows, cols, mat);
  for (size_t t = first; t < m.tris.size(); ++t) {
    Tri& tri = m.tris[t];
    const Eigen::Vector3f& p0 = m.pos[tri.v[0]];
    const Eigen::Vector3f n = (m.pos[tri.v[1]] - p0).cross(m.pos[tri.v[2]] - p0);
    if (n.dot(p0 - center) < 0) std::swap(tri.v[1], tri.v[2]);
  }
}

}  // namespace

// Rest coordinates are the local (axes) coordinates.
void add_ellipsoid(Mesh& m, const Eigen::Vector3f& center, const Eigen::Matrix3f& axes, const Eigen::Vector3f& r,
                   Material mat) {
  constexpr int kRows = 9, kCols = 14;
  const int base = static_cast<int>(m.pos.size());
  for (int j = 0; j < kRows; ++j) {
    const float phi = -kPi / 2 + kPi * static_cast<float>(j) / (kRows - 1);
    for (int i = 0; i < kCols; ++i) {
      const float th = 2 * kPi * static_cast<float>(i) / kCols;
      const Eigen::Vector3f local(r.x() * std::cos(phi) * std::cos(th), r.y() * std::sin(phi),
                                  r.z() * std::cos(phi) * std::sin(th));
      m.pos.push_back(center + axes * local);
      m.rest.push_back(local);
    }
  }
  add_closed_grid(m, base, kRows, kCols, mat, center);
}

namespace {

// A box with flat faces (four vertices each), faces turned outwards.
void add_box(Mesh& m, const Eigen::Vector3f (&c)[8], Material mat) {
  // Corner k: bit 0 = x max, bit 1 = y max, bit 2 = z max.
  static const int kFaces[6][4] = {{0, 1, 3, 2}, {4, 5, 7, 6}, {0, 1, 5, 4},
                                   {2, 3, 7, 6}, {0, 2, 6, 4}, {1, 3, 7, 5}};
  Eigen::Vector3f center = Eigen::Vector3f::Zero();
  for (const auto& p : c) center += p / 8;
  for (const auto& face : kFaces) {
    const int base = static_cast<int>(m.pos.size());
    for (int k : face) {
      m.pos.push_back(c[k]);
      m.rest.push_back(c[k]);
    }
    const size_t first = m.tris.size();
    add_tri(m, base, base + 1, base + 2, mat);
    add_tri(m, base, base + 2, base + 3, mat);
    for (size_t t = first; t < m.tris.size(); ++t) {
      Tri& tri = m.tris[t];
      const Eigen::Vector3f& p0 = m.pos[tri.v[0]];
      const Eigen::Vector3f n = (m.pos[tri.v[1]] - p0).cross(m.pos[tri.v[2]] - p0);
      if (n.dot(p0 - center) < 0) std::swap(tri.v[1], tri.v[2]);
    }
  }
}

Eigen::Vector2f project_depth(const Eigen::Vector3f& p) {
  return {kDepthCamera.fx * p.x() / p.z() + kDepthCamera.cx, kDepthCamera.fy * p.y() / p.z() + kDepthCamera.cy};
}

// The raised hand: palm facing the camera, four fingers, thumb and forearm, placed so that its
// silhouette covers about frame.hand_cover of the face region.
void add_hand(Mesh& m, const Scene& sc) {
  const FrameParams& fr = sc.frame;
  const Face& f = sc.face;
  const float s = fr.hand_size;
  const float zf = sc.face_center.z();
  const float zh = std::max(zf - fr.hand_dz, 450.0f);  // the Kinect reads nothing under 400 mm
  const float fx = kDepthCamera.fx;
  // The face region: an ellipse from the chin to the hairline, 0.8 head widths wide, as seen
  // frontally at the face centre's depth.
  const Eigen::Vector2f fc = project_depth(sc.face_center);
  const float face_a = 0.8f * f.a * fx / zf, face_b = 0.5f * (f.hairline_y - f.chin_y) * fx / zf;
  const float face_dy = (0.5f * (f.hairline_y + f.chin_y) - f.eye_y) * fx / zf;  // up from the eyes
  const Eigen::Vector2f face_mid(fc.x(), fc.y() - face_dy);
  // The hand's silhouette: an ellipse over palm and fingers, centred 40 mm above the palm centre.
  const float hand_a = 48 * s * fx / zh, hand_b = 88 * s * fx / zh;
  const float cr = std::cos(fr.hand_roll), sr = std::sin(fr.hand_roll);
  auto cover = [&](const Eigen::Vector2f& hc) {
    int in = 0, all = 0;
    constexpr int kGrid = 20;
    for (int j = 0; j < kGrid; ++j) {
      for (int i = 0; i < kGrid; ++i) {
        const float u = -1 + 2 * (i + 0.5f) / kGrid, v = -1 + 2 * (j + 0.5f) / kGrid;
        if (u * u + v * v > 1) continue;
        ++all;
        const float dx = face_mid.x() + u * face_a - hc.x(), dy = face_mid.y() + v * face_b - hc.y();
        const float lx = cr * dx + sr * dy, ly = -sr * dx + cr * dy;  // into the hand's frame
        in += (lx * lx) / (hand_a * hand_a) + (ly * ly) / (hand_b * hand_b) <= 1;
      }
    }
    return static_cast<float>(in) / static_cast<float>(all);
  };
  const Eigen::Vector2f dir(std::cos(fr.hand_dir), std::sin(fr.hand_dir));
  float lo = 0, hi = 2 * (face_a + face_b + hand_a + hand_b);  // cover(lo) >= target >= cover(hi)
  for (int it = 0; it < 20; ++it) {
    const float mid = 0.5f * (lo + hi);
    (cover(face_mid + mid * dir) > fr.hand_cover ? lo : hi) = mid;
  }
  const Eigen::Vector2f sil = face_mid + 0.5f * (lo + hi) * dir;
  // Hand frame in camera coordinates: x across the palm, y along the fingers (up the image when
  // unrolled), z out of the palm towards the camera.
  const Eigen::Vector3f ex(cr, sr, 0), ey(sr, -cr, 0), ez(0, 0, -1);
  Eigen::Matrix3f axes;
  axes << ex, ey, ez;
  const Eigen::Vector3f sil_cam((sil.x() - kDepthCamera.cx) * zh / fx, (sil.y() - kDepthCamera.cy) * zh / fx, zh);
  const Eigen::Vector3f palm = sil_cam - axes * Eigen::Vector3f(0, 40 * s, 0);
  auto at = [&](float x, float y, float z) -> Eigen::Vector3f { return palm + axes * Eigen::Vector3f(x, y, z) * s; };
  auto tilted = [&](float angle) -> Eigen::Matrix3f {  // turned in the palm plane
    return axes * Eigen::AngleAxisf(angle, Eigen::Vector3f::UnitZ()).toRotationMatrix();
  };
  const float side = fr.hand_left ? -1.0f : 1.0f;  // the thumb's side
  add_ellipsoid(m, palm, axes, Eigen::Vector3f(42, 48, 15) * s, Material::hand);
  // Index, middle, ring and little finger, from the thumb's side; fanned out a little.
  const float finger_x[4] = {27, 9, -9, -27}, finger_len[4] = {38, 40, 36, 30};
  for (int k = 0; k < 4; ++k) {
    const float x = side * finger_x[k], l = finger_len[k];
    const float splay = -0.06f * x / 9;
    add_ellipsoid(m, at(x - l * std::sin(splay), 44 + l * std::cos(splay), 0), tilted(splay),
                  Eigen::Vector3f(8.5f, l + 4, 8) * s, Material::hand);
  }
  const float thumb_angle = -side * 0.75f;  // pointing up and out
  add_ellipsoid(m, at(side * 50, 5, 4), tilted(thumb_angle), Eigen::Vector3f(10, 32, 10) * s, Material::hand);
  // The forearm: down from the wrist and away from the camera, in its sleeve.
  const Eigen::Matrix3f arm = axes * Eigen::AngleAxisf(0.45f, Eigen::Vector3f::UnitX()).toRotationMatrix();
  add_ellipsoid(m, palm + arm * Eigen::Vector3f(0, -(40 + 170) * s, 0), arm, Eigen::Vector3f(34, 185, 32) * s,
                Material::arm);
}

// A chair back: a box `width` wide whose front is `gap` behind the torso's back at shoulder
// height, reclining, from `rise` above the shoulders down to below the image.
void add_chair(Mesh& m, const FrameParams& fr, float torso_x, float torso_top_y, float torso_back_z) {
  const float x0 = torso_x + fr.chair_x - 0.5f * fr.chair_width, x1 = x0 + fr.chair_width;
  const float y0 = torso_top_y - fr.chair_rise, y1 = torso_top_y + 1200;  // camera Y is down
  const float z0 = torso_back_z + fr.chair_gap, z1 = z0 + fr.chair_thickness;
  const float tilt = std::tan(fr.chair_recline);
  Eigen::Vector3f c[8];
  for (int k = 0; k < 8; ++k) {
    const float y = (k & 2) ? y1 : y0;
    const float z = ((k & 4) ? z1 : z0) + (torso_top_y - y) * tilt;  // the top further back
    c[k] = Eigen::Vector3f((k & 1) ? x1 : x0, y, z);
  }
  add_box(m, c, Material::chair);
}

struct TorsoExtent {
  float x = 0, top_y = 0, back_z = 0;
};

TorsoExtent torso_extent(const Mesh& m, const PersonBuild& pb) {
  TorsoExtent e;
  e.top_y = std::numeric_limits<float>::infinity();
  e.back_z = -std::numeric_limits<float>::infinity();
  for (int v = pb.torso_begin; v < pb.torso_end; ++v) {
    const Eigen::Vector3f& p = m.pos[static_cast<size_t>(v)];
    e.x += p.x() / static_cast<float>(pb.torso_end - pb.torso_begin);
    e.top_y = std::min(e.top_y, p.y());
    e.back_z = std::max(e.back_z, p.z());
  }
  return e;
}

}  // namespace

void add_other_person(Scene& sc, uint64_t seed, int identity, const FrameParams& frame, bool with_head) {
  const IdentityParams id2 = make_identity(seed, identity);
  sc.second.present = true;
  sc.second.session = make_session(seed, identity, 1, id2);
  sc.second.face = make_face(id2, sc.second.session, frame);
  Mesh& m = sc.mesh;
  const size_t first = m.tris.size();
  std::vector<Eigen::Vector3f> lens2[2];
  Eigen::Vector3f center2[2];
  add_person(m, sc.second.face, id2, frame, with_head, lens2, center2);
  for (size_t t = first; t < m.tris.size(); ++t) m.tris[t].who = 1;
}

void fit_wall(Scene& sc) {
  for (const auto& p : sc.mesh.pos) sc.wall_offset = std::min(sc.wall_offset, sc.wall_normal.dot(p) - 100);
}

Scene build_scene(uint64_t seed, int person, int session, const FrameParams& frame) {
  return build_scene(seed, person, session, frame, FaceEdit{});
}

Scene build_scene(uint64_t seed, int person, int session, const FrameParams& frame, const FaceEdit& edit) {
  Scene sc;
  sc.identity = make_identity(seed, person);
  sc.session = make_session(seed, person, session, sc.identity);
  sc.frame = frame;
  FrameParams& fr = sc.frame;
  sc.face = make_face(sc.identity, sc.session, sc.frame);
  if (edit) edit(sc.face);
  const Face& f = sc.face;
  Mesh& m = sc.mesh;
  std::vector<Eigen::Vector3f> lens[2];
  Eigen::Vector3f lens_center[2];
  PersonBuild pb;
  if (!fr.no_person || fr.empty_kind >= 2) {
    // The subject; in an empty scene a coat (torso only) or a person with the head out of view.
    pb = add_person(m, f, sc.identity, fr, !fr.no_person || fr.empty_kind == 3, lens, lens_center);
    // A person whose head is above the image: raised until the lowest head point is too.
    for (int k = 0; fr.no_person && fr.empty_kind == 3; ++k) {
      float bottom = -std::numeric_limits<float>::infinity();
      for (int v = pb.head_begin; v < pb.head_end; ++v) {
        bottom = std::max(bottom, project_depth(m.pos[static_cast<size_t>(v)]).y());
      }
      if (bottom < -1) break;
      fr.offset_y = -(kDepthCamera.cy + 1) / kDepthCamera.fy * fr.distance - (1.3f + 0.2f * static_cast<float>(k)) * f.b;
      m = Mesh{};
      pb = add_person(m, f, sc.identity, fr, true, lens, lens_center);
    }
    sc.face_center = pb.face_center;
    sc.head_center = pb.head_to_camera(Eigen::Vector3f::Zero());
  }
  sc.has_face = !fr.no_person;
  if (sc.has_face) {
    float u0 = std::numeric_limits<float>::infinity(), v0 = u0, u1 = -u0, v1 = -u0;
    for (int v = pb.head_begin; v < pb.head_end; ++v) {
      const Eigen::Vector2f q = project_depth(m.pos[static_cast<size_t>(v)]);
      u0 = std::min(u0, q.x());
      u1 = std::max(u1, q.x());
      v0 = std::min(v0, q.y());
      v1 = std::max(v1, q.y());
    }
    sc.head_box_px = cv::Rect2f(u0 + 0.5f, v0 + 0.5f, u1 - u0, v1 - v0);  // edge coordinates
    sc.neck_cut_y = f.chin_y + 0.55f * f.b - fr.shadow_band;
  }
  if (fr.chair) {
    TorsoExtent e;
    if (fr.no_person && fr.empty_kind < 2) {
      Mesh scratch;  // where a torso would be
      std::vector<Eigen::Vector3f> no_lens[2];
      Eigen::Vector3f no_center[2];
      const PersonBuild virt = add_person(scratch, f, sc.identity, fr, false, no_lens, no_center);
      e = torso_extent(scratch, virt);
    } else {
      e = torso_extent(m, pb);
    }
    add_chair(m, fr, e.x, e.top_y, e.back_z);
  }
  if (fr.second_person) {
    // Another identity, further back and to the side, in one of its own clean frames.
    const IdentityParams id2 = make_identity(seed, fr.second_identity);
    FrameParams f2 = make_frame(seed, fr.second_identity, 1, fr.second_pose);
    const float c2 = make_face(id2, make_session(seed, fr.second_identity, 1, id2), f2).c;
    f2.distance = fr.distance + fr.second_dz;
    f2.offset_x = fr.second_x * kDepthCamera.cx / kDepthCamera.fx * (f2.distance + c2);
    f2.offset_y = fr.second_y;
    add_other_person(sc, seed, fr.second_identity, f2, true);
  }
  if (fr.hand && sc.has_face) add_hand(m, sc);
  compute_normals(m);

  // Light, wall, doorway, lenses.
  const SessionParams& s = sc.session;
  const float az = s.light_azimuth + fr.light_jitter_az;
  const float el = s.light_elevation + fr.light_jitter_el;
  sc.light_dir = Eigen::Vector3f(std::sin(az) * std::cos(el), -std::sin(el), -std::cos(az) * std::cos(el));
  sc.diffuse = s.light_diffuse * fr.light_gain;
  sc.ambient = s.light_ambient * (0.5f + 0.5f * fr.light_gain);
  sc.light_color = s.light_color;
  sc.wall_normal = Eigen::Vector3f(std::sin(s.wall_tilt), 0, -std::cos(s.wall_tilt));
  sc.wall_offset = -s.wall_distance * std::cos(s.wall_tilt);
  // The wall stands at least 100 mm behind everything (far faces, chairs, a second person).
  for (const auto& p : m.pos) sc.wall_offset = std::min(sc.wall_offset, sc.wall_normal.dot(p) - 100);
  if (s.doorway) {
    sc.door_x0 = static_cast<int>(s.doorway_x * kColorCamera.width);
    sc.door_x1 = static_cast<int>((s.doorway_x + s.doorway_w) * kColorCamera.width);
  }
  if (f.glasses && pb.head_end > pb.head_begin) {
    for (int side = 0; side < 2; ++side) {
      for (const auto& p : lens[side]) {
        const Eigen::Vector3f c = pb.head_to_camera(p);
        sc.lens_outline[side].emplace_back(
            static_cast<int>(std::lround(kColorCamera.fx * c.x() / c.z() + kColorCamera.cx)),
            static_cast<int>(std::lround(kColorCamera.fy * c.y() / c.z() + kColorCamera.cy)));
      }
      sc.lens_z[side] = pb.head_to_camera(lens_center[side]).z();
    }
  }
  return sc;
}

}  // namespace faceid::synth
