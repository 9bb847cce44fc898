#include "faceid/eval/embed_dataset.hpp"

#include <fmt/format.h>

#include "faceid/data/split.hpp"
#include "faceid/core/error.hpp"

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
                          const LoadProgress& progress, size_t chunk_persons) {
  EmbeddedSet set;
  set.persons = persons;
  if (set.persons.empty()) {
    for (const auto& p : dataset.persons) set.persons.push_back(p.identity);
  }
  size_t total_frames = 0;
  for (const auto& name : set.persons) {
    const Person* p = dataset.find(name);
    if (p == nullptr) throw_bad_input(fmt::format("{}: no person '{}'", dataset.root.string(), name));
    total_frames += p->frames.size();
  }
  std::vector<Embeddings> parts;
  size_t done_frames = 0;
  const size_t chunk = std::max<size_t>(1, chunk_persons);
  for (size_t first = 0; first < set.persons.size(); first += chunk) {
    const std::vector<std::string> names(
        set.persons.begin() + static_cast<std::ptrdiff_t>(first),
        set.persons.begin() + static_cast<std::ptrdiff_t>(std::min(set.persons.size(), first + chunk)));
    LoadProgress chunk_progress;
    if (progress) {
      chunk_progress = [&](size_t done, size_t) { progress(done_frames + done, total_frames); };
    }
    const FrameStore store =
        FrameStore::load(dataset, names, data, embedder.config().preprocess, chunk_progress);
    for (const auto& p : names) done_frames += dataset.find(p)->frames.size();
    std::vector<std::vector<float>> owned;
    const std::vector<const float*> ptrs = crop_pointers(store, owned);
    for (const auto& f : store.frames()) {
      set.frames.push_back(f.ref);
      set.labels.push_back(static_cast<int>(first) + f.person);
    }
    set.skipped.insert(set.skipped.end(), store.skipped().begin(), store.skipped().end());
    parts.push_back(embedder.embed(ptrs));
  }
  set.embeddings = stack_rows(parts, embedder.dimension());
  return set;
}

Embeddings stack_rows(const std::vector<Embeddings>& parts, int dim) {
  Eigen::Index rows = 0;
  for (const auto& p : parts) rows += p.rows();
  Embeddings out(rows, dim);
  Eigen::Index at = 0;
  for (const auto& p : parts) {
    if (p.rows() == 0) continue;
    out.middleRows(at, p.rows()) = p;
    at += p.rows();
  }
  return out;
}

HeldOut held_out_persons(const Embedder& embedder) {
  const Config& c = embedder.config();
  HeldOut out;
  out.dataset = scan_dataset(c.data.root, /*strict=*/true);
  out.persons = split_persons(out.dataset, c.data).val;
  return out;
}

EvalSet resolve_eval_set(const Embedder& embedder, const std::string& data_root) {
  EvalSet set;
  if (!data_root.empty()) {
    set.dataset = scan_dataset(data_root, /*strict=*/true);
    for (const auto& p : set.dataset.persons) set.persons.push_back(p.identity);
    set.description = fmt::format("all {} persons of {}", set.persons.size(), data_root);
  } else {
    std::error_code ec;
    if (!fs::is_directory(embedder.config().data.root, ec)) {
      throw_bad_input(fmt::format(
          "{}: the data set this model was trained on ({}, whose held-out persons are the default "
          "set) is not here: pass --data ROOT",
          embedder.checkpoint().string(), embedder.config().data.root));
    }
    HeldOut h = held_out_persons(embedder);
    set.dataset = std::move(h.dataset);
    set.persons = std::move(h.persons);
    set.description = fmt::format("the checkpoint's {} held-out persons of {}", set.persons.size(),
                                  embedder.config().data.root);
  }
  return set;
}

}  // namespace faceid
