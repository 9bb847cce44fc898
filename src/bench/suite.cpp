// apps/bench's suite: which benches run, in which order, and how their samples become figures.
// Comparisons (a reference in the same run) interleave their runs, A B A B ..., so that the
// load of a shared machine falls on both sides alike.
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "faceid/bench/bench.hpp"
#include "faceid/core/error.hpp"

namespace faceid {
namespace {

const std::vector<std::string> kSections = {"sgemm", "parse", "load", "step",  "train",
                                            "embed", "unlock", "tune", "locate"};

BenchFigure figure(std::string name, std::string unit, std::vector<double> samples,
                   bool show_p99 = false) {
  BenchFigure f;
  f.name = std::move(name);
  f.unit = std::move(unit);
  f.stats = summarize(std::move(samples));
  f.show_p99 = show_p99;
  return f;
}

BenchFigure with_ratio(BenchFigure f, double reference, std::string label) {
  f.ratio = f.stats.median / reference;
  f.ratio_label = std::move(label);
  return f;
}

std::vector<double> map(const std::vector<double>& v, const std::function<double(double)>& fn) {
  std::vector<double> out;
  out.reserve(v.size());
  for (const double x : v) out.push_back(fn(x));
  return out;
}

void append(std::vector<double>& to, const std::vector<double>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

void append(TimedSamples& to, const TimedSamples& from) {
  append(to.wall, from.wall);
  append(to.cpu, from.cpu);
}

// Runs each function `repeat` times, interleaved, and collects each one's samples.
std::vector<std::vector<double>> interleave(
    int repeat, const std::vector<std::function<std::vector<double>()>>& runs) {
  std::vector<std::vector<double>> samples(runs.size());
  for (int r = 0; r < repeat; ++r) {
    for (size_t i = 0; i < runs.size(); ++i) append(samples[i], runs[i]());
  }
  return samples;
}

std::set<std::string> sections_of(const std::vector<std::string>& what) {
  std::set<std::string> out;
  for (const std::string& w : what) {
    if (w == "all") {
      out.insert(kSections.begin(), kSections.end());
    } else if (std::find(kSections.begin(), kSections.end(), w) != kSections.end()) {
      out.insert(w);
    } else {
      throw_bad_input(fmt::format("--what: unknown benchmark '{}' (expected all or any of {})", w,
                                  fmt::join(kSections, ",")));
    }
  }
  return out;
}

class Suite {
 public:
  Suite(const BenchRequest& request, const std::function<void(const BenchFigure&)>& emit,
        const std::function<void(const std::string&)>& log)
      : rq_(request), emit_(emit), log_(log) {
    validate(rq_.config, "bench config");
    if (rq_.repeat < 1) throw_bad_input(fmt::format("--repeat: expected >= 1, got {}", rq_.repeat));
    if (rq_.threads < 1 || rq_.latency_threads < 1) {
      throw_bad_input(fmt::format("--threads/--latency-threads: expected >= 1, got {} and {}",
                                  rq_.threads, rq_.latency_threads));
    }
  }

  void run(const std::set<std::string>& sections) {
    set_bench_threads(rq_.threads);
    log_(fmt::format("{} thread(s), model {} @ {}, {} pairs a batch, repeat {}", rq_.threads,
                     to_string(rq_.config.model.variant), rq_.config.preprocess.input_size,
                     rq_.config.train.batch_pairs, rq_.repeat));
    if (sections.count("sgemm")) sgemm();
    if (sections.count("parse")) parse();
    if (sections.count("load")) load();
    if (sections.count("step")) step();
    if (sections.count("train")) train();
    if (sections.count("embed")) embed();
    if (sections.count("unlock")) unlock();
    if (sections.count("tune")) tune();
    if (sections.count("locate")) locate();
  }

 private:
  std::string tag() const {
    return fmt::format("{}@{}", to_string(rq_.config.model.variant),
                       rq_.config.preprocess.input_size);
  }

  // A latency on both clocks; the CPU-time figure only when the work runs on this one thread.
  void emit_latency(const std::string& name, const TimedSamples& samples) {
    emit_(figure(name, "ms", samples.wall, true));
    if (rq_.latency_threads == 1) {
      emit_(figure(name + ".cpu", "ms of thread CPU time", samples.cpu, true));
    }
  }

  std::vector<double> sgemm_run() const { return bench_sgemm(rq_.sgemm_size, 1); }

  void sgemm() {
    log_("sgemm ...");
    emit_(figure(fmt::format("sgemm.{}x{}.threads{}", rq_.sgemm_size, rq_.sgemm_size, rq_.threads),
                 "GFLOP/s", bench_sgemm(rq_.sgemm_size, rq_.repeat)));
  }

  void parse() {
    log_("parse ...");
    size_t bytes = 0;
    const TimedSamples samples = bench_parse_dat(rq_.repeat, &bytes);
    const std::string name = fmt::format("parse.dat_640x480_{}KB", bytes / 1000);
    emit_(figure(name + ".mb_per_s", "MB/s", samples.wall));
    emit_(figure(name + ".mb_per_cpu_s", "MB/s of thread CPU time", samples.cpu));
  }

  std::filesystem::path dataset() const {
    const auto root = rq_.work_dir / fmt::format("synth-{}x{}x{}", rq_.synth_persons,
                                                 rq_.synth_sessions, rq_.synth_poses);
    log_(fmt::format("bench data set {} (generated once)", root.string()));
    return ensure_bench_dataset(root, rq_.synth_persons, rq_.synth_sessions, rq_.synth_poses);
  }

  void load() {
    const auto root = dataset();
    log_("load: text frames ...");
    const LoadBench text = bench_load_text(root, rq_.config.preprocess, rq_.repeat);
    emit_(figure("load.text.read_frames_per_s", "frames/s, 1 thread", text.read_fps));
    emit_(figure("load.text.preprocess_frames_per_s", "frames/s, 1 thread", text.preprocess_fps));
    emit_(figure("load.text.frames_per_s", "frames/s, 1 thread", text.total_fps));
    emit_(figure("load.text.frames_per_cpu_s", "frames/s of thread CPU time", text.total_fps_cpu));
    const int workers = std::max(1, rq_.config.data.workers);
    log_("load: FrameStore from text and from the disk cache ...");
    const auto cache = rq_.work_dir / "cache";
    emit_(figure("load.store_text.frames_per_s",
                 fmt::format("frames/s, {} workers", workers),
                 bench_frame_store(root, rq_.config.data, rq_.config.preprocess, cache, false,
                                   rq_.repeat)));
    emit_(figure("load.store_cache.frames_per_s", fmt::format("frames/s, {} workers", workers),
                 bench_frame_store(root, rq_.config.data, rq_.config.preprocess, cache, true,
                                   rq_.repeat)));
  }

  std::vector<double> step_run(bool channels_last) const {
    StepBenchOptions o;
    o.steps = rq_.step_steps;
    o.warmup = 1;
    o.channels_last = channels_last;
    return bench_train_step(rq_.config, o);
  }

  void step() {
    log_(fmt::format("step: model-only train step {} ...", tag()));
    const auto s = interleave(rq_.repeat, {[&] { return sgemm_run(); },
                                           [&] { return step_run(rq_.channels_last); }});
    const double pairs = rq_.config.train.batch_pairs;
    const double flops =
        train_step_flops(network_cost(rq_.config.model, rq_.config.preprocess.input_size),
                         rq_.config.train.batch_pairs);
    const double sgemm = summarize(s[0]).median;
    const std::string name = fmt::format("step.{}", tag());
    emit_(figure(name + ".ms", "ms/step", map(s[1], [](double x) { return 1e3 * x; })));
    emit_(figure(name + ".pairs_per_s", "pairs/s", map(s[1], [&](double x) { return pairs / x; })));
    emit_(with_ratio(figure(name + ".gflops", "GFLOP/s",
                            map(s[1], [&](double x) { return flops / x / 1e9; })),
                     sgemm, fmt::format("of sgemm {:.4g} GFLOP/s (roofline)", sgemm)));
    emit_(figure("step.peak_rss_mib", "MiB", {peak_rss_mib()}));
  }

  void train() {
    const auto root = dataset();
    Config c = rq_.config;
    c.data.root = root.string();
    c.data.cache_dir = (rq_.work_dir / "cache").string();
    c.train.threads = rq_.threads;
    c.train.steps_per_epoch = rq_.train_steps;
    c.train.val_max_frames_per_person = 2;
    if (c.data.val_persons.empty()) {  // validation needs 2 persons (genuine and impostor pairs)
      c.data.val_fraction = std::max(c.data.val_fraction, 2.0 / rq_.synth_persons);
    }
    log_(fmt::format("train: run_training {}, {} epochs of {} steps (the first is warm-up) ...",
                     tag(), rq_.repeat + 1, rq_.train_steps));
    std::vector<double> sgemm = sgemm_run();
    const TrainBench tb = bench_training(c, rq_.repeat + 1, rq_.work_dir / "runs" / tag());
    set_bench_threads(rq_.threads);
    append(sgemm, sgemm_run());
    const double flops_per_pair =
        train_step_flops(network_cost(c.model, c.preprocess.input_size), 1);
    const double g = summarize(sgemm).median;
    const std::string name = fmt::format("train.{}", tag());
    emit_(figure(name + ".pairs_per_s", fmt::format("pairs/s, {} threads + {} loader workers",
                                                    rq_.threads, c.data.workers),
                 tb.pairs_per_s));
    emit_(figure(name + ".data_wait_fraction", "of epoch time", tb.data_wait_fraction));
    emit_(with_ratio(figure(name + ".gflops", "GFLOP/s",
                            map(tb.pairs_per_s, [&](double x) { return x * flops_per_pair / 1e9; })),
                     g, fmt::format("of sgemm {:.4g} GFLOP/s (roofline)", g)));
    emit_(figure(name + ".peak_rss_mib", "MiB, whole process", {tb.peak_rss_mib}));
  }

  void unlock() {
    const auto root = dataset();
    log_(fmt::format("unlock: frame -> decision {} on {} thread(s) ...", tag(),
                     rq_.latency_threads));
    UnlockBench all;
    for (int r = 0; r < rq_.repeat; ++r) {
      const UnlockBench u = bench_unlock_latency(rq_.config, root, rq_.work_dir,
                                                 rq_.latency_threads, rq_.latency_calls, 5);
      append(all.total, u.total);
      append(all.preprocess_cpu_ms, u.preprocess_cpu_ms);
      append(all.embed_cpu_ms, u.embed_cpu_ms);
      append(all.liveness_cpu_ms, u.liveness_cpu_ms);
      append(all.match_cpu_ms, u.match_cpu_ms);
      append(all.burst_liveness_cpu_ms, u.burst_liveness_cpu_ms);
    }
    set_bench_threads(rq_.threads);
    const std::string name =
        fmt::format("unlock.{}.threads{}.latency_ms", tag(), rq_.latency_threads);
    emit_latency(name, all.total);
    if (rq_.latency_threads == 1) {
      emit_(figure(name + ".cpu.preprocess", "ms of thread CPU time", all.preprocess_cpu_ms, true));
      emit_(figure(name + ".cpu.embed", "ms of thread CPU time", all.embed_cpu_ms, true));
      emit_(figure(name + ".cpu.liveness", "ms of thread CPU time", all.liveness_cpu_ms, true));
      emit_(figure(name + ".cpu.match", "ms of thread CPU time", all.match_cpu_ms, true));
      emit_(figure(name + ".cpu.liveness_burst4", "ms of thread CPU time", all.burst_liveness_cpu_ms, true));
    }
  }

  TimedSamples embed_run(bool inference_mode, bool channels_last) const {
    EmbedBenchOptions o;
    o.repeat = rq_.latency_calls;
    o.inference_mode = inference_mode;
    o.channels_last = channels_last;
    return bench_embed_latency(rq_.config.model, rq_.config.preprocess.input_size, o);
  }

  void embed() {
    log_(fmt::format("embed: single-frame latency {} on {} thread(s) ...", tag(),
                     rq_.latency_threads));
    set_bench_threads(rq_.latency_threads);
    TimedSamples samples;
    for (int r = 0; r < rq_.repeat; ++r) append(samples, embed_run(true, rq_.channels_last));
    set_bench_threads(rq_.threads);
    emit_latency(fmt::format("embed.{}.threads{}.latency_ms", tag(), rq_.latency_threads), samples);
  }

  // Interleaved A/B comparisons: thread counts, channels-last, InferenceMode vs NoGradGuard.
  void tune() {
    const std::string t = tag();
    log_("tune: sgemm and step, 1 thread vs " + std::to_string(rq_.threads) + " ...");
    const auto with_threads = [](int threads, const std::function<std::vector<double>()>& fn) {
      return [threads, fn] {
        set_bench_threads(threads);
        return fn();
      };
    };
    const auto g = interleave(rq_.repeat, {with_threads(1, [&] { return sgemm_run(); }),
                                           with_threads(rq_.threads, [&] { return sgemm_run(); })});
    const double g_n = summarize(g[1]).median;
    emit_(with_ratio(figure("tune.sgemm.threads1", "GFLOP/s", g[0]), g_n,
                     fmt::format("of {} threads", rq_.threads)));
    const double pairs = rq_.config.train.batch_pairs;
    const auto pps = [&](const std::vector<double>& v) {
      return map(v, [&](double x) { return pairs / x; });
    };
    const auto st = interleave(rq_.repeat,
                               {with_threads(1, [&] { return step_run(false); }),
                                with_threads(rq_.threads, [&] { return step_run(false); }),
                                with_threads(rq_.threads, [&] { return step_run(true); })});
    const double step_n = summarize(pps(st[1])).median;
    emit_(with_ratio(figure(fmt::format("tune.step.{}.threads1.pairs_per_s", t), "pairs/s",
                            pps(st[0])),
                     step_n, fmt::format("of {} threads", rq_.threads)));
    emit_(figure(fmt::format("tune.step.{}.threads{}.pairs_per_s", t, rq_.threads), "pairs/s",
                 pps(st[1])));
    emit_(with_ratio(figure(fmt::format("tune.step.{}.channels_last.pairs_per_s", t), "pairs/s",
                            pps(st[2])),
                     step_n, "of contiguous"));

    log_("tune: embedding, InferenceMode vs NoGradGuard, channels-last ...");
    set_bench_threads(rq_.latency_threads);
    std::vector<TimedSamples> e(3);
    for (int r = 0; r < rq_.repeat; ++r) {
      append(e[0], embed_run(true, false));
      append(e[1], embed_run(false, false));
      append(e[2], embed_run(true, true));
    }
    set_bench_threads(rq_.threads);
    const double e_ref = summarize(e[0].wall).median;
    const std::string prefix = fmt::format("tune.embed.{}.threads{}", t, rq_.latency_threads);
    emit_(figure(prefix + ".inference_mode.latency_ms", "ms", e[0].wall, true));
    emit_(with_ratio(figure(prefix + ".no_grad.latency_ms", "ms", e[1].wall, true), e_ref,
                     "of InferenceMode"));
    emit_(with_ratio(figure(prefix + ".channels_last.latency_ms", "ms", e[2].wall, true), e_ref,
                     "of contiguous"));
    if (rq_.latency_threads == 1) {
      const double c_ref = summarize(e[0].cpu).median;
      emit_(figure(prefix + ".inference_mode.latency_cpu_ms", "ms of thread CPU time", e[0].cpu,
                   true));
      emit_(with_ratio(figure(prefix + ".no_grad.latency_cpu_ms", "ms of thread CPU time",
                              e[1].cpu, true),
                       c_ref, "of InferenceMode"));
      emit_(with_ratio(figure(prefix + ".channels_last.latency_cpu_ms", "ms of thread CPU time",
                              e[2].cpu, true),
                       c_ref, "of contiguous"));
    }
  }

  // Localisation per scene type against the generator's truth; the locator's cost beside one
  // full-resolution connected-components pass (the seed locator's unit of work) of the same frames.
  void locate() {
    LocalisationOptions o;
    o.preprocess = rq_.config.preprocess;
    o.persons = rq_.locate_persons;
    o.dump_dir = rq_.locate_dump_dir;
    log_(fmt::format("locate: {} persons x {} poses a scene type, tolerance {} mm", o.persons,
                     o.poses, o.tolerance_mm));
    const LocalisationBench b = bench_localisation(o);
    auto pct = [](int k, int n) { return n > 0 ? 100.0 * k / n : kNaN; };
    LocalisationRow total;
    for (const LocalisationRow& r : b.rows) {
      const SampleStats e = summarize(r.errors_mm);
      log_(fmt::format("locate.{}: {} frames, {} with a face: within {} mm {:.2f}%, missed {:.2f}%, "
                       "off the face {:.2f}%, faces on no-face frames {}; error median {:.1f} mm, "
                       "p99 {:.1f} mm; median offset right {:.1f} mm, down {:.1f} mm",
                       r.scene, r.frames, r.faces, o.tolerance_mm, pct(r.within, r.faces),
                       pct(r.missed, r.faces), pct(r.off_face, r.faces), r.false_faces, e.median,
                       e.p99, summarize(r.dx_mm).median, summarize(r.dy_mm).median));
      for (const std::string& why : r.missed_examples) log_(fmt::format("  missed: {}", why));
      if (r.faces > 0) {
        emit_(figure("locate." + r.scene + ".within_pct", "% of faces",
                     {pct(r.within, r.faces)}));
      } else {
        emit_(figure("locate." + r.scene + ".false_faces", "frames", {double(r.false_faces)}));
      }
      total.faces += r.faces;
      total.within += r.within;
      total.missed += r.missed;
      total.off_face += r.off_face;
      total.false_faces += r.false_faces;
    }
    emit_(figure("locate.all.within_pct", "% of faces", {pct(total.within, total.faces)}));
    emit_(figure("locate.all.missed_pct", "% of faces", {pct(total.missed, total.faces)}));
    emit_(figure("locate.all.off_face", "frames", {double(total.off_face)}));
    emit_(figure("locate.all.false_faces", "frames", {double(total.false_faces)}));
    const double ref = summarize(b.reference_cpu_ms).median;
    emit_(with_ratio(figure("locate.locate_head.cpu_ms", "ms of thread CPU time", b.locate_ms.cpu,
                            true),
                     ref, "of one full-resolution connected-components pass"));
    emit_(figure("locate.locate_head.wall_ms", "ms", b.locate_ms.wall, true));
  }

  const BenchRequest& rq_;
  const std::function<void(const BenchFigure&)>& emit_;
  const std::function<void(const std::string&)>& log_;
};

}  // namespace

void run_benchmarks(const BenchRequest& request,
                    const std::function<void(const BenchFigure&)>& emit,
                    const std::function<void(const std::string&)>& log) {
  const std::set<std::string> sections = sections_of(request.what);
  Suite(request, emit, log).run(sections);
}

}  // namespace faceid
