// Embedding many frames at once: resolve an input path to frames, load + preprocess them through
// the training cache (FrameStore, same single preprocessing path), embed them with a checkpoint.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "faceid/data/frame_store.hpp"
#include "faceid/eval/distances.hpp"
#include "faceid/runtime/embedder.hpp"
#include "faceid/io/dataset.hpp"

namespace faceid {

// An input PATH for embed / enroll: a dataset root, a person folder, or one frame's depth file
// (NNN_K_d.dat|png, colour beside it). Returned as a Dataset (root = the path's dataset root).
// Errc::bad_input naming the path when it is none of these.
Dataset resolve_input(const std::filesystem::path& path);

// Embeddings of a set of frames, row i ↔ frames[i].
struct EmbeddedSet {
  std::vector<std::string> persons;  // identities; labels index this
  std::vector<FrameRef> frames;      // the usable frames, one per embedding row
  std::vector<int> labels;           // person index of each row
  std::vector<SkippedFrame> skipped; // frames with no face, with the reason
  Embeddings embeddings;             // one L2-normalised row per usable frame
};

// Loads the given persons of `dataset` (all when empty) with the checkpoint's preprocessing
// (data.workers loader threads; data.cache_dir as configured) and embeds every usable frame.
// Persons are processed `chunk_persons` at a time, so memory stays bounded by the embeddings
// (20,000 frames x 128 floats = 10 MB) rather than the crops.
EmbeddedSet embed_dataset(const Embedder& embedder, const Dataset& dataset,
                          const std::vector<std::string>& persons, const DataConfig& data,
                          const LoadProgress& progress = {}, size_t chunk_persons = 64);

// The rows of `parts` one after another (all of width `dim`).
Embeddings stack_rows(const std::vector<Embeddings>& parts, int dim);

// The persons a checkpoint held out for validation: its stored config's data.root and split,
// recomputed (the split is deterministic). Errc::bad_input when the root cannot be scanned.
struct HeldOut {
  Dataset dataset;
  std::vector<std::string> persons;
};
HeldOut held_out_persons(const Embedder& embedder);

// The persons evaluate / unlock_sim work on: all persons of `data_root` when given, else the
// checkpoint's held-out persons. `description` says which, for the apps to print.
struct EvalSet {
  Dataset dataset;
  std::vector<std::string> persons;
  std::string description;
};
EvalSet resolve_eval_set(const Embedder& embedder, const std::string& data_root);


}  // namespace faceid
