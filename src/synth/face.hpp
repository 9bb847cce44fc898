// One face as rendered in one frame: the identity's shape and appearance with the session's and
// the frame's changes (expression, tan, hair, glasses) resolved, plus the surface and albedo
// functions of the head in its rest coordinates (head centre at the origin, x to the subject's
// left = image right when frontal, y up, z out of the face; millimetres).
#pragma once

#include <cstdint>

#include "synth/params.hpp"

namespace faceid::synth {

struct Face {
  // Base shape: a horizontal superellipse (exponent 2/hpow) swept over the elevation.
  float a = 76, b = 114, c = 96;  // semi-axes: half width, half height, half depth
  float hpow = 0.8f;              // 2 / squareness
  float jaw = 0;
  // Landmarks and feature sizes (rest coordinates).
  float eye_x = 31.5f, eye_y = 0, eye_depth = 9, eye_w = 14, eye_h = 4.6f;
  float brow_y = 13, brow_ridge = 4.5f;
  float cheek = 4;
  float nose_root_y = 3, nose_tip_y = -47, nose_len = 50, nose_half_w = 17, nose_proj = 20;
  float mouth_y = -66, mouth_half_w = 25, lip = 5;
  float smile_k = 0;       // mouth curve: mouth line y = mouth_y + smile_k * x^2
  float cheek_bulge = 0;   // smiling cheeks
  float jaw_drop = 0;      // open mouth: how far the lower jaw drops
  float cavity = 0;        // open mouth: depth of the mouth opening
  float teeth = 0;         // visible teeth band half-height (smile)
  float chin = 6, chin_y = -100;
  float ear = 9;
  float hairline_y = 66, side_hair_y = 14, nape_y = -51, hair_volume = 12;
  float beard_len = 0, beard_density = 0;
  bool wrinkles = false;
  float gaze_x = 0, gaze_y = 0;
  // Appearance.
  Rgb skin, lips, iris, hair, brows, beard;
  float brow_thickness = 4.5f, brow_density = 0.8f, skin_blotch = 0.05f, freckles = 0;
  float cheek_red = 0.04f;
  uint64_t key = 0;
  // Glasses (worn in this session).
  bool glasses = false;
  float glasses_w = 24, glasses_h = 17, glasses_rim = 3, glasses_shape = 3;
  Rgb glasses_color;
};

Face make_face(const IdentityParams& id, const SessionParams& session, const FrameParams& frame);

// A point of the head surface at azimuth theta (0 = front, +pi/2 = +x side) and elevation phi:
// `pos` is the deformed position (features, hair, expression), `rest` the undeformed base point
// from which the albedo is looked up.
void head_point(const Face& f, float theta, float phi, float pos[3], float rest[3]);

// The front displacement (along +z) of the face features at rest (x, y), before the expression's
// jaw movement. Exposed for placing the glasses.
float feature_offset(const Face& f, float x, float y);

// What the albedo lookup found besides the colour: the depth sensor treats hair differently.
struct AlbedoInfo {
  float hair = 0;  // hair coverage in [0, 1]
};

// Smooth value noise in [0, 1) on a unit lattice (the skin's own texture noise), for surface
// textures of the attack instruments.
float surface_noise(uint64_t key, float x, float y);

// Albedo (display RGB) of the head at rest point (x, y, z).
Rgb head_albedo(const Face& f, float x, float y, float z, AlbedoInfo& info);

}  // namespace faceid::synth
