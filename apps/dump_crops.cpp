// dump_crops: the training persons' preprocessed crops, loaded exactly as train loads them
// (scan, person-disjoint split, FrameStore with the disk cache), as DIR/crops.npy + labels.csv for
// the PyTorch reference (scripts/reference/pytorch_reference.py --crops DIR).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "faceid/core/app.hpp"
#include "faceid/bench/bench.hpp"
#include "faceid/core/config.hpp"
#include "faceid/data/frame_store.hpp"
#include "faceid/data/split.hpp"
#include "faceid/io/dataset.hpp"

int main(int argc, char** argv) {
  CLI::App cli{"Write the training persons' preprocessed crops as DIR/crops.npy (N x 4 x S x S "
               "float32) and DIR/labels.csv, for the PyTorch reference.",
               "dump_crops"};
  std::string config_path;
  std::vector<std::string> overrides;
  std::string out;
  cli.add_option("--config", config_path, "YAML config (data.*, preprocess.*); defaults otherwise");
  cli.add_option("--set", overrides, "Config override section.key=value (repeatable)");
  cli.add_option("--out", out, "Folder to write crops.npy and labels.csv into")->required();
  return faceid::run_app(cli, argc, argv, [&] {
    const faceid::Config config = config_path.empty()
                                      ? faceid::parse_config("", "<defaults>", overrides)
                                      : faceid::load_config(config_path, overrides);
    const faceid::Dataset dataset = faceid::scan_dataset(config.data.root, /*strict=*/true);
    const faceid::Split split = faceid::split_persons(dataset, config.data);
    const faceid::FrameStore store =
        faceid::FrameStore::load(dataset, split.train, config.data, config.preprocess);
    faceid::dump_crops(store, out);
    std::fprintf(stderr, "dump_crops: %zu crops of %d px from %zu training persons -> %s\n",
                 store.size(), store.crop_size(), split.train.size(), out.c_str());
    return faceid::kExitOk;
  });
}
