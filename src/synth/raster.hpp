// A z-buffer rasteriser producing a visibility buffer: for every pixel the nearest triangle and
// its screen-space barycentrics, so shading runs once per visible pixel.
#pragma once

#include <cstdint>
#include <vector>

#include "synth/scene.hpp"

namespace faceid::synth {

struct Fragment {
  float inv_z = 0;   // 1 / Z of the nearest surface (0 = nothing drawn)
  int32_t tri = -1;  // index into Mesh::tris, -1 = background
  float b1 = 0, b2 = 0;  // screen-space barycentrics of the triangle's vertices 1 and 2
};

// Clears `frags` to camera.width x camera.height and draws every triangle of `mesh` (closed
// materials back-face culled, glasses two-sided). Pixel (u, v) samples the ray through its centre.
void rasterize(const Mesh& mesh, const Camera& camera, std::vector<Fragment>& frags);

// Perspective-correct barycentrics (b0, b1, b2) of a fragment.
void perspective_barycentrics(const Mesh& mesh, const Fragment& frag, float out[3]);

}  // namespace faceid::synth
