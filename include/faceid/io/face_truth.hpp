// Ground truth of where the face is in a frame, written by the synthetic generator beside each
// frame as ROOT/<person>/NNN_K_truth.yaml (docs/synth.md, "Ground truth"). The data set scanner
// ignores these files; localisation tests and benchmarks read them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace faceid {

struct FaceTruth {
  bool has_face = false;         // false: no person's face in view (an empty scene)
  cv::Point2f face_center_px;    // the face centre in 640x480 depth pixels, edge coordinates
                                 // (pixel i spans [i, i+1)): 525 X/Z + 319.5 + 0.5,
                                 // 525 Y/Z + 239.5 + 0.5 of face_center_mm
  cv::Point3f face_center_mm;    // the point between the eyes on the face surface, depth-camera
                                 // coordinates, mm (X right, Y down, Z forward)
  cv::Rect2f head_box_px;        // the head's bounding box (crown to chin, ear to ear, with hair
                                 // and ears), depth pixels, edge coordinates; not clipped
  float head_z_mm = 0;           // camera Z of the head centre (inside the head, ~1 head
                                 // half-depth behind the face surface)
  std::vector<std::string> distractors;  // what this frame has, in this order: "lean", "shadow",
                                         // "hand", "chair", "second_person", "off_centre", "empty"
};

// Writes `truth` as a small YAML file, atomically. Throws Errc::io naming the path on failure.
void write_face_truth(const std::filesystem::path& path, const FaceTruth& truth);

// Reads a file written by write_face_truth. Throws Errc::bad_input naming the file and the key
// on a missing, unreadable or malformed file (unknown keys are rejected).
FaceTruth read_face_truth(const std::filesystem::path& path);

// The truth file of a frame: ROOT/person/NNN_K_c.bmp (or _d.dat, _c.png, _d.png) ->
// ROOT/person/NNN_K_truth.yaml. Throws Errc::bad_input when the name is not NNN_K_<c|d>.<ext>.
std::filesystem::path face_truth_path(const std::filesystem::path& color_or_depth_frame_path);

}  // namespace faceid
