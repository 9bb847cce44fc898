// embed: embeddings of a dataset root, a person folder or one frame, as CSV or .npy.
#include <CLI/CLI.hpp>
#include <cstdio>

#include <fmt/format.h>
#include <map>

#include "faceid/core/app.hpp"
#include "faceid/core/error.hpp"
#include "faceid/eval/embed_dataset.hpp"
#include "faceid/eval/embedding_io.hpp"
#include "faceid/core/memory.hpp"

int main(int argc, char** argv) {
  // Activations are reused from the heap instead of mmap'ed afresh each step (faceid/core/memory.hpp).
  faceid::keep_freed_memory_in_heap();
  CLI::App cli{"Embed RGB-D frames with a trained checkpoint.", "embed"};
  std::string checkpoint, input, out = "embeddings.csv", device = "auto";
  int batch = 64, threads = 0;
  cli.add_option("--checkpoint", checkpoint,
                 "Checkpoint (runs/NAME/best.pt; default: the shipped model, models/faceid_rgbd_v1.pt)");
  cli.add_option("--input", input, "Dataset root, person folder, or one depth file NNN_K_d.dat")
      ->required();
  cli.add_option("--out", out, "Output FILE.csv or FILE.npy (+ FILE.labels.csv)")->capture_default_str();
  cli.add_option("--batch", batch, "Frames per forward pass")->capture_default_str()->check(CLI::Range(1, 4096));
  cli.add_option("--device", device, "auto | cpu | cuda[:N]")->capture_default_str();
  cli.add_option("--threads", threads, "CPU threads (0 = all cores)")->capture_default_str();
  return faceid::run_app(cli, argc, argv, [&] {
    const std::filesystem::path out_path(out);
    const std::string ext = out_path.extension().string();
    if (ext != ".csv" && ext != ".npy") {
      faceid::throw_bad_input(fmt::format("--out {}: expected a .csv or .npy file", out));
    }
    // Every path is checked before the first frame is embedded.
    checkpoint = faceid::checkpoint_or_shipped(checkpoint, "embed").string();
    faceid::require_input_file(checkpoint, "--checkpoint", "checkpoint");
    faceid::prepare_output_file(out_path, "--out");
    const faceid::Dataset dataset = faceid::resolve_input(input);
    faceid::Embedder embedder(checkpoint, device, threads);
    faceid::DataConfig data = embedder.config().data;
    data.cache_dir.clear();  // inference input is not the training set: no cache writes beside it
    data.max_frames_per_person = 0;
    const faceid::EmbeddedSet set = faceid::embed_dataset(embedder, dataset, {}, data);

    // One row per input frame, in dataset order; no-face frames carry their reason.
    std::map<std::string, int> row_of;
    for (size_t i = 0; i < set.frames.size(); ++i) {
      row_of[set.frames[i].depth_path.string()] = static_cast<int>(i);
    }
    std::map<std::string, std::string> reason_of;
    for (const auto& s : set.skipped) reason_of[s.ref.depth_path.string()] = s.reason;
    std::vector<faceid::EmbeddingRow> rows;
    size_t no_face = 0;
    for (const auto& person : dataset.persons) {
      for (const auto& ref : person.frames) {
        faceid::EmbeddingRow r;
        r.ref = ref;
        const auto it = row_of.find(ref.depth_path.string());
        if (it != row_of.end()) {
          r.row = it->second;
          r.status = "ok";
        } else {
          r.status = "no face: " + reason_of[ref.depth_path.string()];
          ++no_face;
        }
        rows.push_back(std::move(r));
      }
    }
    if (ext == ".npy") {
      const auto sidecar = faceid::write_embeddings_npy(out_path, rows, set.embeddings);
      std::printf("wrote %s (%lld x %lld float32) and %s\n", out.c_str(),
                  static_cast<long long>(set.embeddings.rows()),
                  static_cast<long long>(set.embeddings.cols()), sidecar.c_str());
    } else {
      faceid::write_embeddings_csv(out_path, rows, set.embeddings);
      std::printf("wrote %s (%zu frames, %lld dimensions)\n", out.c_str(), rows.size(),
                  static_cast<long long>(set.embeddings.cols()));
    }
    if (no_face > 0) std::fprintf(stderr, "embed: %zu frame(s) with no face (listed with reasons)\n", no_face);
    return faceid::kExitOk;
  });
}
