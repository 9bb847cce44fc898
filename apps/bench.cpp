// bench: speed figures of faceid's stages, as medians over repeated runs (a program, not a test).
// Each figure is one line on stdout: "name: median (unit) [p99 X] [ratio R label] [n=K]".
// scripts/bench.sh runs it beside the PyTorch reference; docs/benchmarks.md records the numbers.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "faceid/core/app.hpp"
#include "faceid/bench/bench.hpp"
#include "faceid/core/config.hpp"
#include "faceid/core/memory.hpp"

int main(int argc, char** argv) {
  CLI::App cli{"Benchmark faceid: .dat parsing, frame loading and cache, the training step and "
               "end-to-end training, embedding and unlock latency, sgemm roofline. Prints medians "
               "over --repeat runs.",
               "bench"};
  faceid::BenchRequest rq;
  std::string what = "all";
  std::string config_path;
  std::vector<std::string> overrides;
  std::string variant;
  int input_size = 0;
  int batch_pairs = 0;
  std::string work_dir = rq.work_dir.string();
  cli.add_option("--what", what,
                 "Comma-separated: sgemm,parse,load,step,train,embed,unlock,tune,locate or all")
      ->capture_default_str();
  cli.add_option("--repeat", rq.repeat, "Runs a figure (medians are quoted)")->capture_default_str();
  cli.add_option("--threads", rq.threads, "Intra-op threads of training, step and sgemm")
      ->capture_default_str();
  cli.add_option("--latency-threads", rq.latency_threads,
                 "Threads of embedding and unlock latency")
      ->capture_default_str();
  cli.add_option("--config", config_path, "YAML config to start from (defaults otherwise)");
  cli.add_option("--set", overrides, "Config override section.key=value (repeatable)");
  cli.add_option("--variant", variant, "model.variant (squeezenet1_1 | faceid_beta)");
  cli.add_option("--input-size", input_size, "preprocess.input_size");
  cli.add_option("--batch-pairs", batch_pairs, "train.batch_pairs");
  cli.add_option("--sgemm-size", rq.sgemm_size, "Side of the sgemm matrices")->capture_default_str();
  cli.add_option("--step-steps", rq.step_steps, "step: timed steps a run")->capture_default_str();
  cli.add_option("--train-steps", rq.train_steps, "train: steps an epoch")->capture_default_str();
  cli.add_option("--latency-calls", rq.latency_calls, "embed/unlock: timed calls a run")
      ->capture_default_str();
  cli.add_flag("--channels-last", rq.channels_last, "step/embed: channels-last layout");
  bool heap_malloc = false;
  cli.add_flag("--heap-malloc", heap_malloc,
               "Keep freed memory in the heap (faceid::keep_freed_memory_in_heap) before any work");
  cli.add_option("--work-dir", work_dir, "Synthetic data set, cache and runs")
      ->capture_default_str();
  cli.add_option("--synth-persons", rq.synth_persons, "Bench data set persons")
      ->capture_default_str();
  cli.add_option("--synth-poses", rq.synth_poses, "Bench data set poses a person")
      ->capture_default_str();
  cli.add_option("--locate-persons", rq.locate_persons,
                 "locate: persons (x 17 poses) rendered for each scene type")
      ->capture_default_str();
  std::string locate_dump;
  cli.add_option("--locate-dump", locate_dump,
                 "locate: write a PNG of every missed face, off-face crop and false face here");
  return faceid::run_app(cli, argc, argv, [&] {
    rq.locate_dump_dir = locate_dump;
    if (heap_malloc && !faceid::keep_freed_memory_in_heap()) {
      std::fprintf(stderr, "bench: warning: mallopt refused; the allocator is unchanged\n");
    }
    if (!variant.empty()) overrides.push_back("model.variant=" + variant);
    if (input_size > 0) overrides.push_back("preprocess.input_size=" + std::to_string(input_size));
    if (batch_pairs > 0) overrides.push_back("train.batch_pairs=" + std::to_string(batch_pairs));
    rq.config = config_path.empty() ? faceid::parse_config("", "<defaults>", overrides)
                                    : faceid::load_config(config_path, overrides);
    rq.work_dir = work_dir;
    std::stringstream list(what);
    for (std::string item; std::getline(list, item, ',');) {
      if (!item.empty()) rq.what.push_back(item);
    }
    faceid::run_benchmarks(
        rq,
        [](const faceid::BenchFigure& f) {
          std::printf("%s\n", faceid::format_figure(f).c_str());
          std::fflush(stdout);
        },
        [](const std::string& line) { std::fprintf(stderr, "bench: %s\n", line.c_str()); });
    return faceid::kExitOk;
  });
}
