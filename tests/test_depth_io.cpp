#include <catch2/catch.hpp>

#include "test_util.hpp"

#include <chrono>

#include <opencv2/imgcodecs.hpp>

#include "faceid/core/error.hpp"
#include "faceid/io/depth_io.hpp"
#include "io_test_util.hpp"

using faceid::DepthMap;
using faceid::Error;
using faceid::parse_depth_dat;
using faceid_test::dat_text;
using faceid_test::TempDir;
using faceid_test::write_bytes;

namespace {
using faceid::test::bad_input_message;


// A VAP-sized raw depth image with distances and every invalid code.
cv::Mat vap_raw() {
  cv::Mat raw(faceid::kDepthHeight, faceid::kDepthWidth, CV_16SC1);
  for (int y = 0; y < raw.rows; ++y) {
    for (int x = 0; x < raw.cols; ++x) raw.at<int16_t>(y, x) = static_cast<int16_t>(500 + (x * 7 + y * 3) % 1500);
  }
  raw.at<int16_t>(0, 0) = -1;
  raw.at<int16_t>(1, 5) = 0;
  raw.at<int16_t>(479, 639) = 4095;
  raw.at<int16_t>(10, 10) = 1;
  raw.at<int16_t>(10, 11) = 4094;
  raw.at<int16_t>(10, 12) = 10000;
  return raw;
}

void check_vap(const DepthMap& d) {
  REQUIRE(d.mm.type() == CV_16UC1);
  REQUIRE(d.valid.type() == CV_8UC1);
  REQUIRE(d.mm.size() == cv::Size(640, 480));
  CHECK(d.mm.at<uint16_t>(0, 0) == 0);
  CHECK(d.valid.at<uint8_t>(0, 0) == 0);
  CHECK(d.mm.at<uint16_t>(1, 5) == 0);
  CHECK(d.valid.at<uint8_t>(1, 5) == 0);
  CHECK(d.mm.at<uint16_t>(479, 639) == 0);
  CHECK(d.valid.at<uint8_t>(479, 639) == 0);
  CHECK(d.mm.at<uint16_t>(10, 10) == 1);
  CHECK(d.mm.at<uint16_t>(10, 11) == 4094);
  CHECK(d.mm.at<uint16_t>(10, 12) == 10000);
  CHECK(d.valid.at<uint8_t>(10, 12) == 255);
  CHECK(d.mm.at<uint16_t>(200, 300) == 500 + (300 * 7 + 200 * 3) % 1500);
  CHECK(d.valid.at<uint8_t>(200, 300) == 255);
  CHECK(cv::countNonZero(d.valid) == 640 * 480 - 3);
}

}  // namespace

TEST_CASE("depth .dat: valid VAP input in every line-ending variant", "[io][dat]") {
  const cv::Mat raw = vap_raw();
  check_vap(parse_depth_dat(dat_text(raw), "a.dat"));
  check_vap(parse_depth_dat(dat_text(raw, /*trailing_tab=*/true), "b.dat"));
  check_vap(parse_depth_dat(dat_text(raw, true, "\r\n"), "c.dat"));
  check_vap(parse_depth_dat(dat_text(raw, false, "\r\n", /*final_newline=*/false), "d.dat"));
  check_vap(parse_depth_dat(dat_text(raw, false, "\n", false), "e.dat"));
  check_vap(parse_depth_dat(dat_text(raw) + "\n\n", "f.dat"));  // trailing blank lines
}

TEST_CASE("depth .dat: invalid codes -1, 0 and 4095 become 0 in mm and in valid", "[io][dat]") {
  const DepthMap d = parse_depth_dat("-1\t0\t4095\t4094\n1\t10000\t700\t-1\t\n", "t.dat", 4, 2);
  const std::vector<int> mm = {0, 0, 0, 4094, 1, 10000, 700, 0};
  const std::vector<int> valid = {0, 0, 0, 255, 255, 255, 255, 0};
  for (int i = 0; i < 8; ++i) {
    CHECK(d.mm.at<uint16_t>(i / 4, i % 4) == mm[static_cast<size_t>(i)]);
    CHECK(d.valid.at<uint8_t>(i / 4, i % 4) == valid[static_cast<size_t>(i)]);
  }
}

TEST_CASE("depth .dat: malformed input names file, line and column", "[io][dat]") {
  auto msg = [](const std::string& text) {
    return bad_input_message([&] { parse_depth_dat(text, "t.dat", 4, 3); });
  };
  const std::string r1 = "1\t2\t3\t4\n";
  CHECK(msg(r1 + r1) == "t.dat:3:1: expected 3 rows, got 2");
  CHECK(msg(r1 + r1 + r1 + r1) == "t.dat:4:1: expected 3 rows, got 4");
  CHECK(msg(r1 + r1 + r1 + r1 + "\n" + r1) == "t.dat:4:1: expected 3 rows, got 5");
  CHECK(msg("") == "t.dat:1:1: expected 3 rows, got 0");
  CHECK(msg("\n\n") == "t.dat:1:1: expected 3 rows, got 0");
  CHECK(msg(r1 + "5\t6\t7\n" + r1) == "t.dat:2:6: expected 4 values, got 3");
  CHECK(msg(r1 + "5\t6\t7\t\r\n" + r1) == "t.dat:2:7: expected 4 values, got 3");
  CHECK(msg(r1 + "5\t6\t7\t8\t9\t10\n" + r1) == "t.dat:2:9: expected 4 values, got 6");
  CHECK(msg(r1 + "\n" + r1 + r1) == "t.dat:2:1: expected 4 values, got 0");
  CHECK(msg(r1 + "5\tabc\t7\t8\n" + r1) == "t.dat:2:3: not an integer: 'abc'");
  CHECK(msg(r1 + "5\t6.5\t7\t8\n" + r1) == "t.dat:2:3: not an integer: '6.5'");
  CHECK(msg(r1 + "5\t-\t7\t8\n" + r1) == "t.dat:2:3: not an integer: '-'");
  CHECK(msg(r1 + r1 + "1\t2\t3\t4x") == "t.dat:3:7: not an integer: '4x'");
  CHECK(msg(r1 + "5\t20000\t7\t8\n" + r1) == "t.dat:2:3: value 20000 outside [-1, 10000]");
  CHECK(msg(r1 + "5\t6\t-2\t8\n" + r1) == "t.dat:2:5: value -2 outside [-1, 10000]");
  CHECK(msg("99999999999\t2\t3\t4\n" + r1 + r1) ==
        "t.dat:1:1: value 99999999999 outside [-1, 10000]");
}

TEST_CASE("depth .dat: full-size row and value count errors", "[io][dat]") {
  const cv::Mat raw = vap_raw();
  const std::string full = dat_text(raw);
  const std::string minus_last = full.substr(0, full.rfind('\n', full.size() - 2) + 1);
  CHECK(bad_input_message([&] { parse_depth_dat(minus_last, "vap.dat"); }) ==
        "vap.dat:480:1: expected 480 rows, got 479");
  const std::string short_row = dat_text(raw.colRange(0, 639));
  CHECK_THAT(bad_input_message([&] { parse_depth_dat(short_row, "vap.dat"); }),
             Catch::StartsWith("vap.dat:1:") && Catch::EndsWith(": expected 640 values, got 639"));
}

TEST_CASE("depth files: read_depth by extension, 16-bit PNG and its errors", "[io][dat][png]") {
  TempDir tmp;
  const cv::Mat raw = vap_raw();
  write_bytes(tmp.path / "001_1_d.dat", dat_text(raw));
  check_vap(faceid::read_depth(tmp.path / "001_1_d.dat"));

  cv::Mat png(480, 640, CV_16UC1, cv::Scalar(1234));
  png.at<uint16_t>(5, 7) = 0;
  png.at<uint16_t>(6, 7) = 9000;
  REQUIRE(cv::imwrite((tmp.path / "002_1_d.png").string(), png));
  const DepthMap d = faceid::read_depth(tmp.path / "002_1_d.png");
  CHECK(d.mm.type() == CV_16UC1);
  CHECK(d.mm.at<uint16_t>(0, 0) == 1234);
  CHECK(d.mm.at<uint16_t>(6, 7) == 9000);
  CHECK(d.mm.at<uint16_t>(5, 7) == 0);
  CHECK(d.valid.at<uint8_t>(5, 7) == 0);
  CHECK(cv::countNonZero(d.valid) == 640 * 480 - 1);

  const auto p8 = tmp.path / "003_1_d.png";
  REQUIRE(cv::imwrite(p8.string(), cv::Mat(480, 640, CV_8UC1, cv::Scalar(9))));
  CHECK(bad_input_message([&] { faceid::read_depth(p8); }) ==
        p8.string() + ": depth PNG must be 16-bit single-channel, got 8-bit 1-channel");
  const auto p3 = tmp.path / "004_1_d.png";
  REQUIRE(cv::imwrite(p3.string(), cv::Mat(480, 640, CV_16UC3, cv::Scalar(9, 9, 9))));
  CHECK(bad_input_message([&] { faceid::read_depth(p3); }) ==
        p3.string() + ": depth PNG must be 16-bit single-channel, got 16-bit 3-channel");
  const auto psmall = tmp.path / "005_1_d.png";
  REQUIRE(cv::imwrite(psmall.string(), cv::Mat(240, 320, CV_16UC1, cv::Scalar(9))));
  CHECK(bad_input_message([&] { faceid::read_depth(psmall); }) ==
        psmall.string() + ": depth image is 320x240, expected 640x480");

  const auto empty_dat = tmp.path / "006_1_d.dat";
  write_bytes(empty_dat, "");
  CHECK(bad_input_message([&] { faceid::read_depth(empty_dat); }) ==
        empty_dat.string() + ":1:1: expected 480 rows, got 0");
  const auto missing = tmp.path / "nope_d.dat";
  CHECK(bad_input_message([&] { faceid::read_depth(missing); }) ==
        missing.string() + ": cannot open file");
  const auto garbage = tmp.path / "007_1_d.png";
  write_bytes(garbage, "not a png at all");
  CHECK(bad_input_message([&] { faceid::read_depth(garbage); }) ==
        garbage.string() + ": cannot decode image");
}

TEST_CASE("colour: 32-bit 1280x960 BMP, 24-bit, 8-bit grey, any size, PNG", "[io][color]") {
  TempDir tmp;
  // 32-bit VAP-like BMP: 2x2 blocks of one colour, so the INTER_AREA shrink is exact.
  cv::Mat bgra(960, 1280, CV_8UC4);
  for (int y = 0; y < 960; ++y) {
    for (int x = 0; x < 1280; ++x) {
      bgra.at<cv::Vec4b>(y, x) = cv::Vec4b(static_cast<uint8_t>(x / 2 % 256),
                                           static_cast<uint8_t>(y / 2 % 256), 77, 255);
    }
  }
  faceid_test::write_bmp32(tmp.path / "001_1_c.bmp", bgra);
  const cv::Mat c32 = faceid::read_color(tmp.path / "001_1_c.bmp");
  REQUIRE(c32.type() == CV_8UC3);
  REQUIRE(c32.size() == cv::Size(640, 480));
  CHECK(c32.at<cv::Vec3b>(0, 0) == cv::Vec3b(0, 0, 77));
  CHECK(c32.at<cv::Vec3b>(100, 200) == cv::Vec3b(200, 100, 77));  // bottom-up rows read right
  CHECK(c32.at<cv::Vec3b>(479, 639) == cv::Vec3b(639 % 256, 479 % 256, 77));

  cv::Mat bgr(960, 1280, CV_8UC3, cv::Scalar(10, 20, 30));
  bgr(cv::Rect(0, 0, 640, 480)).setTo(cv::Scalar(200, 100, 50));
  REQUIRE(cv::imwrite((tmp.path / "24.bmp").string(), bgr));
  const cv::Mat c24 = faceid::read_color(tmp.path / "24.bmp");
  CHECK(c24.size() == cv::Size(640, 480));
  CHECK(c24.at<cv::Vec3b>(10, 10) == cv::Vec3b(200, 100, 50));
  CHECK(c24.at<cv::Vec3b>(400, 600) == cv::Vec3b(10, 20, 30));

  REQUIRE(cv::imwrite((tmp.path / "8.bmp").string(), cv::Mat(960, 1280, CV_8UC1, cv::Scalar(99))));
  const cv::Mat c8 = faceid::read_color(tmp.path / "8.bmp");
  CHECK(c8.type() == CV_8UC3);
  CHECK(c8.at<cv::Vec3b>(240, 320) == cv::Vec3b(99, 99, 99));

  REQUIRE(cv::imwrite((tmp.path / "small.bmp").string(), cv::Mat(240, 320, CV_8UC3, cv::Scalar(1, 2, 3))));
  const cv::Mat up = faceid::read_color(tmp.path / "small.bmp");
  CHECK(up.size() == cv::Size(640, 480));
  CHECK(up.at<cv::Vec3b>(479, 0) == cv::Vec3b(1, 2, 3));

  REQUIRE(cv::imwrite((tmp.path / "rgba.png").string(), cv::Mat(480, 640, CV_8UC4, cv::Scalar(5, 6, 7, 128))));
  const cv::Mat c4 = faceid::read_color(tmp.path / "rgba.png");
  CHECK(c4.type() == CV_8UC3);
  CHECK(c4.at<cv::Vec3b>(0, 0) == cv::Vec3b(5, 6, 7));
  CHECK(faceid::read_color(tmp.path / "rgba.png", cv::Size(64, 48)).size() == cv::Size(64, 48));
}

TEST_CASE("colour: unreadable images are errors naming the file", "[io][color]") {
  TempDir tmp;
  const auto empty = tmp.path / "001_1_c.bmp";
  write_bytes(empty, "");
  CHECK(bad_input_message([&] { faceid::read_color(empty); }) ==
        empty.string() + ": empty file (0 bytes)");
  const auto garbage = tmp.path / "002_1_c.bmp";
  write_bytes(garbage, "BM this is no bitmap");
  CHECK(bad_input_message([&] { faceid::read_color(garbage); }) ==
        garbage.string() + ": cannot decode image");
  const auto missing = tmp.path / "003_1_c.bmp";
  CHECK(bad_input_message([&] { faceid::read_color(missing); }) ==
        missing.string() + ": cannot open file");
}

TEST_CASE("depth .dat: parse speed on a VAP-sized buffer", "[.bench]") {
  const std::string text = dat_text(vap_raw());
  const int reps = 50;
  const auto t0 = std::chrono::steady_clock::now();
  size_t valid = 0;
  for (int i = 0; i < reps; ++i) {
    valid += static_cast<size_t>(cv::countNonZero(parse_depth_dat(text, "bench.dat").valid));
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double mb = static_cast<double>(text.size()) * reps / 1e6;
  WARN(fmt::format("parse_depth_dat: {:.2f} MB buffer, {:.0f} MB/s ({:.2f} ms per file)",
                   static_cast<double>(text.size()) / 1e6, mb / s, 1e3 * s / reps));
  CHECK(valid == static_cast<size_t>(reps) * (640 * 480 - 3));
}
