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
#include "synth/burst.hpp"
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
  int attack = -1;  // the AttackType, -1 = the live person
  int frame = 0;    // a burst's frame 1..K (written as NNN_F), 0 = the set's frame NNN_K
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
  if (o.bursts != 0 && (o.bursts < 2 || o.bursts > synth::kMaxBurstFrames)) {
    throw_bad_input(fmt::format("synth options: bursts (--bursts) must be 0 (none) or in 2..{}, got {}",
                                synth::kMaxBurstFrames, o.bursts));
  }
  if (o.attacks && o.attack_types.empty()) {
    throw_bad_input("synth options: attack_types (--attack-types) must name at least one instrument");
  }
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

// "[photo, mask_paper]": the instruments written (none without attacks).
std::string attack_types_text(const SynthOptions& o) {
  std::string s = "[";
  if (o.attacks) {
    for (size_t i = 0; i < o.attack_types.size(); ++i) s += fmt::format("{}{}", i ? ", " : "", to_string(o.attack_types[i]));
  }
  return s + "]";
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
      "attack_types: {}\n"
      "bursts: {}\n"
      "distractors: {}\n"
      "complete: {}\n",
      synth::kGeneratorVersion, o.seed, o.first_person, o.persons, o.sessions, o.poses,
      o.compact ? "true" : "false", o.attacks ? "true" : "false", attack_types_text(o), o.bursts,
      distractor_text(o.distractors), complete ? "true" : "false");
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
    // Attacks and bursts may be added to a set that has none; ones already there must match. A
    // manifest from before attack_types was recorded holds the first attack renderer's photos,
    // screens and masks (no hands, one print size): their frames would be kept, so refuse.
    const bool had_attacks = node["attacks"] && node["attacks"].as<bool>();
    if (had_attacks && o.attacks && !node["attack_types"]) {
      refuse("the first attack renderer (photo, screen and mask without hands, bodies or other makes)");
    }
    const std::string types =
        node["attack_types"] ? YAML::Dump(node["attack_types"]) : std::string(had_attacks ? "[photo, screen, mask]" : "[]");
    const std::string our_types = YAML::Dump(YAML::Load(attack_types_text(o)));
    if (had_attacks && o.attacks && YAML::Dump(YAML::Load(types)) != our_types) {
      refuse(fmt::format("attack_types {} (this run: {})", types, our_types));
    }
    const int bursts = node["bursts"] ? node["bursts"].as<int>() : 0;
    if (bursts != 0 && bursts != o.bursts) refuse(fmt::format("bursts: {} (this run: bursts: {})", bursts, o.bursts));
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
  const AttackType type = static_cast<AttackType>(std::max(job.attack, 0));
  const fs::path root = job.frame > 0 ? (job.attack < 0 ? live_burst_root(o.out) : attack_burst_root(o.out, type))
                                      : (job.attack < 0 ? o.out : attack_dataset_root(o.out, type));
  const fs::path dir = root / synth_person_name(job.person);
  const int slot = job.frame > 0 ? job.frame : job.session;  // NNN_K, or NNN_F in a burst
  const bool truth = job.attack < 0 && job.frame == 0;
  const char* color_ext = o.compact ? "png" : "bmp";
  const char* depth_ext = o.compact ? "png" : "dat";
  const fs::path color_path = dir / frame_file(job.pose, slot, 'c', color_ext);
  const fs::path depth_path = dir / frame_file(job.pose, slot, 'd', depth_ext);
  const fs::path truth_path = face_truth_path(depth_path);
  std::error_code ec;
  if (!o.overwrite && fs::exists(color_path, ec) && fs::exists(depth_path, ec) &&
      (!truth || fs::exists(truth_path, ec))) {
    return false;
  }
  fs::create_directories(dir, ec);
  if (ec) throw_io(fmt::format("{}: cannot create folder: {}", dir.string(), ec.message()));

  SynthFrame frame;
  if (job.frame > 0) {
    frame = job.attack < 0
                ? render_live_burst_frame(o.seed, job.person, job.session, job.pose, job.frame, o.distractors)
                : render_attack_burst_frame(o.seed, type, job.person, job.session, job.pose, job.frame);
  } else {
    frame = job.attack < 0 ? render_synth_frame(o.seed, job.person, job.session, job.pose, o.distractors)
                           : render_attack_frame(o.seed, type, job.person, job.session, job.pose);
  }
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
  if (truth) write_face_truth(truth_path, frame.truth);  // last: it marks the frame complete
  // A frame of the other layout left from an overwritten run would shadow this one.
  const char* other_color = o.compact ? "bmp" : "png";
  const char* other_depth = o.compact ? "dat" : "png";
  fs::remove(dir / frame_file(job.pose, slot, 'c', other_color), ec);
  fs::remove(dir / frame_file(job.pose, slot, 'd', other_depth), ec);
  return true;
}

}  // namespace

std::string synth_person_name(int person) { return fmt::format("synth_{:05d}", person); }

int synth_frame_count(const SynthOptions& o) {
  const int kinds = 1 + (o.attacks ? static_cast<int>(o.attack_types.size()) : 0);
  return kinds * o.persons * o.poses * (o.sessions + o.bursts);
}

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
  jobs.reserve(static_cast<size_t>(synth_frame_count(o)));
  for (int p = o.first_person; p < o.first_person + o.persons; ++p) {
    for (int s = 1; s <= o.sessions; ++s) {
      for (int q = 1; q <= o.poses; ++q) jobs.push_back({p, s, q});
    }
  }
  if (o.attacks) {
    for (const AttackType type : o.attack_types) {
      for (int p = o.first_person; p < o.first_person + o.persons; ++p) {
        for (int s = 1; s <= o.sessions; ++s) {
          for (int q = 1; q <= o.poses; ++q) jobs.push_back({p, s, q, static_cast<int>(type)});
        }
      }
    }
  }
  // Bursts: every person and pose of the last session, live and per chosen instrument.
  if (o.bursts > 0) {
    std::vector<int> kinds{-1};
    if (o.attacks) {
      for (const AttackType type : o.attack_types) kinds.push_back(static_cast<int>(type));
    }
    for (const int kind : kinds) {
      for (int p = o.first_person; p < o.first_person + o.persons; ++p) {
        for (int q = 1; q <= o.poses; ++q) {
          for (int f = 1; f <= o.bursts; ++f) jobs.push_back({p, o.sessions, q, kind, f});
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
