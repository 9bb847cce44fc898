// Writing the synthetic data set: the VAP layout (or the compact PNG layout), in parallel,
// atomically, resumable, plus ROOT/synth_manifest.yaml.
#include <atomic>
#include <exception>
#include <iterator>
#include <limits>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <yaml-cpp/yaml.h>

#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/core/worker_pool.hpp"
#include "faceid/io/depth_io.hpp"
#include "faceid/io/face_truth.hpp"
#include "faceid/synth/attacks.hpp"
#include "faceid/synth/synth.hpp"
#include "synth/params.hpp"

namespace faceid {

namespace {

namespace fs = std::filesystem;
// The manifest exists only once a run completed; while one runs, a hidden partial manifest
// (ignored by scan_dataset) records the settings, so an interrupted run is resumed consistently.
constexpr const char* kManifestName = "synth_manifest.yaml";
constexpr const char* kPartialName = ".synth_manifest.partial.yaml";

struct Job {
  int person, session, pose;
  int attack = -1;  // index into kAttackTypes, -1 = the live person
};

std::string frame_file(int pose, int session, char kind, const char* ext) {
  return fmt::format("{:03d}_{}_{}.{}", pose, session, kind, ext);
}

// The distractor rates with their flags, in the manifest's order.
struct RateField {
  const char* key;   // manifest key
  const char* flag;  // synth flag
  float Distractors::*rate;
};
constexpr RateField kRates[] = {
    {"lean", "--rate-lean", &Distractors::lean},
    {"shadow", "--rate-shadow", &Distractors::shadow},
    {"hand", "--rate-hand", &Distractors::hand},
    {"chair", "--rate-chair", &Distractors::chair},
    {"second_person", "--rate-second-person", &Distractors::second_person},
    {"off_centre", "--rate-off-centre", &Distractors::off_centre},
    {"empty", "--rate-empty", &Distractors::empty},
};

// "lean: 0.15, shadow: 0.5, ..., distance: [500, 1500]": one manifest line's value.
std::string distractor_text(const Distractors& d) {
  std::string s = "{";
  for (const auto& r : kRates) s += fmt::format("{}: {}, ", r.key, d.*r.rate);
  return s + fmt::format("distance: [{}, {}]}}", d.min_distance, d.max_distance);
}

void validate(const SynthOptions& o) {
  if (o.persons < 1) {
    throw_bad_input(fmt::format("synth options: persons (--persons) must be >= 1, got {}", o.persons));
  }
  if (o.sessions < 1 || o.sessions > synth::kMaxSessions) {
    throw_bad_input(fmt::format("synth options: sessions (--sessions) must be in 1..{}, got {}",
                                synth::kMaxSessions, o.sessions));
  }
  if (o.poses < 1 || o.poses > synth::kPoseCount) {
    throw_bad_input(fmt::format("synth options: poses (--poses) must be in 1..{}, got {}", synth::kPoseCount,
                                o.poses));
  }
  if (o.first_person < 0) {
    throw_bad_input(fmt::format("synth options: first_person (--first-person) must be >= 0, got {}",
                                o.first_person));
  }
  if (o.persons > std::numeric_limits<int>::max() - o.first_person) {
    throw_bad_input(fmt::format("synth options: first_person + persons overflows an int, got {} + {}",
                                o.first_person, o.persons));
  }
  if (o.threads < 0) {
    throw_bad_input(fmt::format("synth options: threads (--threads) must be >= 0, got {}", o.threads));
  }
  if (o.out.empty()) throw_bad_input("synth options: out (--out) must not be empty");
  for (const auto& r : kRates) {
    const float v = o.distractors.*r.rate;
    if (!(v >= 0 && v <= 1)) {  // NaN too
      throw_bad_input(fmt::format("synth options: distractors.{} ({}) must be in [0, 1], got {}", r.key, r.flag, v));
    }
  }
  const Distractors& d = o.distractors;
  if (!(d.min_distance >= 450 && d.min_distance <= d.max_distance && d.max_distance <= 3000)) {
    throw_bad_input(fmt::format("synth options: distractors distance range must lie in [450, 3000] mm with "
                                "min <= max, got [{}, {}]",
                                d.min_distance, d.max_distance));
  }
}

std::string manifest_text(const SynthOptions& o, bool complete) {
  return fmt::format(
      "# Written by faceid synth: the synthetic RGB-D face data set in this folder.\n"
      "generator: faceid-synth\n"
      "version: {}\n"
      "seed: {}\n"
      "first_person: {}\n"
      "persons: {}\n"
      "sessions: {}\n"
      "poses: {}\n"
      "compact: {}\n"
      "attacks: {}\n"
      "distractors: {}\n"
      "complete: {}\n",
      synth::kGeneratorVersion, o.seed, o.first_person, o.persons, o.sessions, o.poses,
      o.compact ? "true" : "false", o.attacks ? "true" : "false", distractor_text(o.distractors),
      complete ? "true" : "false");
}

// Frames kept from an earlier run must come from the same generator, seed, format and distractor
// rates.
void check_existing_manifest(const fs::path& path, const SynthOptions& o) {
  std::error_code ec;
  if (o.overwrite || !fs::exists(path, ec)) return;
  try {
    const YAML::Node node = YAML::LoadFile(path.string());
    const int version = node["version"].as<int>();
    const uint64_t seed = node["seed"].as<uint64_t>();
    const bool compact = node["compact"].as<bool>();
    auto refuse = [&](const std::string& what) {
      throw_bad_input(fmt::format(
          "{}: the existing data set was made with {}; keep the same settings to resume, or pass "
          "--overwrite or another --out",
          path.string(), what));
    };
    if (version != synth::kGeneratorVersion) {
      refuse(fmt::format("generator version {} (this is version {})", version, synth::kGeneratorVersion));
    }
    if (seed != o.seed) refuse(fmt::format("seed {} (this run: seed {})", seed, o.seed));
    if (compact != o.compact) {
      refuse(fmt::format("compact: {} (this run: compact: {})", compact, o.compact));
    }
    const std::string rates = YAML::Dump(node["distractors"]);
    const std::string ours = YAML::Dump(YAML::Load(distractor_text(o.distractors)));
    if (rates != ours) refuse(fmt::format("distractors {} (this run: {})", rates, ours));
  } catch (const YAML::Exception& e) {
    throw_bad_input(fmt::format("{}: cannot read the manifest: {}", path.string(), e.what()));
  }
}

void write_bytes(const fs::path& path, const std::vector<uchar>& bytes) {
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

void encode(const char* ext, const cv::Mat& image, std::vector<uchar>& out, const std::vector<int>& params,
            const fs::path& path) {
  if (!cv::imencode(ext, image, out, params)) {
    throw_internal(fmt::format("{}: encoding failed", path.string()));
  }
}

// Renders and writes one frame; false when it existed and was kept.
bool write_frame(const SynthOptions& o, const Job& job) {
  const fs::path dir =
      (job.attack < 0 ? o.out : attack_dataset_root(o.out, kAttackTypes[job.attack])) / synth_person_name(job.person);
  const char* color_ext = o.compact ? "png" : "bmp";
  const char* depth_ext = o.compact ? "png" : "dat";
  const fs::path color_path = dir / frame_file(job.pose, job.session, 'c', color_ext);
  const fs::path depth_path = dir / frame_file(job.pose, job.session, 'd', depth_ext);
  const fs::path truth_path = face_truth_path(depth_path);
  std::error_code ec;
  if (!o.overwrite && fs::exists(color_path, ec) && fs::exists(depth_path, ec) &&
      (job.attack >= 0 || fs::exists(truth_path, ec))) {
    return false;
  }
  fs::create_directories(dir, ec);
  if (ec) throw_io(fmt::format("{}: cannot create folder: {}", dir.string(), ec.message()));

  const SynthFrame frame =
      job.attack < 0 ? render_synth_frame(o.seed, job.person, job.session, job.pose, o.distractors)
                     : render_attack_frame(o.seed, kAttackTypes[job.attack], job.person, job.session, job.pose);
  std::vector<uchar> bytes;
  if (o.compact) {
    write_depth_png(depth_path, frame.depth_raw);
    cv::Mat small;
    cv::resize(frame.color, small, cv::Size(kDepthWidth, kDepthHeight), 0, 0, cv::INTER_AREA);
    // Sensor noise defeats LZ matching: Huffman-only coding is both smaller and faster here.
    encode(".png", small, bytes,
           {cv::IMWRITE_PNG_COMPRESSION, 1, cv::IMWRITE_PNG_STRATEGY, cv::IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY},
           color_path);
  } else {
    write_depth_dat(depth_path, frame.depth_raw);
    cv::Mat bgra;
    cv::cvtColor(frame.color, bgra, cv::COLOR_BGR2BGRA);  // 4 channels: a 32-bit BMP like VAP's
    encode(".bmp", bgra, bytes, {}, color_path);
  }
  write_bytes(color_path, bytes);
  if (job.attack < 0) write_face_truth(truth_path, frame.truth);  // last: it marks the frame complete
  // A frame of the other layout left from an overwritten run would shadow this one.
  const char* other_color = o.compact ? "bmp" : "png";
  const char* other_depth = o.compact ? "dat" : "png";
  fs::remove(dir / frame_file(job.pose, job.session, 'c', other_color), ec);
  fs::remove(dir / frame_file(job.pose, job.session, 'd', other_depth), ec);
  return true;
}

}  // namespace

std::string synth_person_name(int person) { return fmt::format("synth_{:05d}", person); }

void generate_synth_dataset(const SynthOptions& o, const std::function<void(int, int)>& progress) {
  validate(o);
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec || !fs::is_directory(o.out, ec)) {
    throw_bad_input(fmt::format("{}: cannot create the output folder: {}", o.out.string(),
                                ec ? ec.message() : "not a directory"));
  }
  const fs::path manifest = o.out / kManifestName;
  const fs::path partial = o.out / kPartialName;
  check_existing_manifest(manifest, o);
  check_existing_manifest(partial, o);
  try {
    write_file_atomic(partial, manifest_text(o, false));
  } catch (const Error& e) {
    throw_bad_input(fmt::format("{}: the output folder is not writable ({})", o.out.string(), e.what()));
  }
  fs::remove(manifest, ec);  // the set is incomplete until this run ends

  std::vector<Job> jobs;
  jobs.reserve(static_cast<size_t>(o.persons) * o.sessions * o.poses * (o.attacks ? 4 : 1));
  for (int p = o.first_person; p < o.first_person + o.persons; ++p) {
    for (int s = 1; s <= o.sessions; ++s) {
      for (int q = 1; q <= o.poses; ++q) jobs.push_back({p, s, q});
    }
  }
  if (o.attacks) {
    for (int a = 0; a < static_cast<int>(std::size(kAttackTypes)); ++a) {
      for (int p = o.first_person; p < o.first_person + o.persons; ++p) {
        for (int s = 1; s <= o.sessions; ++s) {
          for (int q = 1; q <= o.poses; ++q) jobs.push_back({p, s, q, a});
        }
      }
    }
  }
  std::atomic<int> written{0};
  const auto write_job = [&](size_t i) {
    if (write_frame(o, jobs[i])) written.fetch_add(1);
  };
  PoolProgress frames_done;
  if (progress) {
    frames_done = [&](size_t done, size_t total) {
      progress(static_cast<int>(done), static_cast<int>(total));
    };
  }
  std::exception_ptr error;  // frames_written counts the frames of a failed run too
  try {
    parallel_for(jobs.size(), o.threads, write_job, frames_done);
  } catch (...) {
    error = std::current_exception();
  }
  if (o.frames_written) *o.frames_written = written.load();
  if (error) std::rethrow_exception(error);
  write_file_atomic(manifest, manifest_text(o, true));
  fs::remove(partial, ec);
}

}  // namespace faceid
