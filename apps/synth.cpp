// synth: writes the synthetic RGB-D face data set (the embedded default) in the VAP layout, with
// presentation attacks (--attacks, --attack-types) and bursts of consecutive frames (--bursts).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "faceid/core/app.hpp"
#include "faceid/io/attacks.hpp"
#include "faceid/synth/synth.hpp"

namespace {

// A progress bar on a terminal, a plain line every ~10% otherwise.
class Progress {
 public:
  explicit Progress(bool tty) : tty_(tty), start_(std::chrono::steady_clock::now()) {}

  void update(int done, int total) {
    const double elapsed = seconds();
    const double eta = done > 0 ? elapsed / done * (total - done) : 0.0;
    const int percent = total > 0 ? done * 100 / total : 100;
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = total > 0 ? done * kWidth / total : kWidth;
      std::fprintf(stderr, "\r[%s%s] %3d%% %d/%d frames, ETA %.0f s ", std::string(filled, '#').c_str(),
                   std::string(kWidth - filled, '.').c_str(), percent, done, total, eta);
      if (done == total) std::fputc('\n', stderr);
    } else if (percent / 10 > last_decile_ || done == total) {
      last_decile_ = percent / 10;
      std::fprintf(stderr, "synth: %d/%d frames (%d%%), %.1f s elapsed, ETA %.0f s\n", done, total, percent,
                   elapsed, eta);
    }
  }

  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  int last_decile_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Generate the synthetic RGB-D face data set: procedural 3-D heads rendered into a "
               "Kinect-like depth camera and a registered colour camera, in the VAP layout "
               "(ROOT/<person>/NNN_K_c.bmp + NNN_K_d.dat). Deterministic for a seed.",
               "synth"};
  faceid::SynthOptions o;
  std::string out = o.out.string();
  cli.add_option("--out", out, "Dataset root to write")->capture_default_str();
  cli.add_option("--persons", o.persons, "Number of identities (>= 1)")->capture_default_str();
  cli.add_option("--sessions", o.sessions, "Sessions K per identity (1..3)")->capture_default_str();
  cli.add_option("--poses", o.poses, "Poses NNN per session (1..17)")->capture_default_str();
  cli.add_option("--seed", o.seed, "Seed: the same seed gives byte-identical files")->capture_default_str();
  cli.add_option("--threads", o.threads, "Worker threads (0 = all cores)")->capture_default_str();
  cli.add_option("--first-person", o.first_person, "Index of the first identity (disjoint sets)")
      ->capture_default_str();
  cli.add_flag("--compact", o.compact,
               "Write 640x480 colour PNG + 16-bit depth PNG instead of VAP's BMP + .dat");
  cli.add_flag("--overwrite", o.overwrite, "Re-render frames that already exist");
  // Distractors: --distractors picks the base (default rates, or none: version 1's clean scene),
  // then each --rate-* given overrides its rate. Rates outside [0, 1] exit 2 naming the flag.
  std::string base = "default";
  cli.add_option("--distractors", base,
                 "Distractor base: 'default' (the rates below) or 'none' (the clean scene of generator "
                 "version 1: no distractors, faces at 625-1060 mm); --rate-* flags then override")
      ->check(CLI::IsMember({"default", "none"}))
      ->capture_default_str();
  const faceid::Distractors defaults;
  faceid::Distractors rates;
  struct RateFlag {
    const char* flag;
    float faceid::Distractors::*rate;
    const char* help;
  };
  const RateFlag rate_flags[] = {
      {"--rate-lean", &faceid::Distractors::lean, "torso leaning forward, chest 50-200 mm nearer than the face"},
      {"--rate-shadow", &faceid::Distractors::shadow, "Kinect shadow band: holes between chin and neck"},
      {"--rate-hand", &faceid::Distractors::hand, "a raised hand 150-400 mm in front of the face, covering 10-35%"},
      {"--rate-chair", &faceid::Distractors::chair, "a chair back behind the shoulders"},
      {"--rate-second-person", &faceid::Distractors::second_person, "another person 300-1200 mm further back"},
      {"--rate-off-centre", &faceid::Distractors::off_centre, "head off the image centre (up to 250 mm at 1 m)"},
      {"--rate-empty", &faceid::Distractors::empty, "no person at all (a 'no face' frame)"},
  };
  std::vector<CLI::Option*> rate_options;
  for (const auto& r : rate_flags) {
    rate_options.push_back(cli.add_option(r.flag, rates.*r.rate,
                                          fmt::format("Rate in [0, 1] of frames with {} (default {})", r.help,
                                                      defaults.*r.rate)));
  }
  auto* attacks_flag = cli.add_flag(
      "--attacks", o.attacks,
      "Also write presentation attacks of every frame under OUT/attacks/<instrument>/<targeted person>/: "
      "photo (a held A5-A3 print), screen (phone, tablet, laptop replay), mask (plain cast), mask_plaster, "
      "mask_paper, mask_silicone, mask_resin, mask_partial (masks worn over another head) and head_form "
      "(a print on a generic head form); see docs/pad.md");
  std::string attack_types = "all";
  cli.add_option("--attack-types", attack_types,
                 "With --attacks: the instruments to write, comma-separated names, a family (photo, screen, "
                 "mask = every mask make and the head form) or 'all'")
      ->needs(attacks_flag)
      ->capture_default_str();
  cli.add_option("--bursts", o.bursts,
                 "0 (none) or K in 2..8: for every person and pose of the last session, a burst of K "
                 "consecutive frames (~15 fps: micro-motion, blinks, expression changes) under "
                 "OUT/bursts/live/<person>/NNN_F_{c,d} (F = 1..K; frame 1 = the set's frame), and with "
                 "--attacks one per instrument under OUT/bursts/<instrument>/<person>/")
      ->capture_default_str();
  return faceid::run_app(cli, argc, argv, [&] {
    o.out = out;
    o.attack_types = faceid::parse_attack_types(attack_types, "--attack-types");
    o.distractors = base == "none" ? faceid::Distractors::none() : faceid::Distractors{};
    for (size_t i = 0; i < rate_options.size(); ++i) {
      if (rate_options[i]->count() > 0) o.distractors.*rate_flags[i].rate = rates.*rate_flags[i].rate;
    }
    int written = 0;
    o.frames_written = &written;
    Progress progress(faceid::stderr_is_tty());
    faceid::generate_synth_dataset(o, [&](int done, int total) { progress.update(done, total); });
    const double secs = progress.seconds();
    const int total = faceid::synth_frame_count(o);
    const std::string attacks =
        o.attacks ? fmt::format(" x (live + {} attacks)", o.attack_types.size()) : std::string();
    const std::string bursts = o.bursts > 0 ? fmt::format(", + bursts of {} frames", o.bursts) : std::string();
    std::printf("synth: %d frames (%d persons x %d sessions x %d poses%s%s, %s) in %s: %d written, %d kept\n",
                total, o.persons, o.sessions, o.poses, attacks.c_str(), bursts.c_str(),
                o.compact ? "compact PNG" : "VAP BMP + .dat", o.out.string().c_str(), written, total - written);
    std::printf("synth: %.1f s, %.1f ms per written frame (wall clock, all threads)\n", secs,
                written > 0 ? secs * 1000.0 / written : 0.0);
    return faceid::kExitOk;
  });
}
