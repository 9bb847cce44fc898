// train_pad: fit the liveness (presentation-attack detection) model on bona fide frames and the
// attack frames of synth --attacks (PadNet, a small CNN), calibrate its threshold, save it
// atomically. With --leave-one-out TEST: the unseen-instrument protocol instead (one model per
// held-out instrument or family, evaluated on the identities of TEST), results to --out as JSON.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "faceid/core/app.hpp"
#include "faceid/core/config.hpp"
#include "faceid/core/error.hpp"
#include "faceid/runtime/embedder.hpp"
#include "faceid/io/dataset.hpp"
#include "faceid/core/memory.hpp"
#include "faceid/data/split.hpp"
#include "faceid/eval/pad_eval.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/train/pad_protocol.hpp"
#include "faceid/train/pad_train.hpp"

namespace {

std::string rates(const std::vector<double>& bona, const std::vector<std::pair<faceid::AttackType, std::vector<double>>>& attacks,
                  double threshold) {
  std::string out = fmt::format("BPCER {:.2f}%", 100 * faceid::bpcer(bona, threshold));
  for (const auto& [t, s] : attacks) {
    out += fmt::format(", APCER {} {:.2f}%", faceid::to_string(t), 100 * faceid::apcer(s, threshold));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  faceid::keep_freed_memory_in_heap();
  CLI::App cli{"Train the liveness model (presentation-attack detection): PadNet, a small CNN on the "
               "preprocessed 4-channel face crop, bona fide frames of DATA vs attack frames under "
               "DATA/attacks/<type>/. Persons are split: the fit persons train it, the validation "
               "persons choose the epoch and calibrate the threshold to pad.target_bpcer.", "train_pad"};
  std::string data, out, config_path, checkpoint;
  std::vector<std::string> overrides;
  double validation_fraction = 0.2;
  int threads = 0;
  faceid::PadTrainOptions train;
  cli.add_option("--data", data, "Dataset root with an attacks/ folder (synth --attacks)")->required();
  cli.add_option("--out", out,
                 "Model file to write, e.g. runs/pad.bin (with --leave-one-out: the protocol's JSON results)")
      ->required();
  std::string loo_test, folds = "both";
  cli.add_option("--leave-one-out", loo_test,
                 "Run the unseen-instrument protocol instead: one model per held-out attack instrument (and "
                 "family), each evaluated on the identities of this dataset root (with attacks/)");
  cli.add_option("--folds", folds, "With --leave-one-out: instruments | families | both")
      ->check(CLI::IsMember({"instruments", "families", "both"}))->capture_default_str();
  std::string attack_list = "all";
  cli.add_option("--attack-types", attack_list,
                 "Attack instruments to use (comma-separated names under DATA/attacks/, a family, or all)")
      ->capture_default_str();
  cli.add_flag("--colour-invariance", train.colour_invariance,
               "Also recolour training crops (per-channel gains, grey): features that survive a change of "
               "mask material");
  auto* c = cli.add_option("--checkpoint", checkpoint,
                           "Take preprocess.* and augment.* from this embedding checkpoint (the crops unlock sees)");
  cli.add_option("--config", config_path, "Config for preprocess.*, augment.* and pad.* (default: built-in defaults)")
      ->excludes(c);
  cli.add_option("--set", overrides, "Override: section.key=value (repeatable)");
  cli.add_option("--validation-fraction", validation_fraction,
                 "Fraction of persons kept out of the fit, drawn with data.split_seed (0 = none; "
                 "data.val_persons names them instead)")
      ->check(CLI::Range(0.0, 0.9))->capture_default_str();
  cli.add_option("--epochs", train.epochs, "Training epochs")->check(CLI::Range(1, 1000))->capture_default_str();
  cli.add_option("--batch-size", train.batch_size, "Crops per step, half bona fide, half attacks")
      ->check(CLI::Range(2, 4096))->capture_default_str();
  cli.add_option("--lr", train.lr, "Peak learning rate (Adam, cosine decay)")->check(CLI::PositiveNumber)
      ->capture_default_str();
  cli.add_option("--weight-decay", train.weight_decay, "L2 weight decay")->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cli.add_option("--width", train.width, "Channels of PadNet's first block")->check(CLI::Range(4, 128))
      ->capture_default_str();
  cli.add_option("--seed", train.seed, "Seed of initialisation, sampling and augmentation")->capture_default_str();
  cli.add_option("--threads", threads, "CPU threads (0 = all cores)")->check(CLI::Range(0, 256))
      ->capture_default_str();
  return faceid::run_app(cli, argc, argv, [&] {
    faceid::Config config;
    const bool protocol = !loo_test.empty();
    std::optional<faceid::Embedder> embedder;
    if (protocol) {
      // The protocol matches attacks against enrolled templates: it needs the embedder, whose
      // preprocessing the liveness models must share.
      if (!config_path.empty()) faceid::throw_bad_input("--leave-one-out takes the preprocessing from --checkpoint, not --config");
      checkpoint = faceid::checkpoint_or_shipped(checkpoint, "train_pad").string();
      faceid::require_input_file(checkpoint, "--checkpoint", "checkpoint");
      std::error_code ec;
      if (!std::filesystem::is_directory(loo_test, ec)) {
        faceid::throw_bad_input(fmt::format("{}: not a dataset folder (--leave-one-out)", loo_test));
      }
      faceid::prepare_output_file(out, "--out");
    }
    if (!checkpoint.empty()) {
      embedder.emplace(checkpoint, "cpu", threads);
      const faceid::Config stored = embedder->config();
      config = faceid::parse_config("", "<defaults>", overrides);
      config.preprocess = stored.preprocess;
      config.augment = stored.augment;
    } else {
      config = config_path.empty() ? faceid::parse_config("", "<defaults>", overrides)
                                   : faceid::load_config(config_path, overrides);
    }
    train.target_bpcer = config.pad.target_bpcer;
    train.augment = config.augment;
    train.threads = threads;
    train.log = [](const std::string& line) {
      std::printf("train_pad: %s\n", line.c_str());
      std::fflush(stdout);
    };
    config.data.workers = std::max(1, threads);

    const faceid::Dataset live = faceid::scan_dataset(data);
    std::vector<faceid::AttackType> types;
    for (faceid::AttackType t : faceid::parse_attack_types(attack_list, "--attack-types")) {
      const auto present = faceid::attack_types_in(data);
      if (std::find(present.begin(), present.end(), t) != present.end()) {
        types.push_back(t);
      } else if (attack_list != "all") {
        faceid::throw_bad_input(fmt::format("--attack-types: {} has no {} (make it with synth --attacks)", data,
                                            faceid::attack_dataset_root(data, t).string()));
      }
    }
    if (types.empty()) {
      faceid::throw_bad_input(fmt::format("{}: no attacks/ folder (make one with synth --attacks)", data));
    }
    // The data layer's person split (as train's): data.val_persons when given, else
    // round(fraction * persons) drawn with data.split_seed; a fraction of 0 fits on everyone.
    faceid::Split split;
    if (validation_fraction > 0 || !config.data.val_persons.empty()) {
      faceid::DataConfig split_config = config.data;
      split_config.val_fraction = validation_fraction;
      split = faceid::split_persons(live, split_config);
    } else {
      for (const auto& person : live.persons) split.train.push_back(person.identity);
    }
    const std::vector<std::string>& fit = split.train;
    const std::vector<std::string>& val = split.val;
    if (fit.empty()) faceid::throw_bad_input(fmt::format("{}: no persons left to fit on", data));

    std::vector<faceid::SkippedFrame> skipped;
    auto load = [&](const faceid::Dataset& set, const std::vector<std::string>& persons) {
      return faceid::load_pad_frames(set, persons, config.data, config.preprocess, &skipped);
    };
    const faceid::FrameStore bona_fit = load(live, fit);
    const faceid::FrameStore bona_val = load(live, val);
    std::vector<std::pair<faceid::AttackType, faceid::FrameStore>> attacks_fit, attacks_val;
    for (faceid::AttackType t : types) {
      const faceid::Dataset set = faceid::scan_dataset(faceid::attack_dataset_root(data, t));
      attacks_fit.emplace_back(t, load(set, fit));
      attacks_val.emplace_back(t, load(set, val));
    }
    faceid::PadSamples fit_set{faceid::crops_of(bona_fit), {}}, val_set{faceid::crops_of(bona_val), {}};
    for (const auto& [t, store] : attacks_fit) {
      for (const auto* crop : faceid::crops_of(store)) fit_set.attacks.push_back(crop);
    }
    for (const auto& [t, store] : attacks_val) {
      for (const auto* crop : faceid::crops_of(store)) val_set.attacks.push_back(crop);
    }
    std::printf("train_pad: %zu fit persons (%zu bona fide, %zu attack frames), %zu validation persons "
                "(%zu bona fide, %zu attack frames), %zu frames with no face\n",
                fit.size(), fit_set.bona_fide.size(), fit_set.attacks.size(), val.size(),
                val_set.bona_fide.size(), val_set.attacks.size(), skipped.size());

    if (protocol) {
      faceid::PadCrops fit_crops{fit_set.bona_fide, {}}, val_crops{val_set.bona_fide, {}};
      for (const auto& [t, store] : attacks_fit) fit_crops.attacks.emplace_back(t, faceid::crops_of(store));
      for (const auto& [t, store] : attacks_val) val_crops.attacks.emplace_back(t, faceid::crops_of(store));
      const faceid::Dataset test = faceid::scan_dataset(loo_test);
      std::vector<std::string> test_persons;
      for (const auto& p : test.persons) test_persons.push_back(p.identity);
      for (const auto& p : test_persons) {
        if (live.find(p)) faceid::throw_bad_input(fmt::format("--leave-one-out {}: identity {} is also in --data {}: "
                                                              "the protocol needs held-out identities", loo_test, p, data));
      }
      const double match = embedder->match_threshold();
      if (!std::isfinite(match)) {
        faceid::throw_bad_input(fmt::format("{}: the checkpoint has no match threshold (never validated)", checkpoint));
      }
      faceid::DataConfig test_data = config.data;
      test_data.cache_dir.clear();
      const faceid::PresentationSet test_set = faceid::prepare_presentations(
          *embedder, test, test_persons, test_data, embedder->config().unlock, match, types);
      std::printf("train_pad: leave-one-out on %zu test identities (%zu bona fide attempts), match threshold %.4f\n",
                  test_persons.size(), test_set.bona_fide_rows.size(), match);
      const auto fold_list = faceid::leave_one_out_folds(types, folds != "families", folds != "instruments");
      const auto results = faceid::run_leave_one_out(
          fold_list, fit_crops, val_crops, test_set, config.preprocess, config.pad, train,
          [](const faceid::PadFoldResult& r) {
            std::printf("%s", faceid::format_leave_one_out({r}).c_str());
            std::fflush(stdout);
          });
      std::printf("%s", faceid::format_leave_one_out(results).c_str());
      faceid::write_file_atomic(out, faceid::leave_one_out_json(results));
      std::printf("train_pad: wrote %s\n", out.c_str());
      return faceid::kExitOk;
    }
    const faceid::PadModel model =
        faceid::train_pad_model(fit_set, val_set, config.preprocess, config.pad, train);
    const faceid::LivenessDetector detector(model, config.pad, config.preprocess);
    auto scores = [&](const std::vector<const faceid::FaceCrop*>& crops) {
      std::vector<double> s;
      for (const auto& d : detector.assess(crops)) s.push_back(d.score);
      return s;
    };
    auto by_type = [&](const std::vector<std::pair<faceid::AttackType, faceid::FrameStore>>& sets) {
      std::vector<std::pair<faceid::AttackType, std::vector<double>>> out;
      for (const auto& [t, store] : sets) out.emplace_back(t, scores(faceid::crops_of(store)));
      return out;
    };
    const double th = detector.threshold();
    std::printf("train_pad: PadNet width %d (%lld parameters), threshold %.6f (calibrated on the %s frames: "
                "BPCER <= %.4f, then the middle of the gap to the attack scores below)\n",
                model.width(), static_cast<long long>(model.parameter_count()), model.calibrated_threshold(),
                val_set.bona_fide.size() >= faceid::kPadMinCalibrationFrames ? "validation" : "fit",
                config.pad.target_bpcer);
    std::printf("  fit:         %s\n", rates(scores(fit_set.bona_fide), by_type(attacks_fit), th).c_str());
    if (!val_set.bona_fide.empty()) {
      std::printf("  validation:  %s\n", rates(scores(val_set.bona_fide), by_type(attacks_val), th).c_str());
    }
    model.save(out);
    std::printf("train_pad: wrote %s\n", out.c_str());
    return faceid::kExitOk;
  });
}
