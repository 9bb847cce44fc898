// One frame's scene in camera coordinates (millimetres; X right, Y down, Z forward): the head mesh
// (with glasses), neck and torso as triangles, the background wall, the light, the lens outlines.
#pragma once

#include <cstdint>
#include <functional>
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

// The make of a 3-D instrument (Surface::mask): how its cover is coloured, where it ends and what
// its eye openings show (attack.cpp draws the parameters, render.cpp shades them).
enum class MaskMake : uint8_t { plain, plaster, paper, silicone, resin, partial, head_form };

struct AttackLook {
  Surface surface = Surface::live;
  cv::Mat texture;      // photo, screen: the source colour image (CV_8UC3 BGR); a sheet vertex's
                        // rest (x, y) are its texture pixel coordinates
  float gain = 1;       // photo, head_form: print contrast; screen: emissive brightness
  Rgb tint{1, 1, 1};    // photo, head_form: ink gamut; screen: the display's colour shift
  float moire_period = 3;  // screen: period of the moire beat, source pixels
  float moire_angle = 0;   // screen: its direction, radians
  float moire_depth = 0;   // screen: its amplitude
  float sheet_ks = 0.1f;   // photo: paper gloss (screen: glass, fixed)
  Rgb paper{1, 1, 1};      // photo: the paper's colour beyond the printed picture
  Rgb mask_color;       // plain mask: the material's colour
  float eye_recess = 12;   // mask: the eye holes show the wearer this far behind the mask (mm)
  // Mask makes other than `plain` (MaskMake::plain keeps the original cast's shading).
  MaskMake make = MaskMake::plain;
  Face paint;             // the cover's colours: its albedo (skin = the material or the paint,
                          // painted lips, brows and eyes where the make has them)
  float mask_ks = 0.1f;   // the material's specular weight
  float grain = 0;        // plaster grain: relative albedo noise at ~1.5 mm
  float fibre = 0;        // paper mache fibres: relative albedo noise, streaky at ~0.7 mm
  bool eye_holes = true;  // holes with the wearer's real eyes (else painted eyes, no depth step)
  bool has_wearer = false;  // worn over another identity's head: its albedo outside the cover and
                            // behind the eye holes, its neck and clothing
  Face wearer;              // that identity's appearance on the subject's landmarks
  Rgb wearer_clothing;
  float wearer_stripes = 0;
  float cover_bottom = -1e9f;  // rest y below which the mask ends (partial: under the nose)
  float cover_top = 0;         // the cover ends this far above the hairline (mm; < 0: below)
  float edge_soft = 15;        // mm over which the cover fades at its edges
  float seam_step = 0;         // the cover stands this far proud of the skin at its edge (mm)
  float seam_shade = 1;        // albedo factor of the cover near its edge (a visible seam)
  Rgb form_color;              // head_form: the plain matte form beyond the print (and its neck)
  // Sheets held by an attacker (Scene::second, who = 1): its hands' skin.
  bool attacker_hands = false;
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
// Changes the frame's Face before the mesh is built (eyelids, glasses on a mask, a head form).
using FaceEdit = std::function<void(Face&)>;
Scene build_scene(uint64_t seed, int person, int session, const FrameParams& frame, const FaceEdit& edit);

// Pieces of the scene builder that the attack scenes reuse.
// Rotation in the world frame (x right, y up, z to the camera) for a head pose.
Eigen::Matrix3f pose_rotation(float yaw, float pitch, float roll);
// Triangles of a grid of rows x cols vertices already in m.pos from `base` (cols periodic when
// `periodic`), rows going up.
void add_grid_tris(Mesh& m, int base, int rows, int cols, Material mat, bool periodic = true);
// Unit vertex normals from the triangles.
void compute_normals(Mesh& m);
// An ellipsoid at `center` (camera coords) with semi-axes r along the unit columns of `axes`.
void add_ellipsoid(Mesh& m, const Eigen::Vector3f& center, const Eigen::Matrix3f& axes, const Eigen::Vector3f& r,
                   Material mat);
// Adds identity `identity` as Scene::second (who = 1): its clean frame `frame` (distance, offsets
// and pose as given), with its head or, when !with_head, neck and torso only.
void add_other_person(Scene& sc, uint64_t seed, int identity, const FrameParams& frame, bool with_head);
// Moves the wall back to stand at least 100 mm behind every vertex (after the mesh changed).
void fit_wall(Scene& sc);

}  // namespace faceid::synth
