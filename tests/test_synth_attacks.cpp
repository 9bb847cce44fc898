// The synthetic presentation attacks (nine instruments) and bursts: determinism, what each
// instrument shows, the burst model, the layout on disk and the CLI flags.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "faceid/core/error.hpp"
#include "synth_test_util.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/io/dataset.hpp"
#include "faceid/preprocess/preprocess.hpp"
#include "faceid/synth/attacks.hpp"
#include "faceid/synth/synth.hpp"
#include "synth/burst.hpp"
#include "synth/render.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kSeed = 11;

using TempDir = faceid::test::SynthTempDir;
using faceid::test::same_mat;

// The live face of the clean scene (where a mask sits): its depth pixel and Z.
struct LiveFace {
  cv::Point2f px;
  float z;
};
LiveFace live_face(int person, int session, int pose) {
  faceid::synth::RenderTruth t;
  faceid::synth::render_frame(kSeed, person, session, pose, faceid::Distractors::none(), &t);
  return {t.face_px, t.face_z};
}

// Around the nose: below the face centre (between the eyes), about 30 mm at ~850 mm.
cv::Point2f nose_of(const LiveFace& f) { return {f.px.x, f.px.y + 16 * 850 / f.z}; }

// Valid depths (mm) in a window of depth pixels around `c`.
std::vector<float> depths_around(const cv::Mat& depth, cv::Point2f c, int half) {
  std::vector<float> v;
  for (int y = static_cast<int>(c.y) - half; y <= static_cast<int>(c.y) + half; ++y) {
    for (int x = static_cast<int>(c.x) - half; x <= static_cast<int>(c.x) + half; ++x) {
      if (x < 0 || y < 0 || x >= depth.cols || y >= depth.rows) continue;
      const int16_t d = depth.at<int16_t>(y, x);
      if (d > 0 && d < 4095) v.push_back(d);
    }
  }
  return v;
}

float quantile(std::vector<float> v, double q) {
  REQUIRE(!v.empty());
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

// Mean colour (r, g, b in 0..255) of the colour pixels over depth window `c` +- half.
cv::Vec3d mean_rgb(const cv::Mat& color, cv::Point2f c, int half) {
  const cv::Rect r(2 * (static_cast<int>(c.x) - half), 2 * (static_cast<int>(c.y) - half), 4 * half, 4 * half);
  const cv::Scalar m = cv::mean(color(r & cv::Rect(0, 0, color.cols, color.rows)));
  return {m[2], m[1], m[0]};
}

int count_part(const cv::Mat& parts, faceid::synth::Part p) {
  return cv::countNonZero(parts == static_cast<uint8_t>(p));
}

// Runs the synth app; its stdout and stderr go to `log`.
int run_synth(const std::string& args, const fs::path& log) {
  const std::string cmd = std::string(FACEID_BIN_DIR) + "/synth " + args + " >" + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::set<std::string> files_under(const fs::path& root) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out.insert(fs::relative(e.path(), root).generic_string());
  }
  return out;
}

}  // namespace

TEST_CASE("synth attacks: every instrument is deterministic and unlike the live frame", "[synth][attacks]") {
  const faceid::SynthFrame live = faceid::render_synth_frame(kSeed, 3, 1, 1, faceid::Distractors::none());
  std::vector<cv::Mat> colors;
  for (const faceid::AttackType type : faceid::kAttackTypes) {
    INFO(faceid::to_string(type));
    const faceid::SynthFrame a = faceid::render_attack_frame(kSeed, type, 3, 1, 1);
    const faceid::SynthFrame b = faceid::render_attack_frame(kSeed, type, 3, 1, 1);
    CHECK(same_mat(a.color, b.color));
    CHECK(same_mat(a.depth_raw, b.depth_raw));
    CHECK(a.color.size() == cv::Size(1280, 960));
    CHECK(a.depth_raw.size() == cv::Size(640, 480));
    CHECK(cv::norm(a.color, live.color, cv::NORM_L1) / a.color.total() > 1.0);
    for (const cv::Mat& other : colors) CHECK_FALSE(same_mat(a.color, other));
    colors.push_back(a.color);
  }
  // Another seed draws another instrument.
  CHECK_FALSE(same_mat(faceid::render_attack_frame(kSeed + 1, faceid::AttackType::mask_resin, 3, 1, 1).color,
                       faceid::render_attack_frame(kSeed, faceid::AttackType::mask_resin, 3, 1, 1).color));
}

TEST_CASE("synth attacks: prints and screens are held in the attacker's hands, its body behind",
          "[synth][attacks]") {
  for (const faceid::AttackType type : {faceid::AttackType::photo, faceid::AttackType::screen}) {
    int with_hands = 0, with_body = 0;
    for (int person = 0; person < 4; ++person) {
      cv::Mat parts;
      faceid::synth::render_attack(kSeed, type, person, 1, 1, 1, &parts);
      const int hand = count_part(parts, faceid::synth::Part::hand);
      const int body = count_part(parts, faceid::synth::Part::second_person);
      const int sheet = count_part(parts, faceid::synth::Part::other);
      INFO(faceid::to_string(type) << " person " << person << ": hand " << hand << " body " << body << " sheet "
                                   << sheet);
      CHECK(sheet > 500);
      CHECK(count_part(parts, faceid::synth::Part::head) == 0);  // the subject is only a picture
      with_hands += hand > 50;
      with_body += body > 500;
    }
    CHECK(with_hands >= 2);
    CHECK(with_body >= 2);
  }
}

TEST_CASE("synth attacks: masks have a face's relief where the live face is, in their own colours",
          "[synth][attacks]") {
  const int person = 2, session = 1, pose = 1;
  const LiveFace face = live_face(person, session, pose);
  const cv::Point2f cheeks(face.px.x, face.px.y + 14);  // nose and cheeks, below the eyes
  std::vector<std::pair<faceid::AttackType, cv::Vec3d>> rgb;
  std::vector<float> relief;
  for (const faceid::AttackType type : faceid::kAttackTypes) {
    if (faceid::family_of(type) != faceid::AttackFamily::mask) continue;
    INFO(faceid::to_string(type));
    const faceid::SynthFrame f = faceid::render_attack_frame(kSeed, type, person, session, pose);
    const std::vector<float> d = depths_around(f.depth_raw, nose_of(face), 16);
    CHECK(d.size() > 0.8 * 33 * 33);
    const float median = quantile(d, 0.5), nearest = quantile(d, 0.02);
    CHECK(std::fabs(median - face.z) < 60);
    CHECK(median - nearest > 6);  // the nose stands out
    relief.push_back(median - nearest);
    rgb.emplace_back(type, mean_rgb(f.color, cheeks, 6));
  }
  auto colour = [&](faceid::AttackType t) {
    for (const auto& [type, c] : rgb) {
      if (type == t) return c;
    }
    FAIL("no colour");
    return cv::Vec3d();
  };
  const cv::Vec3d plaster = colour(faceid::AttackType::mask_plaster);
  const cv::Vec3d silicone = colour(faceid::AttackType::mask_silicone);
  INFO("plaster " << plaster << " silicone " << silicone);
  // Plaster is near-white (grey-white: blue close to red); silicone is skin-toned (blue well below red).
  CHECK(plaster[2] / plaster[0] > 0.85);
  CHECK(silicone[2] / silicone[0] < plaster[2] / plaster[0] - 0.1);
  CHECK(plaster[0] + plaster[1] + plaster[2] > silicone[0] + silicone[1] + silicone[2]);
}

TEST_CASE("synth attacks: a head form's features are flatter than the person's", "[synth][attacks]") {
  int flatter = 0;
  for (int person = 0; person < 3; ++person) {
    const LiveFace face = live_face(person, 1, 1);
    const cv::Mat cast = faceid::render_attack_frame(kSeed, faceid::AttackType::mask, person, 1, 1).depth_raw;
    const cv::Mat form = faceid::render_attack_frame(kSeed, faceid::AttackType::head_form, person, 1, 1).depth_raw;
    const std::vector<float> dc = depths_around(cast, nose_of(face), 16), df = depths_around(form, nose_of(face), 16);
    const float rc = quantile(dc, 0.5) - quantile(dc, 0.02), rf = quantile(df, 0.5) - quantile(df, 0.02);
    INFO("person " << person << ": nose relief cast " << rc << " mm, head form " << rf << " mm");
    CHECK(rf < rc);
    flatter += rf < rc - 3;
  }
  CHECK(flatter >= 2);
}

TEST_CASE("synth bursts: frame 1 is the set's frame, later frames move a little", "[synth][attacks][bursts]") {
  const faceid::Distractors d;
  const faceid::SynthFrame set = faceid::render_synth_frame(kSeed, 5, 3, 2, d);
  const faceid::SynthFrame f1 = faceid::render_live_burst_frame(kSeed, 5, 3, 2, 1, d);
  CHECK(same_mat(f1.color, set.color));
  CHECK(same_mat(f1.depth_raw, set.depth_raw));
  const faceid::SynthFrame f2 = faceid::render_live_burst_frame(kSeed, 5, 3, 2, 2, d);
  const faceid::SynthFrame f2b = faceid::render_live_burst_frame(kSeed, 5, 3, 2, 2, d);
  CHECK(same_mat(f2.color, f2b.color));
  CHECK(same_mat(f2.depth_raw, f2b.depth_raw));
  CHECK_FALSE(same_mat(f2.color, f1.color));
  CHECK_FALSE(same_mat(f2.depth_raw, f1.depth_raw));
  // The scene is the same: the face stays within a few millimetres and pixels.
  CHECK(std::fabs(f2.truth.face_center_mm.z - f1.truth.face_center_mm.z) < 10);
  CHECK(std::fabs(f2.truth.face_center_px.x - f1.truth.face_center_px.x) < 5);
  // An attack burst starts with the attack frame.
  for (const faceid::AttackType type : {faceid::AttackType::photo, faceid::AttackType::mask_paper}) {
    CHECK(same_mat(faceid::render_attack_burst_frame(kSeed, type, 5, 3, 2, 1).depth_raw,
                   faceid::render_attack_frame(kSeed, type, 5, 3, 2).depth_raw));
  }
  CHECK(faceid::test::bad_input_message([&] { faceid::render_live_burst_frame(kSeed, 5, 3, 2, 9, d); })
            .find("1..8") != std::string::npos);
}

TEST_CASE("synth bursts: the burst model is mostly still, sometimes blinks or changes expression",
          "[synth][attacks][bursts]") {
  int blinks = 0, expressions = 0;
  float max_angle = 0, max_shift = 0;
  for (int k = 0; k < 400; ++k) {
    const uint64_t key = faceid::synth::burst_key(kSeed, faceid::synth::kLiveBurstTag, k, 3, 1);
    const faceid::synth::BurstMotion first = faceid::synth::burst_motion(key, 1);
    CHECK(first.yaw == 0);
    CHECK(first.lid == 0);
    bool blink = false;
    for (int f = 2; f <= 6; ++f) {
      const faceid::synth::BurstMotion m = faceid::synth::burst_motion(key, f);
      blink = blink || m.lid > 0.5f;
      max_angle = std::max(max_angle, std::fabs(m.yaw) / (f - 1));
      max_shift = std::max(max_shift, m.shift.norm() / (f - 1));
    }
    blinks += blink;
    expressions += faceid::synth::burst_motion(key, 4).expression_change;
  }
  CHECK(blinks > 40);   // p = 0.2
  CHECK(blinks < 120);
  CHECK(expressions > 80);  // p = 0.3
  CHECK(expressions < 160);
  CHECK(max_angle < 1.0f * 3.14159f / 180 * 1.6f);
  CHECK(max_shift <= 3.0f);
}

TEST_CASE("synth bursts: a mask moves rigidly", "[synth][attacks][bursts]") {
  const int person = 1, session = 2, pose = 1;
  const LiveFace face = live_face(person, session, pose);
  const cv::Mat d1 = faceid::render_attack_burst_frame(kSeed, faceid::AttackType::mask_plaster, person, session, pose, 1).depth_raw;
  const cv::Mat d2 = faceid::render_attack_burst_frame(kSeed, faceid::AttackType::mask_plaster, person, session, pose, 2).depth_raw;
  // The best integer shift of frame 2 onto frame 1 leaves only sensor noise and a small tilt.
  float best = 1e9f;
  for (int dy = -4; dy <= 4; ++dy) {
    for (int dx = -4; dx <= 4; ++dx) {
      std::vector<float> diff;
      for (int y = static_cast<int>(face.px.y) - 20; y <= static_cast<int>(face.px.y) + 20; ++y) {
        for (int x = static_cast<int>(face.px.x) - 15; x <= static_cast<int>(face.px.x) + 15; ++x) {
          const int16_t a = d1.at<int16_t>(y, x), b = d2.at<int16_t>(y + dy, x + dx);
          if (a > 0 && a < 4095 && b > 0 && b < 4095) diff.push_back(static_cast<float>(b - a));
        }
      }
      if (diff.size() < 600) continue;
      const float med = quantile(diff, 0.5);
      for (float& v : diff) v = std::fabs(v - med);
      best = std::min(best, quantile(diff, 0.5));
    }
  }
  INFO("median residual after the best shift: " << best << " mm");
  CHECK(best < 2.5f);
}

TEST_CASE("synth bursts: the generator writes bursts of the chosen instruments", "[synth][attacks][bursts]") {
  TempDir tmp("synth_bursts");
  faceid::SynthOptions o;
  o.out = tmp.path / "set";
  o.persons = 1;
  o.first_person = 7;
  o.sessions = 1;
  o.poses = 1;
  o.seed = kSeed;
  o.threads = 2;
  o.compact = true;
  o.attacks = true;
  o.attack_types = {faceid::AttackType::photo, faceid::AttackType::mask_paper};
  o.bursts = 3;
  int written = 0;
  o.frames_written = &written;
  CHECK(faceid::synth_frame_count(o) == 12);
  faceid::generate_synth_dataset(o);
  CHECK(written == 12);
  std::set<std::string> expected{"synth_manifest.yaml", "synth_00007/001_1_c.png", "synth_00007/001_1_d.png",
                                 "synth_00007/001_1_truth.yaml"};
  for (const std::string type : {"photo", "mask_paper"}) {
    expected.insert("attacks/" + type + "/synth_00007/001_1_c.png");
    expected.insert("attacks/" + type + "/synth_00007/001_1_d.png");
  }
  for (const std::string kind : {"live", "photo", "mask_paper"}) {
    for (int f = 1; f <= 3; ++f) {
      expected.insert(fmt::format("bursts/{}/synth_00007/001_{}_c.png", kind, f));
      expected.insert(fmt::format("bursts/{}/synth_00007/001_{}_d.png", kind, f));
    }
  }
  CHECK(files_under(o.out) == expected);
  const std::string manifest = faceid::read_file(o.out / "synth_manifest.yaml");
  CHECK(manifest.find("attack_types: [photo, mask_paper]\n") != std::string::npos);
  CHECK(manifest.find("bursts: 3\n") != std::string::npos);
  CHECK(faceid::read_file(o.out / "bursts/live/synth_00007/001_1_c.png") ==
        faceid::read_file(o.out / "synth_00007/001_1_c.png"));

  // Resumable: nothing to do; other burst lengths or instruments are refused.
  faceid::generate_synth_dataset(o);
  CHECK(written == 0);
  faceid::SynthOptions other = o;
  other.bursts = 4;
  CHECK(faceid::test::bad_input_message([&] { faceid::generate_synth_dataset(other); }).find("bursts: 3") !=
        std::string::npos);
  other = o;
  other.attack_types = {faceid::AttackType::screen};
  CHECK(faceid::test::bad_input_message([&] { faceid::generate_synth_dataset(other); }).find("attack_types") !=
        std::string::npos);
  other = o;
  other.bursts = 1;
  CHECK(faceid::test::bad_input_message([&] { faceid::generate_synth_dataset(other); }).find("--bursts") !=
        std::string::npos);
  // A set whose manifest predates attack_types holds the first attack renderer's frames: refused.
  std::string old = faceid::read_file(o.out / "synth_manifest.yaml");
  old.erase(old.find("attack_types:"), old.find('\n', old.find("attack_types:")) - old.find("attack_types:") + 1);
  faceid::write_file_atomic(o.out / "synth_manifest.yaml", old);
  CHECK(faceid::test::bad_input_message([&] { faceid::generate_synth_dataset(o); }).find("the first attack renderer") !=
        std::string::npos);
}

TEST_CASE("synth CLI: --bursts and --attack-types", "[synth][attacks][cli]") {
  TempDir tmp("synth_burst_cli");
  struct Case {
    std::string args;
    int code;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"--persons 1 --sessions 1 --poses 1 --bursts 1 --out " + (tmp.path / "a").string(), 2, "--bursts"},
      {"--persons 1 --sessions 1 --poses 1 --bursts 9 --out " + (tmp.path / "b").string(), 2, "--bursts"},
      {"--persons 1 --attacks --attack-types nope --out " + (tmp.path / "c").string(), 2, "--attack-types"},
      {"--persons 1 --attack-types photo --out " + (tmp.path / "d").string(), 2, "--attack-types"},
      {"--persons 1 --sessions 1 --poses 1 --compact --attacks --attack-types screen --bursts 2 --out " +
           (tmp.path / "ok").string(),
       0, "written"},
  };
  std::vector<std::future<int>> codes;
  for (size_t i = 0; i < cases.size(); ++i) {
    codes.push_back(std::async(std::launch::async, run_synth, cases[i].args, tmp.path / fmt::format("log{}", i)));
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("synth " << cases[i].args);
    CHECK(codes[i].get() == cases[i].code);
    const std::string log = faceid::read_file(tmp.path / fmt::format("log{}", i));
    INFO(log);
    CHECK(log.find(cases[i].says) != std::string::npos);
  }
  CHECK(fs::exists(tmp.path / "ok" / "bursts" / "screen" / "synth_00000" / "001_2_d.png"));
  CHECK_FALSE(fs::exists(tmp.path / "ok" / "attacks" / "photo"));
  CHECK_FALSE(fs::exists(tmp.path / "a"));
}

// For docs and tuning (hidden): how often the preprocessor finds a face in each instrument's
// frames, with the reasons when it does not. `build/bin/faceid_tests "[synth-attack-stats]"`.
TEST_CASE("synth attacks: preprocessor face rate per instrument", "[.][synth-attack-stats]") {
  TempDir tmp("synth_attack_stats");
  faceid::SynthOptions o;
  o.out = tmp.path / "set";
  o.persons = 6;
  o.sessions = 1;
  o.poses = 3;
  o.seed = kSeed;
  o.threads = 2;
  o.compact = true;
  o.attacks = true;
  o.distractors = faceid::Distractors::none();
  faceid::generate_synth_dataset(o);
  const faceid::PreprocessConfig pp;
  for (const faceid::AttackType type : faceid::kAttackTypes) {
    const faceid::Dataset set = faceid::scan_dataset(faceid::attack_dataset_root(o.out, type));
    int ok = 0, all = 0;
    std::string reasons;
    for (const auto& person : set.persons) {
      for (const auto& ref : person.frames) {
        const faceid::PreprocessResult r = faceid::preprocess(faceid::load_frame(ref), pp);
        ++all;
        ok += r.ok;
        if (!r.ok) reasons += " [" + r.no_face_reason + "]";
      }
    }
    WARN(fmt::format("{}: face found in {}/{}{}", faceid::to_string(type), ok, all, reasons));
  }
}
