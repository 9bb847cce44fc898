// The one preprocessing path: head localisation in depth, identical colour/depth crop, normalise.
// The algorithm and its constants are documented in docs/data.md; bump kPreprocessVersion when
// the output for a given input and config changes.
#include "faceid/preprocess/preprocess.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "faceid/error.hpp"

namespace faceid {
namespace {

constexpr int kPreprocessVersion = 1;
constexpr int kBinMm = 10;               // histogram bin of the nearest-level search
constexpr int kSeedWindowBins = 5;       // a depth level is a 50 mm window of bins
constexpr int kBandMm = 300;             // the blob band: [z_near - 50, z_near + kBandMm]
constexpr float kHeadHeightMm = 220.0f;  // head height: the top rows of the blob that are "head"
constexpr int kMaxLevelAttempts = 8;     // nearer levels whose blob was too small are skipped
constexpr float kMaxAreaScale = 1.5f;    // colour shrink beyond this goes through an area filter
const cv::Rect kFixedWindow(220, 140, 200, 200);  // the proof of concept's rows 140:340, cols 220:420

void check_depth(const DepthMap& depth) {
  if (depth.mm.empty() || depth.mm.type() != CV_16UC1) {
    throw_internal("preprocess: depth.mm must be a non-empty CV_16UC1 image");
  }
}

// Lower median of a histogram holding `count` samples; the index of the bin.
int histogram_median(const std::vector<int>& hist, int count) {
  const int k = (count - 1) / 2;
  int seen = 0;
  for (size_t i = 0; i < hist.size(); ++i) {
    seen += hist[i];
    if (seen > k) return static_cast<int>(i);
  }
  return static_cast<int>(hist.size()) - 1;
}

struct HeadRows {
  int pixels = 0;
  float z = 0.0f;
  float median_col = 0.0f;
};

// Median depth and column of the blob's pixels in rows [top, top + rows).
HeadRows head_rows_stats(const cv::Mat& mm, const cv::Mat& labels, int label, const cv::Rect& bbox,
                         int rows, int z_lo, int z_hi) {
  std::vector<int> zhist(static_cast<size_t>(z_hi - z_lo + 1), 0);
  std::vector<int> chist(static_cast<size_t>(bbox.width), 0);
  HeadRows out;
  const int y_end = std::min(bbox.y + std::max(rows, 1), bbox.y + bbox.height);
  for (int y = bbox.y; y < y_end; ++y) {
    const int* lab = labels.ptr<int>(y) + bbox.x;
    const uint16_t* d = mm.ptr<uint16_t>(y) + bbox.x;
    for (int x = 0; x < bbox.width; ++x) {
      if (lab[x] != label) continue;
      ++zhist[static_cast<size_t>(d[x] - z_lo)];
      ++chist[static_cast<size_t>(x)];
      ++out.pixels;
    }
  }
  if (out.pixels > 0) {
    out.z = static_cast<float>(z_lo + histogram_median(zhist, out.pixels));
    out.median_col = static_cast<float>(bbox.x + histogram_median(chist, out.pixels));
  }
  return out;
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

}  // namespace

bool locate_head(const DepthMap& depth, const PreprocessConfig& config, HeadLocation& out,
                 std::string& reason) {
  check_depth(depth);
  const cv::Mat& mm = depth.mm;
  const int lo = std::max(1, static_cast<int>(std::ceil(config.min_depth_mm)));
  const int hi = std::min(65535, static_cast<int>(std::floor(config.max_depth_mm)));
  if (lo > hi) {
    reason = fmt::format("empty depth range [{}, {}] mm", config.min_depth_mm, config.max_depth_mm);
    return false;
  }
  // 1. Histogram of valid depths in [lo, hi] with 10 mm bins.
  const int nbins = (hi - lo) / kBinMm + 1;
  std::vector<int> hist(static_cast<size_t>(nbins), 0);
  const unsigned span = static_cast<unsigned>(hi - lo);
  int total = 0;
  for (int y = 0; y < mm.rows; ++y) {
    const uint16_t* d = mm.ptr<uint16_t>(y);
    for (int x = 0; x < mm.cols; ++x) {
      const unsigned v = static_cast<unsigned>(d[x]) - static_cast<unsigned>(lo);
      if (v <= span) {
        ++hist[v / kBinMm];
        ++total;
      }
    }
  }
  if (total == 0) {
    reason = fmt::format("no valid depth in [{}, {}] mm", config.min_depth_mm, config.max_depth_mm);
    return false;
  }
  std::vector<int> prefix(static_cast<size_t>(nbins) + 1, 0);
  for (int i = 0; i < nbins; ++i) prefix[i + 1] = prefix[i] + hist[i];
  const int seed = std::max(20, config.min_blob_pixels / 4);

  // 2. The nearest level (50 mm window) with enough pixels; the band behind it; its largest
  //    8-connected blob. A level whose blob is too small (a hand's edge, noise) is skipped.
  cv::Mat band, labels, stats, centroids;
  int start = 0;
  int best_area = 0;
  int label = -1;
  int z_lo = 0;
  int z_hi = 0;
  for (int attempt = 0; attempt < kMaxLevelAttempts && label < 0; ++attempt) {
    int b = start;
    while (b < nbins && prefix[std::min(nbins, b + kSeedWindowBins)] - prefix[b] < seed) ++b;
    if (b >= nbins) break;
    const int z_near = lo + b * kBinMm;
    z_lo = std::max(lo, z_near - kSeedWindowBins * kBinMm);  // keep a nose tip in front of it
    z_hi = std::min(hi, z_near + kBandMm);
    cv::inRange(mm, cv::Scalar(z_lo), cv::Scalar(z_hi), band);
    const int n = cv::connectedComponentsWithStats(band, labels, stats, centroids, 8, CV_32S);
    int largest = -1;
    int area = 0;
    for (int i = 1; i < n; ++i) {
      if (stats.at<int>(i, cv::CC_STAT_AREA) > area) {
        area = stats.at<int>(i, cv::CC_STAT_AREA);
        largest = i;
      }
    }
    best_area = std::max(best_area, area);
    if (area >= config.min_blob_pixels) label = largest;
    start = b + kSeedWindowBins;
  }
  if (label < 0) {
    reason = fmt::format("no blob of valid depth >= {} px in [{}, {}] mm (largest {} px)",
                         config.min_blob_pixels, config.min_depth_mm, config.max_depth_mm,
                         best_area);
    return false;
  }
  const cv::Rect bbox(stats.at<int>(label, cv::CC_STAT_LEFT), stats.at<int>(label, cv::CC_STAT_TOP),
                      stats.at<int>(label, cv::CC_STAT_WIDTH),
                      stats.at<int>(label, cv::CC_STAT_HEIGHT));

  // 3. The head: the blob's top rows spanning one head height. z_lo bounds z from below, so the
  //    first pass sees at least the head; the second uses the head's own median depth.
  const HeadRows first = head_rows_stats(
      mm, labels, label, bbox, static_cast<int>(std::ceil(kHeadHeightMm * kDepthFy / z_lo)), z_lo,
      z_hi);
  const float head_px = kHeadHeightMm * kDepthFy / first.z;
  const HeadRows head = head_rows_stats(mm, labels, label, bbox,
                                        static_cast<int>(std::ceil(head_px)), z_lo, z_hi);
  const float head_h = kHeadHeightMm * kDepthFy / head.z;

  // 4. The crop: crop_mm at the head's depth, centred on the head, shifted up towards the face.
  out.z_mm = head.z;
  out.side_px = static_cast<float>(config.crop_mm) * kDepthFx / head.z;
  out.center.x = head.median_col + 0.5f;  // edge coordinates: pixel i spans [i, i + 1)
  out.center.y = static_cast<float>(bbox.y) + 0.5f * std::min(head_h, static_cast<float>(bbox.height)) -
                 static_cast<float>(config.face_shift) * out.side_px;
  out.blob_pixels = stats.at<int>(label, cv::CC_STAT_AREA);
  return true;
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
  if (config.crop == "fixed") {
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
  } else if (config.crop == "depth") {
    HeadLocation head;
    if (!locate_head(frame.depth, config, head, result.no_face_reason)) return result;
    crop.head_z_mm = head.z_mm;
    crop.box = cv::Rect2f(head.center.x - 0.5f * head.side_px, head.center.y - 0.5f * head.side_px,
                          head.side_px, head.side_px);
  } else {
    throw_bad_input(fmt::format("preprocess.crop: expected depth|fixed, got '{}'", config.crop));
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
      kPreprocessVersion, c.crop, c.crop_mm, c.input_size, c.depth_range_mm, c.min_depth_mm,
      c.max_depth_mm, c.min_blob_pixels, c.face_shift, kDepthFx, kDepthFy, kColorMean[0],
      kColorMean[1], kColorMean[2], kColorStd[0], kColorStd[1], kColorStd[2]);
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
