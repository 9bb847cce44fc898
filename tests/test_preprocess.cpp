#include <catch2/catch.hpp>

#include <chrono>
#include <set>

#include "faceid/preprocess/preprocess.hpp"
#include "io_test_util.hpp"

using faceid::FaceCrop;
using faceid::PreprocessConfig;
using faceid_test::make_scene;
using faceid_test::Scene;

namespace {

// The frame pixel (index coordinates) that output pixel (u, v) samples.
cv::Point2f source_of(const FaceCrop& c, int u, int v) {
  const float s = c.box.width / static_cast<float>(c.size);
  return {c.box.x + (static_cast<float>(u) + 0.5f) * s - 0.5f,
          c.box.y + (static_cast<float>(v) + 0.5f) * s - 0.5f};
}

float px(const FaceCrop& c, int channel, int u, int v) {
  return c.channel(channel)[static_cast<size_t>(v) * c.size + u];
}

// Weighted centroid (output pixels) of where `weight` > 0.
template <class F>
cv::Point2d centroid(const FaceCrop& c, F weight) {
  double sx = 0, sy = 0, sw = 0;
  for (int v = 0; v < c.size; ++v) {
    for (int u = 0; u < c.size; ++u) {
      const double w = weight(u, v);
      if (w <= 0) continue;
      sx += w * u;
      sy += w * v;
      sw += w;
    }
  }
  REQUIRE(sw > 0);
  return {sx / sw, sy / sw};
}

}  // namespace

TEST_CASE("preprocess: the depth crop is centred on the head", "[preprocess]") {
  PreprocessConfig config;
  config.face_shift = 0.0;
  for (const Scene& s : {Scene{320, 200, 800, false}, Scene{250, 230, 800, true},
                         Scene{400, 160, 1200, false}, Scene{330, 190, 600, false}}) {
    INFO("head at " << s.cx << "," << s.cy << " front " << s.front_mm << " flat " << s.flat_head);
    faceid::HeadLocation head;
    std::string reason;
    REQUIRE(faceid::locate_head(make_scene(s).depth, config, head, reason));
    // Edge coordinates: the centre of pixel i is i + 0.5. The face centre is placed 120 mm below
    // the top of the head: 10 mm below the centre of this 220 mm tall head.
    CHECK(std::abs(head.center.x - (s.cx + 0.5f)) <= 1.0f);
    CHECK(std::abs(head.center.y - (s.cy + 0.5f + 10.0f * 525.0f / s.front_mm)) <= 4.0f);
    CHECK(head.z_mm >= s.front_mm);
    CHECK(head.z_mm <= s.front_mm + 60);
    CHECK(head.side_px == Approx(240.0 * 525.0 / head.z_mm));
    CHECK(head.blob_pixels > 5000);
  }
  // face_shift moves the crop up by that fraction of its side.
  const Scene s{320, 200, 800, false};
  faceid::HeadLocation h0, h1;
  std::string reason;
  REQUIRE(faceid::locate_head(make_scene(s).depth, config, h0, reason));
  config.face_shift = 0.1;
  REQUIRE(faceid::locate_head(make_scene(s).depth, config, h1, reason));
  CHECK(h1.center.y == Approx(h0.center.y - 0.1f * h0.side_px));
  CHECK(h1.center.x == h0.center.x);
}

TEST_CASE("preprocess: depth normalisation at known pixels", "[preprocess]") {
  const Scene s{320, 220, 800, /*flat_head=*/true};
  faceid::Frame frame = make_scene(s);
  // A 10x10 "nose" 60 mm in front of the flat face and a hole of invalid depth.
  frame.depth.mm(cv::Rect(s.cx - 5, s.cy - 5, 10, 10)).setTo(740);
  frame.depth.mm(cv::Rect(s.cx + 20, s.cy - 30, 8, 8)).setTo(0);
  cv::compare(frame.depth.mm, 0, frame.depth.valid, cv::CMP_NE);
  PreprocessConfig config;
  config.input_size = 64;
  const faceid::PreprocessResult r = faceid::preprocess(frame, config);
  REQUIRE(r.ok);
  const FaceCrop& c = r.crop;
  CHECK(c.head_z_mm == 800.0f);  // the flat head's median, exactly
  CHECK(c.size == 64);
  REQUIRE(c.chw.size() == 4u * 64 * 64);
  CHECK(c.box.width == Approx(240.0 * 525.0 / 800.0));
  CHECK(c.box.height == c.box.width);
  int checked_nose = 0, checked_face = 0, checked_hole = 0, checked_far = 0;
  for (int v = 0; v < c.size; ++v) {
    for (int u = 0; u < c.size; ++u) {
      const cv::Point2f p = source_of(c, u, v);
      const int x = static_cast<int>(std::lround(p.x));
      const int y = static_cast<int>(std::lround(p.y));
      const float d = px(c, 3, u, v);
      if (x < 0 || y < 0 || x >= 640 || y >= 480) {
        CHECK(d == 0.0f);
        continue;
      }
      // Skip samples that sit on a rounding boundary between two source pixels.
      if (std::abs(p.x - std::floor(p.x) - 0.5f) < 0.02f || std::abs(p.y - std::floor(p.y) - 0.5f) < 0.02f) {
        continue;
      }
      const int mm = frame.depth.mm.at<uint16_t>(y, x);
      if (mm == 740) {
        CHECK(d == Approx(-0.4f));
        ++checked_nose;
      } else if (mm == 800) {
        CHECK(d == 0.0f);
        ++checked_face;
      } else if (mm == 0) {
        CHECK(d == 0.0f);
        ++checked_hole;
      } else {
        CHECK(d == Approx(std::min(1.0f, (mm - 800.0f) / 150.0f)));
        ++checked_far;
      }
    }
  }
  CHECK(checked_nose > 4);
  CHECK(checked_face > 500);
  CHECK(checked_hole > 2);
  CHECK(checked_far > 100);
  CHECK(c.valid_fraction > 0.9f);
  CHECK(c.valid_fraction < 1.0f);
  // Colour: (rgb / 255 - mean) / std, in R, G, B order.
  const cv::Point2f p = source_of(c, 32, 32);
  const cv::Vec3b bgr = frame.color.at<cv::Vec3b>(static_cast<int>(std::lround(p.y)),
                                                  static_cast<int>(std::lround(p.x)));
  CHECK(px(c, 2, 32, 32) == Approx((bgr[0] / 255.0f - 0.406f) / 0.225f).margin(0.1));
  CHECK(px(c, 0, 32, 32) == Approx((200 / 255.0f - 0.485f) / 0.229f).margin(1e-4));  // head red
}

TEST_CASE("preprocess: colour and depth stay aligned", "[preprocess]") {
  for (const int front : {800, 550, 1300}) {
    INFO("head front at " << front << " mm");
    const Scene s{300, 210, front, false};
    faceid::Frame frame = make_scene(s);
    // The same 7x7 marker in colour (pure green) and depth (40 mm in front of the head).
    const cv::Rect marker(s.cx + 12, s.cy - 9, 7, 7);
    frame.color(marker).setTo(cv::Scalar(0, 255, 0));
    frame.depth.mm(marker).setTo(front - 40);
    PreprocessConfig config;
    config.input_size = 96;
    const faceid::PreprocessResult r = faceid::preprocess(frame, config);
    REQUIRE(r.ok);
    const FaceCrop& c = r.crop;
    const float marker_d = (front - 40 - c.head_z_mm) / 150.0f;
    const float green = (1.0f - 0.456f) / 0.224f;
    const cv::Point2d in_depth = centroid(c, [&](int u, int v) {
      return std::abs(px(c, 3, u, v) - marker_d) < 1e-4f ? 1.0 : 0.0;
    });
    const cv::Point2d in_colour = centroid(c, [&](int u, int v) {
      return std::max(0.0f, px(c, 1, u, v) - 0.5f * green) * (px(c, 0, u, v) < 0.0f ? 1.0f : 0.0f);
    });
    CHECK(std::abs(in_depth.x - in_colour.x) < 0.6);
    CHECK(std::abs(in_depth.y - in_colour.y) < 0.6);
    // And both where the geometry says: the marker centre maps to this output position.
    const float scale = c.size / c.box.width;
    const double expect_x = (marker.x + 3.5f - c.box.x) * scale - 0.5;
    const double expect_y = (marker.y + 3.5f - c.box.y) * scale - 0.5;
    CHECK(std::abs(in_colour.x - expect_x) < 0.6);
    CHECK(std::abs(in_colour.y - expect_y) < 0.6);
  }
}

TEST_CASE("preprocess: fixed crop is rows 140:340, cols 220:420", "[preprocess]") {
  faceid::Frame frame = make_scene(Scene{320, 240, 800, false});
  for (int y = 0; y < 480; ++y) {
    for (int x = 0; x < 640; ++x) {
      frame.color.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(x), static_cast<uint8_t>(y), 7);
      frame.depth.mm.at<uint16_t>(y, x) = static_cast<uint16_t>(700 + x);
    }
  }
  cv::compare(frame.depth.mm, 0, frame.depth.valid, cv::CMP_NE);
  PreprocessConfig config;
  config.crop = faceid::CropMode::fixed;
  config.input_size = 200;  // 1:1, so every output pixel is exactly one frame pixel
  const faceid::PreprocessResult r = faceid::preprocess(frame, config);
  REQUIRE(r.ok);
  const FaceCrop& c = r.crop;
  CHECK(c.box == cv::Rect2f(220, 140, 200, 200));
  CHECK(c.head_z_mm == 700 + 319);  // lower median of x in 220..419
  for (const auto& [u, v] : std::vector<std::pair<int, int>>{{0, 0}, {199, 199}, {57, 123}}) {
    const int x = 220 + u;
    const int y = 140 + v;
    CHECK(px(c, 0, u, v) == Approx((7 / 255.0f - 0.485f) / 0.229f));
    CHECK(px(c, 1, u, v) == Approx((static_cast<uint8_t>(y) / 255.0f - 0.456f) / 0.224f));
    CHECK(px(c, 2, u, v) == Approx((static_cast<uint8_t>(x) / 255.0f - 0.406f) / 0.225f));
    CHECK(px(c, 3, u, v) == Approx(std::clamp((700.0f + x - 1019.0f) / 150.0f, -1.0f, 1.0f)));
  }
  CHECK(c.valid_fraction == 1.0f);

  config.input_size = 100;  // 2:1 shrink keeps the window
  const faceid::PreprocessResult half = faceid::preprocess(frame, config);
  REQUIRE(half.ok);
  CHECK(half.crop.box == cv::Rect2f(220, 140, 200, 200));
  CHECK(px(half.crop, 2, 10, 0) == Approx((240.5f / 255.0f - 0.406f) / 0.225f).margin(0.01));
}

TEST_CASE("preprocess: no face is a result, not an exception", "[preprocess]") {
  faceid::Frame frame = make_scene(Scene{});
  frame.depth.mm.setTo(0);
  frame.depth.valid.setTo(0);
  const faceid::PreprocessResult r = faceid::preprocess(frame, PreprocessConfig{});
  CHECK_FALSE(r.ok);
  CHECK(r.no_face_reason == "no valid depth in [300, 2500] mm");

  // Only specks: nothing reaches min_blob_pixels.
  for (int i = 0; i < 50; ++i) frame.depth.mm(cv::Rect(10 + 12 * i, 100, 3, 3)).setTo(900 + 5 * i);
  const faceid::PreprocessResult specks = faceid::preprocess(frame, PreprocessConfig{});
  CHECK_FALSE(specks.ok);
  CHECK_THAT(specks.no_face_reason,
             Catch::StartsWith("no surface of valid depth >= 800 px in [300, 2500] mm (largest "));

  PreprocessConfig fixed;
  fixed.crop = faceid::CropMode::fixed;
  const faceid::PreprocessResult f = faceid::preprocess(frame, fixed);
  CHECK_FALSE(f.ok);
  CHECK(f.no_face_reason == "no valid depth inside the fixed crop window");
}

TEST_CASE("preprocess: a nearer small object does not hide the head", "[preprocess]") {
  const Scene s{320, 200, 900, false};
  faceid::Frame frame = make_scene(s);
  frame.depth.mm(cv::Rect(40, 300, 20, 20)).setTo(450);  // 400 px, below min_blob_pixels
  faceid::HeadLocation head;
  std::string reason;
  REQUIRE(faceid::locate_head(frame.depth, PreprocessConfig{}, head, reason));
  CHECK(std::abs(head.center.x - (s.cx + 0.5f)) <= 1.0f);
  CHECK(head.z_mm >= 900);
}

TEST_CASE("preprocess: fingerprint covers every field", "[preprocess]") {
  const PreprocessConfig base;
  const uint64_t h = faceid::preprocess_fingerprint(base);
  CHECK(h == faceid::preprocess_fingerprint(PreprocessConfig{}));
  std::vector<PreprocessConfig> changed(8, base);
  changed[0].crop = faceid::CropMode::fixed;
  changed[1].crop_mm = 241;
  changed[2].input_size = 112;
  changed[3].depth_range_mm = 151;
  changed[4].min_depth_mm = 301;
  changed[5].max_depth_mm = 2400;
  changed[6].min_blob_pixels = 801;
  changed[7].face_shift = 0.0800001;
  std::set<uint64_t> all{h};
  for (const auto& c : changed) all.insert(faceid::preprocess_fingerprint(c));
  CHECK(all.size() == 9);
}

TEST_CASE("preprocess: preview shows colour beside depth, invalid in red", "[preprocess]") {
  faceid::Frame frame = make_scene(Scene{320, 220, 800, true});
  frame.depth.mm(cv::Rect(0, 0, 640, 150)).setTo(0);  // the top of the crop has no depth
  cv::compare(frame.depth.mm, 0, frame.depth.valid, cv::CMP_NE);
  PreprocessConfig config;
  config.input_size = 64;
  config.face_shift = 0.1;  // the crop's top rows above the head, into the invalid band
  const faceid::PreprocessResult r = faceid::preprocess(frame, config);
  REQUIRE(r.ok);
  const cv::Mat img = faceid::render_crop_preview(r.crop);
  REQUIRE(img.type() == CV_8UC3);
  REQUIRE(img.size() == cv::Size(128, 64));
  CHECK(img.at<cv::Vec3b>(0, 64 + 32) == cv::Vec3b(0, 0, 255));     // invalid: red
  CHECK(img.at<cv::Vec3b>(40, 64 + 32) == cv::Vec3b(128, 128, 128));  // at head z: mid grey
  CHECK(img.at<cv::Vec3b>(40, 32)[2] == 200);  // the head's red channel comes back
}

TEST_CASE("preprocess: speed per frame", "[.bench]") {
  const faceid::Frame frame = make_scene(Scene{});
  const PreprocessConfig config;
  const int reps = 200;
  const auto t0 = std::chrono::steady_clock::now();
  int ok = 0;
  for (int i = 0; i < reps; ++i) ok += faceid::preprocess(frame, config).ok ? 1 : 0;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN(fmt::format("preprocess (depth crop, {} px): {:.2f} ms per frame", config.input_size,
                   1e3 * s / reps));
  CHECK(ok == reps);
}
