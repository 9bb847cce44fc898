// Embedding many frames at once: resolve an input path to frames, load + preprocess them through
// the training cache (FrameStore, same single preprocessing path), embed them with a checkpoint.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "faceid/data/frame_store.hpp"
#include "faceid/eval/distances.hpp"
#include "faceid/infer/embedder.hpp"
#include "faceid/io/dataset.hpp"

namespace faceid {

// An input PATH for embed / enroll: a dataset root, a person folder, or one frame's depth file
// (NNN_K_d.dat|png, colour beside it). Returned as a Dataset (root = the path's dataset root).
// Errc::bad_input naming the path when it is none of these.
Dataset resolve_input(const std::filesystem::path& path);

// Embeddings of a set of frames, row i ↔ store.frame(i).
struct EmbeddedSet {
  FrameStore store;        // the frames, their persons and the skipped (no-face) frames
  Embeddings embeddings;   // one L2-normalised row per usable frame
  std::vector<int> labels; // person index of each row (store.persons())
};

// Loads the given persons of `dataset` (all when empty) with the checkpoint's preprocessing
// (`workers` loader threads; on-disk cache as configured in `data`) and embeds every usable frame.
EmbeddedSet embed_dataset(const Embedder& embedder, const Dataset& dataset,
                          const std::vector<std::string>& persons, const DataConfig& data,
                          const LoadProgress& progress = {});

// The persons a checkpoint held out for validation: its stored config's data.root and split,
// recomputed (the split is deterministic). Errc::bad_input when the root cannot be scanned.
struct HeldOut {
  Dataset dataset;
  std::vector<std::string> persons;
};
HeldOut held_out_persons(const Embedder& embedder);

// The newest run folder under `runs_dir` holding best.pt (by best.pt's modification time).
// Errc::bad_input when there is none.
std::filesystem::path latest_best_checkpoint(const std::filesystem::path& runs_dir);

}  // namespace faceid
