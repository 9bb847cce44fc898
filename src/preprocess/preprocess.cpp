// The one preprocessing path: head localisation in depth, identical colour/depth crop, normalise.
// The algorithm and its constants are documented in docs/data.md; bump kPreprocessVersion when
// the output for a given input and config changes.
#include "faceid/preprocess/preprocess.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "faceid/core/error.hpp"

namespace faceid {
namespace {

constexpr float kMaxAreaScale = 1.5f;    // colour shrink beyond this goes through an area filter
const cv::Rect kFixedWindow(220, 140, 200, 200);  // the proof of concept's rows 140:340, cols 220:420

void check_depth(const DepthMap& depth) {
  if (depth.mm.empty() || depth.mm.type() != CV_16UC1) {
    throw_internal("preprocess: depth.mm must be a non-empty CV_16UC1 image");
  }
}

// Crops `frame` to `box` (frame pixels, edge coordinates) into S x S colour and depth images with
// one geometry: output pixel centre (u + 0.5) lies at frame edge coordinate box.x + (u + 0.5) * s.
void crop_identically(const Frame& frame, const cv::Rect2f& box, int size, cv::Mat& color_out,
                      cv::Mat& depth_out) {
  const double s = static_cast<double>(box.width) / size;
  auto inverse_map = [&box](double scale) {
    // Pixel-index coordinates (centre of pixel i at i): x = box.x + (u + 0.5) * scale - 0.5.
    return cv::Matx23d(scale, 0.0, box.x + 0.5 * scale - 0.5,  //
                       0.0, scale, box.y + 0.5 * scale - 0.5);
  };
  const cv::Scalar mean_bgr(kColorMean[2] * 255.0, kColorMean[1] * 255.0, kColorMean[0] * 255.0);
  const int flags_linear = cv::INTER_LINEAR | cv::WARP_INVERSE_MAP;
  if (s > kMaxAreaScale) {
    // Shrinking a lot: warp to k*S (a mild rescale), then average k x k blocks. The composition
    // keeps the geometry above exactly, so colour stays aligned with the nearest-sampled depth.
    const int k = static_cast<int>(std::lround(s));
    cv::Mat big;
    cv::warpAffine(frame.color, big, inverse_map(s / k), cv::Size(size * k, size * k),
                   flags_linear, cv::BORDER_CONSTANT, mean_bgr);
    cv::resize(big, color_out, cv::Size(size, size), 0, 0, cv::INTER_AREA);
  } else {
    cv::warpAffine(frame.color, color_out, inverse_map(s), cv::Size(size, size), flags_linear,
                   cv::BORDER_CONSTANT, mean_bgr);
  }
  // Depth: nearest sampling, so an invalid pixel (0) stays invalid and no distance is invented.
  cv::warpAffine(frame.depth.mm, depth_out, inverse_map(s), cv::Size(size, size),
                 cv::INTER_NEAREST | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT, cv::Scalar(0));
}

struct ColorLut {
  std::array<std::array<float, 256>, 3> v;  // v[c][byte] = (byte / 255 - mean[c]) / std[c]
  ColorLut() {
    for (int c = 0; c < 3; ++c) {
      for (int b = 0; b < 256; ++b) {
        v[static_cast<size_t>(c)][static_cast<size_t>(b)] =
            (static_cast<float>(b) / 255.0f - kColorMean[c]) / kColorStd[c];
      }
    }
  }
};

// Fills chw (R, G, B, D) from the cropped colour (BGR) and depth (mm, 0 invalid).
void normalise(const cv::Mat& color, const cv::Mat& depth, float z, float range, FaceCrop& crop) {
  static const ColorLut lut;
  const int s = crop.size;
  crop.chw.assign(static_cast<size_t>(kChannels) * s * s, 0.0f);
  float* r = crop.channel(0);
  float* g = crop.channel(1);
  float* b = crop.channel(2);
  float* d = crop.channel(3);
  const float inv_range = 1.0f / range;
  int valid = 0;
  for (int y = 0; y < s; ++y) {
    const uint8_t* c = color.ptr<uint8_t>(y);
    const uint16_t* mm = depth.ptr<uint16_t>(y);
    const size_t o = static_cast<size_t>(y) * s;
    for (int x = 0; x < s; ++x) {
      b[o + x] = lut.v[2][c[3 * x + 0]];
      g[o + x] = lut.v[1][c[3 * x + 1]];
      r[o + x] = lut.v[0][c[3 * x + 2]];
      if (mm[x] == 0) {
        d[o + x] = 0.0f;  // invalid: +0
      } else {
        const float v = (static_cast<float>(mm[x]) - z) * inv_range;
        // A valid pixel exactly at z is written as -0.0f: equal to 0 for the network, but the
        // sign bit lets render_crop_preview tell it from an invalid pixel (+0).
        d[o + x] = v == 0.0f ? -0.0f : std::clamp(v, -1.0f, 1.0f);
        ++valid;
      }
    }
  }
  crop.valid_fraction = static_cast<float>(valid) / static_cast<float>(s * s);
}

// ---- head localisation ---------------------------------------------------------------------
// The locator works on a 2x subsampled grid (320x240 for a Kinect frame): depth-continuous
// segments, then a head test on the top of each segment. docs/data.md, "Finding the head".

constexpr int kStep = 2;                   // grid cell = kStep x kStep frame pixels
constexpr float kGridF = kDepthFy / kStep;  // focal length in grid cells
constexpr float kHeadHeightMm = 230.0f;    // crown (with hair) to chin
constexpr float kEyeBelowTopMm = 120.0f;   // the face centre (between the eyes) below the crown
constexpr float kMinHeadWidthMm = 115.0f;  // head-like width at the head's own depth
constexpr float kMaxHeadWidthMm = 260.0f;  // (a yawed head with hair is ~200-240 mm wide)
constexpr float kMinHeadFill = 0.55f;      // valid share of the head's rows between its edges
constexpr float kMinHeadRows = 0.55f;      // a surface spans at least this share of a head height
constexpr float kForeheadWidthScale = 0.9f; // forehead rows' width over the head's width
constexpr float kUnderMm = 150.0f;         // a surface above a head, at most this much farther
constexpr int kShadowCells = 8;            // widest shadow band looked across (grid cells)
constexpr float kWidenMm = 40.0f;          // rows down to 0.7 head heights: at most this wider
constexpr float kMaxCrownOffset = 0.25f;   // the crown's centre within this share of the width
constexpr float kRoundCrown = 0.75f;       // a crown's rows at most this share of the width below

// Largest depth step (mm) between neighbouring grid cells of one surface at depth z (mm): the
// Kinect's quantisation and noise grow with z^2; a head's silhouette, a hand in front of it or
// the wall behind step far more.
inline int continuity_mm(int z) { return static_cast<int>(20 + int64_t{z} * z / 40000); }

struct DepthGrid {
  int rows = 0, cols = 0;
  std::vector<uint16_t> z;  // mm, 0 = invalid or outside [lo, hi]
  uint16_t at(int r, int c) const { return z[static_cast<size_t>(r) * cols + c]; }
};

// Each cell takes the first of its kStep x kStep pixels that lies in [lo, hi].
DepthGrid subsample(const cv::Mat& mm, int lo, int hi) {
  DepthGrid g;
  g.rows = mm.rows / kStep;
  g.cols = mm.cols / kStep;
  g.z.assign(static_cast<size_t>(g.rows) * g.cols, 0);
  const unsigned span = static_cast<unsigned>(hi - lo);
  for (int r = 0; r < g.rows; ++r) {
    const uint16_t* a = mm.ptr<uint16_t>(kStep * r);
    const uint16_t* b = mm.ptr<uint16_t>(kStep * r + 1);
    uint16_t* out = g.z.data() + static_cast<size_t>(r) * g.cols;
    for (int c = 0; c < g.cols; ++c) {
      for (const uint16_t v : {a[2 * c], a[2 * c + 1], b[2 * c], b[2 * c + 1]}) {
        if (static_cast<unsigned>(v) - static_cast<unsigned>(lo) <= span) {
          out[c] = v;
          break;
        }
      }
    }
  }
  return g;
}

struct Segment {
  int area = 0;
  int top = 0, bottom = 0, left = 0, right = 0;
};

// Labels depth-continuous 4-connected segments (union-find); labels[i] = -1 for invalid cells.
std::vector<Segment> segment_grid(const DepthGrid& g, std::vector<int>& labels) {
  const int n = g.rows * g.cols;
  std::vector<int> parent(static_cast<size_t>(n));
  auto find = [&parent](int i) {
    while (parent[i] != i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  auto unite = [&](int a, int b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  };
  for (int r = 0; r < g.rows; ++r) {
    for (int c = 0; c < g.cols; ++c) {
      const int i = r * g.cols + c;
      parent[i] = i;
      const int z = g.z[i];
      if (z == 0) continue;
      const int limit = continuity_mm(z);
      if (c > 0 && g.z[i - 1] != 0 && std::abs(z - g.z[i - 1]) <= limit) unite(i, i - 1);
      if (r > 0 && g.z[i - g.cols] != 0 && std::abs(z - g.z[i - g.cols]) <= limit) {
        unite(i, i - g.cols);
      }
    }
  }
  labels.assign(static_cast<size_t>(n), -1);
  std::vector<int> index_of_root(static_cast<size_t>(n), -1);
  std::vector<Segment> segments;
  for (int r = 0; r < g.rows; ++r) {
    for (int c = 0; c < g.cols; ++c) {
      const int i = r * g.cols + c;
      if (g.z[i] == 0) continue;
      const int root = find(i);
      int& s = index_of_root[root];
      if (s < 0) {
        s = static_cast<int>(segments.size());
        segments.push_back({0, r, r, c, c});
      }
      Segment& seg = segments[static_cast<size_t>(s)];
      ++seg.area;
      seg.bottom = r;
      seg.left = std::min(seg.left, c);
      seg.right = std::max(seg.right, c);
      labels[i] = s;
    }
  }
  return segments;
}

uint16_t median_of(std::vector<uint16_t>& v) {
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>((v.size() - 1) / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

float median_of(std::vector<float>& v) {
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>((v.size() - 1) / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

// The head test of one segment: is its top a head? On success fills the location (frame
// pixels, edge coordinates); otherwise says why not.
struct HeadFit {
  bool ok = false;
  std::string why;
  int segment = -1;
  float z = 0;  // median depth of the head rows
  float head_rows = 0;      // one head height, grid rows
  HeadLocation location;
};

HeadFit fit_head(const DepthGrid& g, const std::vector<int>& labels, int label, const Segment& s) {
  HeadFit fit;
  const int rows = s.bottom - s.top + 1;
  std::vector<int> minx(static_cast<size_t>(rows), g.cols), maxx(static_cast<size_t>(rows), -1),
      count(static_cast<size_t>(rows), 0);
  uint16_t z_min = 65535;
  for (int r = s.top; r <= s.bottom; ++r) {
    const int* lab = labels.data() + static_cast<size_t>(r) * g.cols;
    const size_t k = static_cast<size_t>(r - s.top);
    for (int c = s.left; c <= s.right; ++c) {
      if (lab[c] != label) continue;
      minx[k] = std::min(minx[k], c);
      maxx[k] = c;
      ++count[k];
      z_min = std::min(z_min, g.at(r, c));
    }
  }
  // The head's depth: the median of the rows one head height below the top, first with the
  // segment's nearest depth (the most rows a head can span), then with that median.
  auto head_z = [&](float z) {
    const int n = std::min(rows, static_cast<int>(std::ceil(kHeadHeightMm * kGridF / z)));
    std::vector<uint16_t> zs;
    for (int r = s.top; r < s.top + n; ++r) {
      const int* lab = labels.data() + static_cast<size_t>(r) * g.cols;
      for (int c = s.left; c <= s.right; ++c) {
        if (lab[c] == label) zs.push_back(g.at(r, c));
      }
    }
    return static_cast<float>(median_of(zs));
  };
  fit.z = head_z(head_z(z_min));
  const float head_rows = kHeadHeightMm * kGridF / fit.z;
  fit.head_rows = head_rows;
  const float mm_per_cell = fit.z / kGridF;
  if (s.top == 0) {
    fit.why = "cut off by the image top";
    return fit;
  }
  if (static_cast<float>(rows) < kMinHeadRows * head_rows) {
    fit.why = fmt::format("{:.0f} mm tall, shorter than a head", rows * mm_per_cell);
    return fit;
  }
  // A top hidden behind a nearer surface (the chin over a torso, an arm over a shoulder) is not
  // the top of a head: most cells just above it must be farther, or invalid.
  {
    const int limit = continuity_mm(static_cast<int>(fit.z));
    int above = 0, nearer = 0;
    for (int r = std::max(0, s.top - 3); r < s.top; ++r) {
      for (int c = minx[0]; c <= maxx[0]; ++c) {
        ++above;
        const int z = g.at(r, c);
        nearer += z != 0 && z < static_cast<int>(fit.z) - limit ? 1 : 0;
      }
    }
    if (2 * nearer > above) {
      fit.why = "its top is hidden behind a nearer surface";
      return fit;
    }
  }
  // The middle of the head (0.3 to 0.7 head heights below the top): its width, fill and centre.
  // Between its edges a cell is filled when it belongs to the surface, or when a nearer surface
  // (a hand) hides it; farther depth between the edges (spread fingers, bars) is a gap. A row
  // whose end meets a nearer surface is hidden there: it gives neither width nor centre.
  const int occluder_z = static_cast<int>(fit.z) - continuity_mm(static_cast<int>(fit.z));
  auto occluder = [&](int r, int c) {
    if (c < 0 || c >= g.cols) return false;
    const int z = g.at(r, c);
    return z != 0 && z < occluder_z;
  };
  // Whether the row's end at column c (stepping by dc away from the surface) meets a nearer
  // surface, looking across the invalid band that the Kinect's shadow leaves beside an edge.
  auto hidden_end = [&](int r, int c, int dc) {
    for (int i = 0; i < kShadowCells && c >= 0 && c < g.cols && g.at(r, c) == 0; ++i) c += dc;
    return occluder(r, c);
  };
  auto row_centre = [&](size_t k) { return 0.5f * static_cast<float>(minx[k] + maxx[k] + 1); };
  const int r0 = static_cast<int>(0.3f * head_rows);
  const int r1 = std::min(rows, std::max(r0 + 1, static_cast<int>(std::ceil(0.7f * head_rows))));
  std::vector<float> widths, centres, lefts, rights;
  int filled = 0, spanned = 0;
  for (int k = r0; k < r1; ++k) {
    const size_t kk = static_cast<size_t>(k);
    if (count[kk] == 0) continue;
    const int r = s.top + k;
    const int a = minx[kk], b = maxx[kk];
    lefts.push_back(static_cast<float>(a));
    rights.push_back(static_cast<float>(b + 1));
    if (!hidden_end(r, a - 1, -1) && !hidden_end(r, b + 1, 1)) {
      widths.push_back(static_cast<float>(b - a + 1));
      centres.push_back(row_centre(kk));
    }
    const int* lab = labels.data() + static_cast<size_t>(r) * g.cols;
    for (int c = a; c <= b; ++c) filled += lab[c] == label || occluder(r, c) ? 1 : 0;
    spanned += b - a + 1;
  }
  if (lefts.empty()) {
    fit.why = "no valid depth across the middle of the head";
    return fit;
  }
  constexpr size_t kMinRows = 3;
  // Its width, from the rows whose both ends are seen. A hand over one side of the face hides
  // the middle rows' ends: then the forehead's rows (0.15 to 0.3 head heights, ~90% of the
  // head's width) tell it. Without enough of either the width cannot be told: no answer rather
  // than a guess.
  float width_scale = 1.0f;
  if (widths.size() < kMinRows) {
    widths.clear();
    centres.clear();
    for (int k = static_cast<int>(0.15f * head_rows); k < r0; ++k) {
      const size_t kk = static_cast<size_t>(k);
      if (count[kk] == 0) continue;
      const int r = s.top + k;
      if (!hidden_end(r, minx[kk] - 1, -1) && !hidden_end(r, maxx[kk] + 1, 1)) {
        widths.push_back(static_cast<float>(maxx[kk] - minx[kk] + 1));
        centres.push_back(row_centre(kk));
      }
    }
    width_scale = kForeheadWidthScale;
  }
  if (widths.size() < kMinRows) {
    // A side hidden all along (a hand over it). The visible part alone must be head-wide and
    // topped by a rounded crown, which the strip of a chair back beside a torso (a flat top)
    // is not; the crown's rows then place it. Otherwise no answer rather than a guess.
    std::vector<float> visible, crown;
    for (size_t i = 0; i < lefts.size(); ++i) visible.push_back(rights[i] - lefts[i]);
    for (int k = 0; k < std::min(rows, std::max(2, static_cast<int>(0.1f * head_rows))); ++k) {
      if (count[static_cast<size_t>(k)] > 0) {
        crown.push_back(static_cast<float>(maxx[static_cast<size_t>(k)] - minx[static_cast<size_t>(k)] + 1));
      }
    }
    const float seen = median_of(visible);
    if (seen * mm_per_cell < kMinHeadWidthMm || median_of(crown) > kRoundCrown * seen) {
      fit.why = "its sides are hidden behind a nearer surface (hand, arm)";
      return fit;
    }
    widths = {seen};
    width_scale = 1.0f;
    centres.clear();
    for (int k = 0; k < std::min(rows, static_cast<int>(0.15f * head_rows) + 1); ++k) {
      if (count[static_cast<size_t>(k)] > 0) centres.push_back(row_centre(static_cast<size_t>(k)));
    }
  }
  const float width_mm = median_of(widths) * mm_per_cell / width_scale;
  if (width_mm > kMaxHeadWidthMm) {
    fit.why = fmt::format("{:.0f} mm wide, wider than a head (torso, wall, furniture)", width_mm);
    return fit;
  }
  if (width_mm < kMinHeadWidthMm) {
    fit.why = fmt::format("{:.0f} mm wide, narrower than a head (hand, arm, edge)", width_mm);
    return fit;
  }
  const float fill = static_cast<float>(filled) / static_cast<float>(spanned);
  if (fill < kMinHeadFill) {
    fit.why = fmt::format("only {:.0f}% of its width has depth (fingers, bars, noise)", 100 * fill);
    return fit;
  }
  // A head does not widen into shoulders within 0.7 head heights of its top (a neck stump on a
  // torso, a coat on a chair do), and its crown sits over the middle of it (a shoulder's top
  // beside an arm or a head sits at one end).
  const int r_end = std::min(rows, r1);
  int widest = 0;
  for (int k = 0; k < r_end; ++k) {
    const size_t kk = static_cast<size_t>(k);
    if (count[kk] > 0) widest = std::max(widest, maxx[kk] - minx[kk] + 1);
  }
  if (static_cast<float>(widest) * mm_per_cell > kMaxHeadWidthMm + kWidenMm) {
    fit.why = fmt::format("widens to {:.0f} mm within a head height of its top (shoulders, "
                          "furniture)",
                          static_cast<float>(widest) * mm_per_cell);
    return fit;
  }
  const float left = median_of(lefts), right = median_of(rights);
  {
    std::vector<float> crown;
    const int crown_rows = std::max(2, static_cast<int>(0.1f * head_rows));
    for (int k = 0; k < std::min(rows, crown_rows); ++k) {
      if (count[static_cast<size_t>(k)] > 0) crown.push_back(row_centre(static_cast<size_t>(k)));
    }
    const float crown_x = median_of(crown);
    if (std::abs(crown_x - 0.5f * (left + right)) > kMaxCrownOffset * (right - left)) {
      fit.why = "its top is not over its middle (a shoulder, an arm)";
      return fit;
    }
  }
  if (left <= 0 || right >= static_cast<float>(g.cols)) {
    fit.why = "cut off by the image side";
    return fit;
  }
  HeadLocation& out = fit.location;
  out.z_mm = fit.z;
  out.width_mm = width_mm;
  out.center.x = kStep * median_of(centres);
  // The face centre in 3-D: the crown is seen at the depth of the top rows (the back of the
  // head, farther than the face), the eyes kEyeBelowTopMm below it at the head's depth.
  std::vector<uint16_t> top_z;
  const int crown_end = std::min(s.bottom + 1, s.top + std::max(2, static_cast<int>(0.1f * head_rows)));
  for (int r = s.top; r < crown_end; ++r) {
    const int* lab = labels.data() + static_cast<size_t>(r) * g.cols;
    for (int c = s.left; c <= s.right; ++c) {
      if (lab[c] == label) top_z.push_back(g.at(r, c));
    }
  }
  const float crown_z = static_cast<float>(median_of(top_z));
  const float crown_y = (kStep * static_cast<float>(s.top) - 0.5f - kDepthCy) * crown_z / kDepthFy;
  out.center.y = kDepthFy * (crown_y + kEyeBelowTopMm) / fit.z + kDepthCy + 0.5f;
  out.head_box = cv::Rect2f(kStep * left, kStep * static_cast<float>(s.top),
                            kStep * (right - left), kStep * head_rows);
  out.blob_pixels = kStep * kStep * s.area;
  fit.ok = true;
  return fit;
}

}  // namespace

bool locate_head(const DepthMap& depth, const PreprocessConfig& config, HeadLocation& out,
                 std::string& reason) {
  check_depth(depth);
  const int lo = std::max(1, static_cast<int>(std::ceil(config.min_depth_mm)));
  const int hi = std::min(65535, static_cast<int>(std::floor(config.max_depth_mm)));
  if (lo > hi) {
    reason = fmt::format("empty depth range [{}, {}] mm", config.min_depth_mm, config.max_depth_mm);
    return false;
  }
  const DepthGrid grid = subsample(depth.mm, lo, hi);
  if (std::all_of(grid.z.begin(), grid.z.end(), [](uint16_t v) { return v == 0; })) {
    reason = fmt::format("no valid depth in [{}, {}] mm", config.min_depth_mm, config.max_depth_mm);
    return false;
  }
  std::vector<int> labels;
  const std::vector<Segment> segments = segment_grid(grid, labels);
  const int min_area = std::max(1, config.min_blob_pixels / (kStep * kStep));
  int largest = 0;
  std::vector<HeadFit> rejected;
  std::vector<HeadFit> fits;
  for (size_t i = 0; i < segments.size(); ++i) {
    largest = std::max(largest, segments[i].area);
    if (segments[i].area < min_area) continue;
    fits.push_back(fit_head(grid, labels, static_cast<int>(i), segments[i]));
    fits.back().segment = static_cast<int>(i);
  }
  // A head has nothing at its depth above it: a surface that starts well above the top, comes
  // down to it and overlaps its columns makes it the body under a head (a shoulder beside a
  // raised arm, whose head a hand hides).
  for (HeadFit& f : fits) {
    if (!f.ok) continue;
    const Segment& sf = segments[static_cast<size_t>(f.segment)];
    for (const HeadFit& o : fits) {
      const Segment& so = segments[static_cast<size_t>(o.segment)];
      if (o.segment == f.segment || o.z > f.z + kUnderMm) continue;
      if (so.top < sf.top - 0.3f * f.head_rows && so.bottom >= sf.top - 0.2f * f.head_rows &&
          so.left <= sf.right && so.right >= sf.left) {
        f.ok = false;
        f.why = "under another surface at its depth (a shoulder under a head)";
        break;
      }
    }
  }
  HeadFit best;
  for (HeadFit& fit : fits) {
    if (!fit.ok) {
      rejected.push_back(std::move(fit));
    } else if (!best.ok || fit.z < best.z) {
      best = std::move(fit);  // the nearest head is the user's
    }
  }
  if (best.ok) {
    out = best.location;
    out.side_px = static_cast<float>(config.crop_mm) * kDepthFx / out.z_mm;
    out.center.y -= static_cast<float>(config.face_shift) * out.side_px;
    return true;
  }
  if (rejected.empty()) {
    reason = fmt::format("no surface of valid depth >= {} px in [{}, {}] mm (largest {} px)",
                         config.min_blob_pixels, config.min_depth_mm, config.max_depth_mm,
                         kStep * kStep * largest);
    return false;
  }
  std::sort(rejected.begin(), rejected.end(),
            [](const HeadFit& a, const HeadFit& b) { return a.z < b.z; });
  reason = fmt::format("no head-shaped surface among {} candidate(s):", rejected.size());
  for (size_t i = 0; i < std::min<size_t>(3, rejected.size()); ++i) {
    reason += fmt::format("{} at {:.0f} mm, {}", i ? ";" : "", rejected[i].z, rejected[i].why);
  }
  return false;
}

PreprocessResult preprocess(const Frame& frame, const PreprocessConfig& config) {
  check_depth(frame.depth);
  if (frame.color.type() != CV_8UC3 || frame.color.size() != frame.depth.mm.size()) {
    throw_internal("preprocess: colour must be CV_8UC3 of the depth image's size");
  }
  if (config.input_size <= 0) {
    throw_bad_input(fmt::format("preprocess.input_size: expected > 0, got {}", config.input_size));
  }
  PreprocessResult result;
  FaceCrop& crop = result.crop;
  crop.size = config.input_size;
  if (config.crop == CropMode::fixed) {
    const cv::Rect window = kFixedWindow & cv::Rect(0, 0, frame.depth.mm.cols, frame.depth.mm.rows);
    std::vector<uint16_t> values;
    values.reserve(static_cast<size_t>(window.area()));
    for (int y = window.y; y < window.y + window.height; ++y) {
      const uint16_t* d = frame.depth.mm.ptr<uint16_t>(y);
      for (int x = window.x; x < window.x + window.width; ++x) {
        if (d[x] != 0) values.push_back(d[x]);
      }
    }
    if (values.empty()) {
      result.no_face_reason = "no valid depth inside the fixed crop window";
      return result;
    }
    const auto mid = values.begin() + static_cast<std::ptrdiff_t>((values.size() - 1) / 2);
    std::nth_element(values.begin(), mid, values.end());
    crop.head_z_mm = *mid;
    crop.box = cv::Rect2f(kFixedWindow);
  } else {
    HeadLocation head;
    if (!locate_head(frame.depth, config, head, result.no_face_reason)) return result;
    crop.head_z_mm = head.z_mm;
    crop.box = cv::Rect2f(head.center.x - 0.5f * head.side_px, head.center.y - 0.5f * head.side_px,
                          head.side_px, head.side_px);
  }
  cv::Mat color, depth;
  crop_identically(frame, crop.box, crop.size, color, depth);
  normalise(color, depth, crop.head_z_mm, static_cast<float>(config.depth_range_mm), crop);
  result.ok = true;
  return result;
}

uint64_t preprocess_fingerprint(const PreprocessConfig& c) {
  // Every field, the version and the constants that shape the output, in a canonical text.
  const std::string text = fmt::format(
      "faceid-preprocess v{};crop={};crop_mm={:.17g};input_size={};depth_range_mm={:.17g};"
      "min_depth_mm={:.17g};max_depth_mm={:.17g};min_blob_pixels={};face_shift={:.17g};"
      "fx={:.9g};fy={:.9g};mean={:.9g},{:.9g},{:.9g};std={:.9g},{:.9g},{:.9g}",
      kPreprocessVersion, to_string(c.crop), c.crop_mm, c.input_size, c.depth_range_mm,
      c.min_depth_mm, c.max_depth_mm, c.min_blob_pixels, c.face_shift, kDepthFx, kDepthFy,
      kColorMean[0], kColorMean[1], kColorMean[2], kColorStd[0], kColorStd[1], kColorStd[2]);
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64
  for (const unsigned char ch : text) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return h;
}

cv::Mat render_crop_preview(const FaceCrop& crop) {
  const int s = crop.size;
  if (s <= 0 || crop.chw.size() != static_cast<size_t>(kChannels) * s * s) {
    throw_internal("render_crop_preview: crop is empty or its chw has the wrong size");
  }
  cv::Mat out(s, 2 * s, CV_8UC3);
  const float* r = crop.channel(0);
  const float* g = crop.channel(1);
  const float* b = crop.channel(2);
  const float* d = crop.channel(3);
  auto to_byte = [](float v, int c) {
    return cv::saturate_cast<uint8_t>((v * kColorStd[c] + kColorMean[c]) * 255.0f);
  };
  for (int y = 0; y < s; ++y) {
    uint8_t* row = out.ptr<uint8_t>(y);
    const size_t o = static_cast<size_t>(y) * s;
    for (int x = 0; x < s; ++x) {
      row[3 * x + 0] = to_byte(b[o + x], 2);
      row[3 * x + 1] = to_byte(g[o + x], 1);
      row[3 * x + 2] = to_byte(r[o + x], 0);
      uint8_t* px = row + 3 * (s + x);
      const float v = d[o + x];
      if (v == 0.0f && !std::signbit(v)) {  // +0: invalid depth
        px[0] = 0;
        px[1] = 0;
        px[2] = 255;
      } else {  // near (-1) white, far (+1) black
        const uint8_t grey = cv::saturate_cast<uint8_t>((1.0f - v) * 127.5f);
        px[0] = px[1] = px[2] = grey;
      }
    }
  }
  return out;
}

}  // namespace faceid
