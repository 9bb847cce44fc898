#include "faceid/infer/embed_dataset.hpp"

#include <fmt/format.h>

#include "faceid/data/split.hpp"
#include "faceid/error.hpp"
#include "infer/embed_batch.hpp"

namespace faceid {
namespace fs = std::filesystem;

Dataset resolve_input(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw_bad_input(fmt::format("{}: no such file or folder", path.string()));
  if (fs::is_regular_file(path, ec)) {
    int pose = 0, rep = 0;
    char kind = 0;
    std::string ext;
    if (!parse_frame_name(path.filename().string(), pose, rep, kind, ext) || kind != 'd') {
      throw_bad_input(fmt::format(
          "{}: expected a depth file named NNN_K_d.dat or NNN_K_d.png (a frame), a person folder "
          "or a dataset root", path.string()));
    }
    Dataset ds;
    ds.root = path.parent_path().parent_path();
    Person p;
    p.frames.push_back(frame_ref_from_depth_path(path));
    p.identity = p.frames.front().identity;
    ds.persons.push_back(std::move(p));
    return ds;
  }
  // A folder: a person folder holds frame files directly; a root holds person folders.
  bool has_frames = false;
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    int pose = 0, rep = 0;
    char kind = 0;
    std::string ext;
    if (entry.is_regular_file() &&
        parse_frame_name(entry.path().filename().string(), pose, rep, kind, ext)) {
      has_frames = true;
      break;
    }
  }
  if (ec) throw_bad_input(fmt::format("{}: cannot list folder: {}", path.string(), ec.message()));
  if (has_frames) {
    Dataset ds;
    ds.root = path.parent_path();
    ds.persons.push_back(scan_person(path, nullptr));
    if (ds.persons.front().frames.empty()) {
      throw_bad_input(fmt::format("{}: person folder without complete frames", path.string()));
    }
    return ds;
  }
  return scan_dataset(path, /*strict=*/true);
}

EmbeddedSet embed_dataset(const Embedder& embedder, const Dataset& dataset,
                          const std::vector<std::string>& persons, const DataConfig& data,
                          const LoadProgress& progress) {
  std::vector<std::string> names = persons;
  if (names.empty()) {
    for (const auto& p : dataset.persons) names.push_back(p.identity);
  }
  EmbeddedSet set;
  set.store = FrameStore::load(dataset, names, data, embedder.config().preprocess, progress);
  std::vector<std::vector<float>> owned;
  const std::vector<const float*> ptrs = crop_pointers(set.store, owned);
  for (const auto& f : set.store.frames()) set.labels.push_back(f.person);
  set.embeddings = embedder.embed(ptrs);
  return set;
}

HeldOut held_out_persons(const Embedder& embedder) {
  const Config& c = embedder.config();
  HeldOut out;
  out.dataset = scan_dataset(c.data.root, /*strict=*/true);
  out.persons = split_persons(out.dataset, c.data).val;
  return out;
}

fs::path latest_best_checkpoint(const fs::path& runs_dir) {
  std::error_code ec;
  fs::path best;
  fs::file_time_type newest{};
  if (fs::is_directory(runs_dir, ec)) {
    for (const auto& entry : fs::directory_iterator(runs_dir, ec)) {
      const fs::path candidate = entry.path() / "best.pt";
      if (!fs::is_regular_file(candidate, ec)) continue;
      const auto t = fs::last_write_time(candidate, ec);
      if (best.empty() || t > newest) {
        best = candidate;
        newest = t;
      }
    }
  }
  if (best.empty()) {
    throw_bad_input(fmt::format(
        "{}: no run with best.pt found; train first (train --config configs/synthetic.yaml) or "
        "pass --checkpoint", runs_dir.string()));
  }
  return best;
}

}  // namespace faceid
