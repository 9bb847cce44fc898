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

Scene build_scene(uint64_t seed, int person, int session, const FrameParams& frame) {
  Scene sc;
  sc.identity = make_identity(seed, person);
  sc.session = make_session(seed, person, session, sc.identity);
  sc.frame = frame;
  const Face& f = sc.face = make_face(sc.identity, sc.session, sc.frame);
  const FrameParams& fr = sc.frame;
  Mesh& m = sc.mesh;

  // Head in rest coordinates.
  const HeadGrid& grid = head_grid();
  const int cols = static_cast<int>(grid.theta.size()), rows = static_cast<int>(grid.phi.size());
  m.pos.reserve(static_cast<size_t>(rows * cols) + 600);
  m.rest.reserve(m.pos.capacity());
  m.tris.reserve(static_cast<size_t>(2 * rows * cols) + 600);
  for (int j = 0; j < rows; ++j) {
    for (int i = 0; i < cols; ++i) {
      float p[3], r[3];
      head_point(f, grid.theta[i], grid.phi[j], p, r);
      m.pos.emplace_back(p[0], p[1], p[2]);
      m.rest.emplace_back(r[0], r[1], r[2]);
    }
  }
  const int head_end = static_cast<int>(m.pos.size());
  add_grid_tris(m, 0, rows, cols, Material::head);
  std::vector<Eigen::Vector3f> lens[2];
  Eigen::Vector3f lens_center[2];
  if (f.glasses) add_glasses(f, m, 0, head_end, lens, lens_center);

  // Head rest coordinates -> camera: rotate about the top of the neck, place, flip y and z.
  const Eigen::Matrix3f rot = pose_rotation(fr.yaw, fr.pitch, fr.roll);
  const Eigen::Vector3f pivot(0, -0.55f * f.b, -0.2f * f.c);
  const Eigen::Vector3f place(fr.offset_x, -fr.offset_y, -(fr.distance + f.c));
  const Eigen::Vector3f flip(1, -1, -1);
  auto head_to_camera = [&](const Eigen::Vector3f& p) -> Eigen::Vector3f {
    return (rot * (p - pivot) + pivot + place).cwiseProduct(flip);
  };
  for (auto& p : m.pos) p = head_to_camera(p);
  sc.face_center = head_to_camera({0, f.eye_y, f.c});

  // Neck and torso in body coordinates (origin at the pivot), turned by part of the head yaw.
  const Eigen::Matrix3f body_rot = pose_rotation(fr.body_yaw * fr.yaw, 0, 0);
  auto body_to_camera = [&](const Eigen::Vector3f& q) -> Eigen::Vector3f {
    return (body_rot * q + pivot + place).cwiseProduct(flip);
  };
  constexpr int kNeckCols = 24, kNeckRows = 5;
  const int neck_base = static_cast<int>(m.pos.size());
  const float neck_rx = 0.8f * f.a, neck_rz = 0.62f * f.c, neck_z = -0.1f * f.c;
  const float neck_top = 0.3f * f.b, neck_bottom = -(0.45f * f.b + 110);
  for (int j = 0; j < kNeckRows; ++j) {
    const float y = neck_bottom + (neck_top - neck_bottom) * static_cast<float>(j) / (kNeckRows - 1);
    for (int i = 0; i < kNeckCols; ++i) {
      const float a = -kPi + 2 * kPi * static_cast<float>(i) / kNeckCols;
      const Eigen::Vector3f q(neck_rx * std::sin(a), y, neck_z + neck_rz * std::cos(a));
      m.pos.push_back(body_to_camera(q));
      m.rest.push_back(q);
    }
  }
  add_grid_tris(m, neck_base, kNeckRows, kNeckCols, Material::neck);
  constexpr int kTorsoCols = 48, kTorsoRows = 23;
  const int torso_base = static_cast<int>(m.pos.size());
  const float ws = sc.identity.shoulder_width / 2, ds = sc.identity.torso_depth / 2;
  const float torso_top = -(0.45f * f.b + 25), torso_z = -0.25f * f.c - 10;
  for (int j = 0; j < kTorsoRows; ++j) {
    // Row 0 is the bottom; rows crowd towards the rounded shoulders.
    const float k = static_cast<float>(kTorsoRows - 1 - j) / (kTorsoRows - 1);
    const float t = 650.0f * std::pow(k, 1.8f);
    // Sloping shoulders: the width grows quickly below the neck, then rounds off at the arms.
    const float sx = std::min(t, 130.0f) / 130.0f, sz = std::min(t, 45.0f) / 45.0f;
    const float rx = ws * std::pow(1 - (1 - sx) * (1 - sx) * (1 - sx), 0.5f) *
                     (1 - 0.06f * std::min(1.0f, t / 650));
    const float rz = ds * std::sqrt(1 - (1 - sz) * (1 - sz));
    for (int i = 0; i < kTorsoCols; ++i) {
      const float a = -kPi + 2 * kPi * static_cast<float>(i) / kTorsoCols;
      const Eigen::Vector3f q(rx * std::sin(a), torso_top - t, torso_z + rz * std::cos(a));
      m.pos.push_back(body_to_camera(q));
      m.rest.push_back(q);
    }
  }
  add_grid_tris(m, torso_base, kTorsoRows, kTorsoCols, Material::torso);
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
  if (s.doorway) {
    sc.door_x0 = static_cast<int>(s.doorway_x * kColorCamera.width);
    sc.door_x1 = static_cast<int>((s.doorway_x + s.doorway_w) * kColorCamera.width);
  }
  if (f.glasses) {
    for (int side = 0; side < 2; ++side) {
      for (const auto& p : lens[side]) {
        const Eigen::Vector3f c = head_to_camera(p);
        sc.lens_outline[side].emplace_back(
            static_cast<int>(std::lround(kColorCamera.fx * c.x() / c.z() + kColorCamera.cx)),
            static_cast<int>(std::lround(kColorCamera.fy * c.y() / c.z() + kColorCamera.cy)));
      }
      sc.lens_z[side] = head_to_camera(lens_center[side]).z();
    }
  }
  return sc;
}

}  // namespace faceid::synth
