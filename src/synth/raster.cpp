#include "synth/raster.hpp"

#include <algorithm>
#include <cmath>

namespace faceid::synth {

void rasterize(const Mesh& mesh, const Camera& cam, std::vector<Fragment>& frags) {
  const int w = cam.width, h = cam.height;
  frags.assign(static_cast<size_t>(w) * h, Fragment{});
  struct Projected {
    float u, v, iz;
  };
  thread_local std::vector<Projected> proj;
  proj.resize(mesh.pos.size());
  for (size_t i = 0; i < mesh.pos.size(); ++i) {
    const Eigen::Vector3f& p = mesh.pos[i];
    const float iz = p.z() > 1.0f ? 1.0f / p.z() : 0.0f;
    proj[i] = {cam.fx * p.x() * iz + cam.cx, cam.fy * p.y() * iz + cam.cy, iz};
  }
  for (size_t t = 0; t < mesh.tris.size(); ++t) {
    const Tri& tri = mesh.tris[t];
    const Eigen::Vector3f& p0 = mesh.pos[tri.v[0]];
    if (tri.material != Material::glasses && tri.material != Material::sheet) {
      const Eigen::Vector3f n = (mesh.pos[tri.v[1]] - p0).cross(mesh.pos[tri.v[2]] - p0);
      if (n.dot(p0) >= 0) continue;  // facing away from the camera
    }
    Projected a = proj[tri.v[0]], b = proj[tri.v[1]], c = proj[tri.v[2]];
    if (a.iz == 0 || b.iz == 0 || c.iz == 0) continue;  // behind or at the camera
    float area = (b.u - a.u) * (c.v - a.v) - (b.v - a.v) * (c.u - a.u);
    bool swapped = false;
    if (area < 0) {
      std::swap(b, c);
      area = -area;
      swapped = true;
    }
    if (area < 1e-9f) continue;
    const int x0 = std::max(0, static_cast<int>(std::ceil(std::min({a.u, b.u, c.u}))));
    const int x1 = std::min(w - 1, static_cast<int>(std::floor(std::max({a.u, b.u, c.u}))));
    const int y0 = std::max(0, static_cast<int>(std::ceil(std::min({a.v, b.v, c.v}))));
    const int y1 = std::min(h - 1, static_cast<int>(std::floor(std::max({a.v, b.v, c.v}))));
    if (x0 > x1 || y0 > y1) continue;
    const float inv_area = 1.0f / area;
    // Edge functions: e0 is the weight of a (edge b->c), e1 of b (c->a), e2 of c (a->b).
    const float e0dx = -(c.v - b.v), e1dx = -(a.v - c.v), e2dx = -(b.v - a.v);
    for (int y = y0; y <= y1; ++y) {
      const float py = static_cast<float>(y);
      const float px = static_cast<float>(x0);
      float e0 = (c.u - b.u) * (py - b.v) - (c.v - b.v) * (px - b.u);
      float e1 = (a.u - c.u) * (py - c.v) - (a.v - c.v) * (px - c.u);
      float e2 = (b.u - a.u) * (py - a.v) - (b.v - a.v) * (px - a.u);
      Fragment* row = frags.data() + static_cast<size_t>(y) * w;
      for (int x = x0; x <= x1; ++x, e0 += e0dx, e1 += e1dx, e2 += e2dx) {
        if (e0 < 0 || e1 < 0 || e2 < 0) continue;
        const float w0 = e0 * inv_area, w1 = e1 * inv_area, w2 = e2 * inv_area;
        const float iz = w0 * a.iz + w1 * b.iz + w2 * c.iz;
        Fragment& f = row[x];
        if (iz <= f.inv_z) continue;
        f.inv_z = iz;
        f.tri = static_cast<int32_t>(t);
        // Store the weights of the triangle's own vertices 1 and 2.
        f.b1 = swapped ? w2 : w1;
        f.b2 = swapped ? w1 : w2;
      }
    }
  }
}

void perspective_barycentrics(const Mesh& mesh, const Fragment& frag, float out[3]) {
  const Tri& tri = mesh.tris[frag.tri];
  const float s1 = frag.b1, s2 = frag.b2, s0 = 1.0f - s1 - s2;
  const float q0 = s0 / mesh.pos[tri.v[0]].z(), q1 = s1 / mesh.pos[tri.v[1]].z(),
              q2 = s2 / mesh.pos[tri.v[2]].z();
  const float inv = 1.0f / (q0 + q1 + q2);
  out[0] = q0 * inv;
  out[1] = q1 * inv;
  out[2] = q2 * inv;
}

}  // namespace faceid::synth
