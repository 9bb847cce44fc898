// The random parameters of the synthetic generator, in three layers with their own PRNG streams:
// an identity (seed, person), a session (seed, person, session) and a frame (seed, person,
// session, pose). Lengths are millimetres, angles radians, colours display RGB in [0, 1].
#pragma once

#include <cstdint>

#include "faceid/synth/synth.hpp"

namespace faceid::synth {

// 2: distractors, 500-1500 mm, truth files (Distractors::none() still renders version 1's pixels).
constexpr int kGeneratorVersion = 2;  // bump when the same seed would render different pixels
constexpr int kPoseCount = 17;
constexpr int kMaxSessions = 3;

struct Rgb {
  float r = 0, g = 0, b = 0;
};

enum class Expression { neutral, smile, open_mouth, raised_brows };

struct IdentityParams {
  // Head: a superellipsoid with a filled-in lower face, deformed by local features.
  float head_width = 152;      // ear to ear (without ears)
  float head_height = 228;     // crown to chin
  float head_depth = 192;      // forehead to back of the head
  float squareness = 2.5f;     // horizontal superellipse exponent (2 = ellipse, larger = boxier)
  float jaw = 0;               // relative widening (+) or narrowing (-) of the jaw
  float chin = 6;              // chin projection
  float eye_y = 0;             // eye height relative to the head centre
  float eye_spacing = 63;      // distance between the eye centres
  float eye_depth = 9;         // depth of the eye sockets
  float eye_width = 14;        // half-width of the eye opening
  float eye_open = 4.6f;       // half-height of the eye opening
  float brow_ridge = 4.5f;     // brow ridge projection
  float cheekbones = 4;        // cheekbone projection
  float nose_length = 50;      // nasion to tip
  float nose_width = 34;       // alar width
  float nose_projection = 20;  // tip projection over the face
  float philtrum = 19;         // nose tip to mouth line
  float mouth_width = 50;      // corner to corner
  float lip_thickness = 5;     // lip projection
  float ear_size = 9;          // lateral ear protrusion
  float forehead = 65;         // eyes to front hairline
  float hair_volume = 12;      // hair thickness over the scalp
  float brow_thickness = 4.5f; // eyebrow height
  float brow_density = 0.8f;   // eyebrow darkness in [0, 1]
  float skin_blotch = 0.05f;   // amplitude of low-frequency skin tone variation
  float freckles = 0;          // freckle density in [0, 1]
  float cheek_red = 0.04f;     // redness of the cheeks
  Rgb skin, lips, iris, hair, brows;
  bool beard = false;
  float beard_density = 0;     // 0 stubble .. 1 full
  float beard_length = 0;      // beard thickness (full beards only)
  bool glasses = false;
  float glasses_prob = 0;      // chance the glasses are worn in a session
  float glasses_w = 24;        // lens half-width
  float glasses_h = 17;        // lens half-height
  float glasses_rim = 3;       // rim width
  float glasses_shape = 3;     // rim superellipse exponent
  Rgb glasses_color;
  float shoulder_width = 400;  // torso width at the shoulders
  float torso_depth = 210;     // chest to back
  uint64_t texture_key = 0;    // key of the identity's procedural skin and hair texture
};

struct SessionParams {
  float light_azimuth = 0;     // light direction: from the camera's right (+) or left (-)
  float light_elevation = 0.4f;  // from above (+)
  float light_diffuse = 0.75f; // diffuse intensity
  float light_ambient = 0.35f; // ambient intensity
  Rgb light_color{1, 1, 1};    // white balance of the scene
  float skin_shift = 1;        // tan: multiplies the skin tone
  Rgb skin_tint{1, 1, 1};      // small per-session hue shift of the skin
  float hair_shift = 1;        // small change of the hair brightness (light, wet, dyed)
  float hair_volume = 1;       // relative hair volume (hair done differently)
  bool glasses_on = false;
  Rgb clothing;
  float clothing_stripes = 0;  // amplitude of a horizontal stripe pattern
  Rgb wall;
  float wall_distance = 2000;  // background wall, millimetres from the camera
  float wall_tilt = 0;         // rotation of the wall about the vertical axis
  bool doorway = false;        // a region of the background beyond the Kinect range (4095)
  float doorway_x = 0;         // its left edge, as a fraction of the image width
  float doorway_w = 0.2f;      // its width, as a fraction of the image width
};

struct FrameParams {
  float yaw = 0, pitch = 0, roll = 0;  // head pose (yaw + = turned to the image right,
                                       // pitch + = looking up, roll + = clockwise in the image)
  Expression expression = Expression::neutral;
  float expression_amount = 1;  // strength in [0.5, 1]
  float distance = 850;         // camera to the face plane (eyes), millimetres
  float offset_x = 0;           // head centre position, millimetres (camera X)
  float offset_y = 0;           // head centre position, millimetres (camera Y, down)
  float light_jitter_az = 0, light_jitter_el = 0;
  float light_gain = 1;         // light intensity change within a session
  float exposure = 1;           // camera exposure
  float color_noise = 2.5f;     // colour sensor noise, 8-bit levels
  float gaze_x = 0, gaze_y = 0; // iris offset, millimetres
  float body_yaw = 0;           // torso turn (a fraction of the head yaw)

  // Distractors (Distractors in synth.hpp; all off in version 1's clean scene).
  bool no_person = false;       // an empty scene: no face in view
  int empty_kind = 0;           // no_person: 0 wall only, 1 chair, 2 a coat on a chair,
                                // 3 a person whose head is above the image
  bool off_centre = false;      // offset_x/offset_y were drawn off the image centre
  float lean = 0;               // > 0: the chest is this much nearer than the face centre (mm)
  bool shadow = false;          // Kinect shadow band
  float shadow_band = 0;        //   holes on the neck this far below the chin (mm)
  int shadow_widen = 0;         //   projector shadows this many depth pixels wider
  bool hand = false;            // a raised hand
  float hand_dz = 0;            //   in front of the face centre (mm)
  float hand_cover = 0;         //   target fraction of the face region it covers
  float hand_dir = 0;           //   direction of its offset from the face in the image (rad,
                                //   0 = image right, pi/2 = down)
  float hand_roll = 0;          //   rotation in the image plane (rad)
  float hand_size = 1;          //   scale of an average hand
  bool hand_left = false;       //   thumb to the image left
  bool chair = false;           // a chair back behind the torso
  float chair_width = 0, chair_gap = 0, chair_x = 0, chair_rise = 0, chair_thickness = 0;
  float chair_recline = 0;      //   rad; the top further from the camera
  Rgb chair_color;
  bool second_person = false;   // another identity further back
  int second_identity = 0;      //   its identity index (outside the data sets' range)
  int second_pose = 1;          //   its pose index
  float second_dz = 0;          //   its face this much behind the subject's face (mm)
  float second_x = 0;           //   its image position: a fraction of the half width, signed
  float second_y = 0;           //   its offset_y (mm)
};

// The fixed pose table (degrees): frontal, yaw steps, pitch up/down, rolls, combinations.
struct PoseDegrees {
  float yaw, pitch, roll;
};
extern const PoseDegrees kPoseTable[kPoseCount];

IdentityParams make_identity(uint64_t seed, int person);
SessionParams make_session(uint64_t seed, int person, int session, const IdentityParams& id);
// Version 1's clean frame (what the attacks use): make_frame(..., Distractors::none()).
FrameParams make_frame(uint64_t seed, int person, int session, int pose);
// The frame with each distractor drawn at its rate from its own stream, so a rate changes only
// its own distractor.
FrameParams make_frame(uint64_t seed, int person, int session, int pose, const Distractors& distractors);

}  // namespace faceid::synth
