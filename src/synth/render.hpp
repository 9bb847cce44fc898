// Rendering one synthetic frame, with the ground truth that tests and tools want beside it.
#pragma once

#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "faceid/synth/synth.hpp"
#include "synth/params.hpp"
#include "synth/raster.hpp"
#include "synth/scene.hpp"
#include "synth/sensor.hpp"

namespace faceid::synth {

struct RenderTruth {
  cv::Point2f face_px;  // the face centre (between the eyes, on the skin) in the depth image,
                        // pixel-centre coordinates (FaceTruth's edge coordinates minus 0.5)
  float face_z = 0;     // its Z, millimetres
  FrameParams frame;    // pose, expression, distance, distractors...
  bool glasses = false; // glasses worn in this frame
  cv::Mat parts;        // CV_8UC1 640x480: the Part each depth pixel shows
};

// Shades the visibility buffer into the colour image (CV_8UC3, before the sensor model) and the
// ideal depth at the depth camera's pixels.
void shade(const Scene& scene, const std::vector<Fragment>& frags, cv::Mat& color, IdealDepth& ideal);

// With the default distractor rates (Distractors{}) or the given ones.
SynthFrame render_frame(uint64_t seed, int person, int session, int pose, RenderTruth* truth);
SynthFrame render_frame(uint64_t seed, int person, int session, int pose, const Distractors& distractors,
                        RenderTruth* truth);

// Rasterises, shades and runs the sensor models on a built scene, with the noise streams' keys;
// `parts` (if set) receives what each depth pixel shows.
SynthFrame render_scene(const Scene& scene, uint64_t color_key, uint64_t depth_key, cv::Mat* parts = nullptr);

// The ground truth of a built scene (FaceTruth::face_center_px in edge coordinates).
FaceTruth face_truth(const Scene& scene);

// Errc::bad_input unless person >= 0, session in 1..kMaxSessions and pose in 1..kPoseCount.
void check_frame_indices(int person, int session, int pose);

}  // namespace faceid::synth
