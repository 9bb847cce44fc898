// Built RGB-D scenes for the head locator's tests, rendered by a small ray caster that has
// nothing in common with `synth`: ellipsoids and boxes in depth-camera millimetres, the Kinect's
// 640x480 intrinsics, invalid bands painted on top. Each scene knows where its face centre is.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <opencv2/core.hpp>

#include "faceid/io/frame.hpp"
#include "faceid/preprocess/preprocess.hpp"

namespace faceid_test {

struct Ellipsoid {
  cv::Point3f c;  // centre, camera mm (X right, Y down, Z forward)
  cv::Point3f r;  // semi-axes, mm
};

struct Box {
  cv::Point3f lo, hi;  // axis-aligned corners, camera mm
};

struct HeadScene {
  std::vector<Ellipsoid> ellipsoids;
  std::vector<Box> boxes;
  float wall_mm = 2400;              // background; 0 = out of range (invalid)
  std::vector<cv::Rect> holes;       // frame pixels set invalid after rendering
  bool has_face = false;
  cv::Point3f face_mm;               // the face centre (between the eyes), camera mm

  // A person: head (with hair) of `head_w` x 230 mm, neck, shoulders/torso. `head` is the head
  // ellipsoid's centre; the eyes sit 5 mm below it (120 mm below the crown) on the face surface. `torso_dz` moves the
  // torso towards (-) or away from (+) the camera relative to the chin.
  void add_person(cv::Point3f head, float head_w = 160, float torso_dz = 60, bool neck = true) {
    const float ry = 115, rz = 100;
    ellipsoids.push_back({head, {head_w / 2, ry, rz}});
    const float chin_y = head.y + ry;
    if (neck) ellipsoids.push_back({{head.x, chin_y + 20, head.z + 40}, {55, 70, 50}});
    const float torso_z = head.z + torso_dz + 110;  // the torso ellipsoid's centre
    ellipsoids.push_back({{head.x, chin_y + 90 + 330, torso_z}, {220, 360, 110}});
  }
  void set_face(cv::Point3f head) {
    has_face = true;
    face_mm = {head.x, head.y + 5, head.z - 100};
  }
};

// Renders the scene's depth (mm, 0 = invalid) and a flat colour.
inline faceid::Frame render_head_scene(const HeadScene& s) {
  cv::Mat mm(480, 640, CV_16UC1);
  for (int v = 0; v < 480; ++v) {
    uint16_t* row = mm.ptr<uint16_t>(v);
    for (int u = 0; u < 640; ++u) {
      const float dx = (static_cast<float>(u) - faceid::kDepthCx) / faceid::kDepthFx;
      const float dy = (static_cast<float>(v) - faceid::kDepthCy) / faceid::kDepthFy;
      float best = std::numeric_limits<float>::infinity();  // ray parameter = Z
      for (const Ellipsoid& e : s.ellipsoids) {
        // |(t d - c) / r|^2 = 1
        const float ax = dx / e.r.x, ay = dy / e.r.y, az = 1.0f / e.r.z;
        const float bx = e.c.x / e.r.x, by = e.c.y / e.r.y, bz = e.c.z / e.r.z;
        const float A = ax * ax + ay * ay + az * az;
        const float B = -2 * (ax * bx + ay * by + az * bz);
        const float C = bx * bx + by * by + bz * bz - 1;
        const float disc = B * B - 4 * A * C;
        if (disc < 0) continue;
        const float t = (-B - std::sqrt(disc)) / (2 * A);
        if (t > 0) best = std::min(best, t);
      }
      for (const Box& b : s.boxes) {
        float t0 = 0, t1 = std::numeric_limits<float>::infinity();
        const float d[3] = {dx, dy, 1};
        const float lo[3] = {b.lo.x, b.lo.y, b.lo.z}, hi[3] = {b.hi.x, b.hi.y, b.hi.z};
        bool hit = true;
        for (int k = 0; k < 3 && hit; ++k) {
          if (std::abs(d[k]) < 1e-9f) {
            hit = lo[k] <= 0 && 0 <= hi[k];
            continue;
          }
          float ta = lo[k] / d[k], tb = hi[k] / d[k];
          if (ta > tb) std::swap(ta, tb);
          t0 = std::max(t0, ta);
          t1 = std::min(t1, tb);
          hit = t0 <= t1;
        }
        if (hit && t0 > 0) best = std::min(best, t0);
      }
      if (!std::isfinite(best)) best = s.wall_mm;
      row[u] = static_cast<uint16_t>(std::lround(std::min(best, 4095.0f)));
    }
  }
  for (const cv::Rect& r : s.holes) mm(r & cv::Rect(0, 0, 640, 480)).setTo(0);
  faceid::Frame f;
  f.depth.mm = mm;
  cv::compare(mm, 0, f.depth.valid, cv::CMP_NE);
  f.color = cv::Mat(480, 640, CV_8UC3, cv::Scalar(120, 130, 150));
  return f;
}

// The distance (mm, in the plane of the face) between a crop centre and the true face centre.
inline float crop_error_mm(const faceid::HeadLocation& head, const cv::Point3f& face) {
  const float u = faceid::kDepthFx * face.x / face.z + faceid::kDepthCx + 0.5f;  // edge coords
  const float v = faceid::kDepthFy * face.y / face.z + faceid::kDepthCy + 0.5f;
  return std::hypot(head.center.x - u, head.center.y - v) * face.z / faceid::kDepthFx;
}

}  // namespace faceid_test
