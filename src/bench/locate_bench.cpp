// Head localisation against the generator's ground truth, per distractor (issue 14): the share of
// frames whose crop centre lies within 25 mm of the true face centre, missed faces, crops off the
// face reported as faces, faces reported on frames without one; and the locator's cost.
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "faceid/bench/bench.hpp"
#include "faceid/core/error.hpp"
#include "faceid/preprocess/preprocess.hpp"
#include "faceid/synth/synth.hpp"

namespace faceid {
namespace {

using Clock = std::chrono::steady_clock;

// The decoded depth of a rendered frame: what read_depth makes of its .dat.
DepthMap depth_of(const cv::Mat& raw) {
  DepthMap d;
  d.valid = (raw > 0) & (raw != kKinectTooFar);
  raw.convertTo(d.mm, CV_16UC1);
  d.mm.setTo(0, d.valid == 0);
  return d;
}

// Every distractor alone (rate 1) over the new distance range, the clean scene, the generator's
// default mix, and scenes with no person.
std::vector<std::pair<std::string, Distractors>> localisation_scenes() {
  Distractors clean = Distractors::none();
  const Distractors defaults;
  clean.min_distance = defaults.min_distance;
  clean.max_distance = defaults.max_distance;
  std::vector<std::pair<std::string, Distractors>> out = {{"clean", clean}};
  auto alone = [&](const char* name, float Distractors::*rate) {
    Distractors d = clean;
    d.*rate = 1;
    out.emplace_back(name, d);
  };
  alone("lean", &Distractors::lean);
  alone("shadow", &Distractors::shadow);
  alone("hand", &Distractors::hand);
  alone("chair", &Distractors::chair);
  alone("second_person", &Distractors::second_person);
  alone("off_centre", &Distractors::off_centre);
  out.emplace_back("default_mix", defaults);
  alone("empty", &Distractors::empty);
  return out;
}

}  // namespace

LocalisationBench bench_localisation(const LocalisationOptions& o) {
  if (o.persons < 1 || o.sessions < 1 || o.sessions > 3 || o.poses < 1 || o.poses > 17) {
    throw_bad_input(fmt::format("locate bench: expected persons >= 1, sessions 1..3, poses 1..17, "
                                "got {}, {}, {}",
                                o.persons, o.sessions, o.poses));
  }
  const PreprocessConfig config = o.preprocess;
  LocalisationBench out;
  const int64_t n = static_cast<int64_t>(o.persons) * o.sessions * o.poses;
  if (!o.dump_dir.empty()) std::filesystem::create_directories(o.dump_dir);
  int dumped = 0;
  // The colour image of a failure, the true face centre in green, the located one in red.
  auto dump = [&](const std::string& scene, int pose, const SynthFrame& f, const HeadLocation* head,
                  const char* what) {
    if (o.dump_dir.empty()) return;
    cv::Mat img;
    cv::resize(f.color, img, cv::Size(kDepthWidth, kDepthHeight), 0, 0, cv::INTER_AREA);
    if (f.truth.has_face) cv::circle(img, f.truth.face_center_px, 8, cv::Scalar(0, 255, 0), 2);
    if (head != nullptr) cv::circle(img, head->center, 8, cv::Scalar(0, 0, 255), 2);
    cv::imwrite((o.dump_dir / fmt::format("{}_{:04d}_pose{:02d}_{}.png", scene, dumped++, pose,
                                          what)).string(),
                img);
  };
  for (const auto& [name, distractors] : localisation_scenes()) {
    LocalisationRow row;
    row.scene = name;
    constexpr int64_t kChunk = 64;  // frames rendered at once (in parallel), then located
    for (int64_t first = 0; first < n; first += kChunk) {
      const int64_t count = std::min(kChunk, n - first);
      std::vector<SynthFrame> frames(static_cast<size_t>(count));
      at::parallel_for(0, count, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          const int64_t k = first + i;
          const int person = o.first_person + static_cast<int>(k / (o.sessions * o.poses));
          const int session = 1 + static_cast<int>(k / o.poses % o.sessions);
          const int pose = 1 + static_cast<int>(k % o.poses);
          frames[static_cast<size_t>(i)] =
              render_synth_frame(o.seed, person, session, pose, distractors);
        }
      });
      for (int64_t i = 0; i < count; ++i) {
        const SynthFrame& f = frames[static_cast<size_t>(i)];
        const int pose = 1 + static_cast<int>((first + i) % o.poses);
        const DepthMap depth = depth_of(f.depth_raw);
        HeadLocation head;
        std::string reason;
        const double c0 = thread_cpu_seconds();
        const auto t0 = Clock::now();
        const bool found = locate_head(depth, config, head, reason);
        out.locate_ms.wall.push_back(
            1e3 * std::chrono::duration<double>(Clock::now() - t0).count());
        out.locate_ms.cpu.push_back(1e3 * (thread_cpu_seconds() - c0));
        // The reference of the same run: one full-resolution connected-components pass over a
        // depth band (what the seed's locator did up to 8 times a frame).
        cv::Mat band, labels, stats, centroids;
        const double r0 = thread_cpu_seconds();
        cv::inRange(depth.mm, cv::Scalar(300), cv::Scalar(2500), band);
        cv::connectedComponentsWithStats(band, labels, stats, centroids, 8, CV_32S);
        out.reference_cpu_ms.push_back(1e3 * (thread_cpu_seconds() - r0));

        ++row.frames;
        if (!f.truth.has_face) {
          row.false_faces += found ? 1 : 0;
          if (found) dump(name, pose, f, &head, "false_face");
          continue;
        }
        ++row.faces;
        if (!found) {
          ++row.missed;
          if (row.missed_examples.size() < 3) row.missed_examples.push_back(reason);
          dump(name, pose, f, nullptr, "missed");
          continue;
        }
        const cv::Point2f d = head.center - f.truth.face_center_px;
        const double mm_per_px = f.truth.face_center_mm.z / kDepthFx;
        const double err = std::hypot(d.x, d.y) * mm_per_px;
        row.dx_mm.push_back(d.x * mm_per_px);
        row.dy_mm.push_back(d.y * mm_per_px);

        row.errors_mm.push_back(err);
        row.within += err <= o.tolerance_mm ? 1 : 0;
        row.off_face += err > o.off_face_mm ? 1 : 0;
        if (err > o.off_face_mm) dump(name, pose, f, &head, "off_face");
      }
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace faceid
