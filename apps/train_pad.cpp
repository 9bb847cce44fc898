// train_pad: fit the liveness (presentation-attack detection) model on bona fide frames and the
// attack frames of synth --attacks, calibrate its threshold, save it atomically.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "faceid/app.hpp"
#include "faceid/config.hpp"
#include "faceid/error.hpp"
#include "faceid/infer/embedder.hpp"
#include "faceid/io/dataset.hpp"
#include "faceid/pad/pad_eval.hpp"

int main(int argc, char** argv) {
  CLI::App cli{"Train the liveness model (presentation-attack detection): logistic regression on "
               "depth-geometry, depth-histogram and colour features of the preprocessed face crop, "
               "bona fide frames of DATA vs attack frames under DATA/attacks/<type>/. Persons are "
               "split: the fit persons train it, the validation persons are only measured; the "
               "threshold is set on all bona fide frames to pad.target_bpcer.", "train_pad"};
  std::string data, out, config_path, checkpoint;
  std::vector<std::string> overrides;
  double validation_fraction = 0.2;
  int threads = 2;
  faceid::PadTrainOptions train;
  cli.add_option("--data", data, "Dataset root with an attacks/ folder (synth --attacks)")->required();
  cli.add_option("--out", out, "Model file to write (YAML), e.g. runs/pad.yaml")->required();
  auto* c = cli.add_option("--checkpoint", checkpoint,
                           "Take the preprocessing from this embedding checkpoint (the crops unlock sees)");
  cli.add_option("--config", config_path, "Config for preprocess.* and pad.* (default: built-in defaults)")
      ->excludes(c);
  cli.add_option("--set", overrides, "Override: section.key=value (repeatable)");
  cli.add_option("--validation-fraction", validation_fraction,
                 "Fraction of persons kept out of the fit and measured on their own")
      ->check(CLI::Range(0.0, 0.9))->capture_default_str();
  cli.add_option("--iterations", train.iterations, "Most Newton steps")->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cli.add_option("--l2", train.l2, "Weight decay")->check(CLI::NonNegativeNumber)->capture_default_str();
  cli.add_option("--threads", threads, "Loader threads")->check(CLI::Range(1, 256))->capture_default_str();
  return faceid::run_app(cli, argc, argv, [&] {
    faceid::Config config;
    if (!checkpoint.empty()) {
      const faceid::Embedder embedder(checkpoint, "cpu", 1);
      const faceid::Config stored = embedder.config();
      config = faceid::parse_config("", "<defaults>", overrides);
      config.preprocess = stored.preprocess;
    } else {
      config = config_path.empty() ? faceid::parse_config("", "<defaults>", overrides)
                                   : faceid::load_config(config_path, overrides);
    }
    train.target_bpcer = config.pad.target_bpcer;
    config.data.workers = threads;

    const faceid::Dataset live = faceid::scan_dataset(data);
    const std::vector<faceid::AttackType> types = faceid::attack_types_in(data);
    if (types.empty()) {
      faceid::throw_bad_input(fmt::format("{}: no attacks/ folder (make one with synth --attacks)", data));
    }
    // Every k-th person (sorted) validates; the rest fit.
    std::vector<std::string> fit, val;
    const size_t k = validation_fraction > 0 ? static_cast<size_t>(std::lround(1.0 / validation_fraction)) : 0;
    for (size_t i = 0; i < live.persons.size(); ++i) {
      (k > 0 && i % k == k - 1 ? val : fit).push_back(live.persons[i].identity);
    }
    if (fit.empty()) faceid::throw_bad_input(fmt::format("{}: no persons left to fit on", data));

    std::vector<faceid::SkippedFrame> skipped;
    const auto bona = faceid::load_pad_features(live, fit, config.data, config.preprocess, &skipped);
    const auto bona_val = faceid::load_pad_features(live, val, config.data, config.preprocess, &skipped);
    std::vector<faceid::PadFeatures> attacks;
    std::vector<std::pair<faceid::AttackType, std::vector<faceid::PadFeatures>>> attacks_val;
    for (faceid::AttackType t : types) {
      const faceid::Dataset set = faceid::scan_dataset(faceid::attack_dataset_root(data, t));
      const auto f = faceid::load_pad_features(set, fit, config.data, config.preprocess, &skipped);
      attacks.insert(attacks.end(), f.begin(), f.end());
      attacks_val.emplace_back(t, faceid::load_pad_features(set, val, config.data, config.preprocess, &skipped));
    }
    std::printf("train_pad: %zu fit persons (%zu bona fide, %zu attack frames), %zu validation persons "
                "(%zu bona fide frames), %zu frames with no face\n",
                fit.size(), bona.size(), attacks.size(), val.size(), bona_val.size(), skipped.size());

    const faceid::PadModel model =
        faceid::PadModel::train(bona, attacks, bona_val, config.preprocess, config.pad, train);
    const faceid::LivenessDetector detector(model, config.pad, config.preprocess);
    auto scores = [&](const std::vector<faceid::PadFeatures>& fs) {
      std::vector<double> s;
      for (const auto& f : fs) s.push_back(detector.score(f));
      return s;
    };
    const double th = detector.threshold();
    std::printf("train_pad: threshold %.6f (BPCER <= %.4f on all bona fide frames)\n", model.calibrated_threshold(),
                config.pad.target_bpcer);
    std::printf("  fit:         BPCER %.2f%%, APCER (all attacks) %.2f%%\n", 100 * faceid::bpcer(scores(bona), th),
                100 * faceid::apcer(scores(attacks), th));
    std::printf("  validation:  BPCER %.2f%%", 100 * faceid::bpcer(scores(bona_val), th));
    for (const auto& [t, fs] : attacks_val) {
      std::printf(", APCER %s %.2f%%", faceid::to_string(t), 100 * faceid::apcer(scores(fs), th));
    }
    std::printf("\n");
    model.save(out);
    std::printf("train_pad: wrote %s\n", out.c_str());
    return faceid::kExitOk;
  });
}
