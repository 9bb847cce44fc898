// One frame's scene in camera coordinates (millimetres; X right, Y down, Z forward): the head mesh
// (with glasses), neck and torso as triangles, the background wall, the light, the lens outlines.
#pragma once

#include <cstdint>
#include <vector>

#include <Eigen/Core>
#include <Eigen/Geometry>
#include <opencv2/core.hpp>

#include "synth/face.hpp"
#include "synth/params.hpp"

namespace faceid::synth {

// A pinhole camera. The colour camera has the depth camera's intrinsics doubled and the same
// centre of projection: colour pixel (2x, 2y) is exactly depth pixel (x, y).
struct Camera {
  float fx, fy, cx, cy;
  int width, height;
};
constexpr Camera kDepthCamera{525.0f, 525.0f, 319.5f, 239.5f, 640, 480};
constexpr Camera kColorCamera{1050.0f, 1050.0f, 639.0f, 479.0f, 1280, 960};

// sheet: a printed photo or a screen (synth --attacks), two-sided, textured from Scene::attack.
// hand: palm and fingers (skin); arm: the forearm in its sleeve; chair: a chair back.
enum class Material : uint8_t { head, neck, torso, glasses, sheet, hand, arm, chair };

struct Tri {
  int v[3];
  Material material;
  uint8_t who = 0;  // 0: the subject (or a distractor object), 1: the second person
};

// What a depth pixel shows (RenderTruth::parts): the subject's parts, distractors, background.
enum class Part : uint8_t { background, head, neck, torso, hand, chair, second_person, other };

struct Mesh {
  std::vector<Eigen::Vector3f> pos;   // camera coordinates
  std::vector<Eigen::Vector3f> nrm;   // unit vertex normals, camera coordinates
  std::vector<Eigen::Vector3f> rest;  // head: rest coordinates for the albedo; others: body coords
  std::vector<Tri> tris;              // counter-clockwise seen from outside (glasses: two-sided)
};

// What a presentation attack changes in the shading (synth --attacks); `live` for a real person.
enum class Surface : uint8_t { live, photo, screen, mask };

struct AttackLook {
  Surface surface = Surface::live;
  cv::Mat texture;      // photo, screen: the source colour image (CV_8UC3 BGR); a sheet vertex's
                        // rest (x, y) are its texture pixel coordinates
  float gain = 1;       // photo: print contrast; screen: emissive brightness
  Rgb tint{1, 1, 1};    // photo: ink gamut; screen: the display's colour shift
  float moire_period = 3;  // screen: period of the moire beat, source pixels
  float moire_angle = 0;   // screen: its direction, radians
  float moire_depth = 0;   // screen: its amplitude
  Rgb mask_color;       // mask: the material's colour
  float eye_recess = 12;   // mask: the eye holes show the wearer this far behind the mask (mm)
};

struct Scene {
  IdentityParams identity;
  SessionParams session;
  FrameParams frame;
  Face face;
  Mesh mesh;
  Eigen::Vector3f light_dir;  // unit, towards the light
  float diffuse = 0.75f, ambient = 0.35f;
  Rgb light_color;
  Eigen::Vector3f wall_normal;  // unit, towards the camera; wall = {P : n.P = wall_offset}
  float wall_offset = 0;
  int door_x0 = -1, door_x1 = -1;         // colour columns where the background is out of range
  std::vector<cv::Point> lens_outline[2]; // projected lens outlines, colour pixels (glasses only)
  float lens_z[2] = {0, 0};               // camera Z of the lens centres
  Eigen::Vector3f face_center;            // between the eyes on the face surface, camera coords
  AttackLook attack;                      // live unless this frame is a presentation attack
  // Ground truth and distractors (generator version 2).
  bool has_face = true;                   // the subject's head is in view (false: empty scene)
  Eigen::Vector3f head_center;            // the head's rest origin, camera coords
  cv::Rect2f head_box_px;                 // projected head vertices, depth pixels, edge coords
  float neck_cut_y = 0;                   // shadow band: neck points above this body-coordinate
                                          // height (under the chin) are holes
  struct Second {
    bool present = false;
    SessionParams session;
    Face face;
  } second;                               // the second person (who = 1)
};

Scene build_scene(uint64_t seed, int person, int session, int pose);
// The same with the frame's parameters given (e.g. a rigid, neutral mask).
Scene build_scene(uint64_t seed, int person, int session, const FrameParams& frame);

// Pieces of the scene builder that the attack scenes reuse.
// Rotation in the world frame (x right, y up, z to the camera) for a head pose.
Eigen::Matrix3f pose_rotation(float yaw, float pitch, float roll);
// Triangles of a grid of rows x cols vertices already in m.pos from `base` (cols periodic when
// `periodic`), rows going up.
void add_grid_tris(Mesh& m, int base, int rows, int cols, Material mat, bool periodic = true);
// Unit vertex normals from the triangles.
void compute_normals(Mesh& m);

}  // namespace faceid::synth
