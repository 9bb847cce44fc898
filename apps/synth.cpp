// synth: writes the synthetic RGB-D face data set (the embedded default) in the VAP layout.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "faceid/app.hpp"
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
  cli.add_flag("--attacks", o.attacks,
               "Also write presentation attacks of every frame: printed photo, screen replay, 3-D mask, "
               "under OUT/attacks/<photo|screen|mask>/<targeted person>/ (see docs/pad.md)");
  return faceid::run_app(cli, argc, argv, [&] {
    o.out = out;
    int written = 0;
    o.frames_written = &written;
    Progress progress(faceid::stderr_is_tty());
    faceid::generate_synth_dataset(o, [&](int done, int total) { progress.update(done, total); });
    const double secs = progress.seconds();
    const int total = o.persons * o.sessions * o.poses * (o.attacks ? 4 : 1);
    std::printf("synth: %d frames (%d persons x %d sessions x %d poses%s, %s) in %s: %d written, %d kept\n",
                total, o.persons, o.sessions, o.poses, o.attacks ? " x (live + 3 attacks)" : "",
                o.compact ? "compact PNG" : "VAP BMP + .dat", o.out.string().c_str(), written, total - written);
    std::printf("synth: %.1f s, %.1f ms per written frame (wall clock, all threads)\n", secs,
                written > 0 ? secs * 1000.0 / written : 0.0);
    return faceid::kExitOk;
  });
}
