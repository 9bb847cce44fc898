// The synthetic generator's face ground truth files (NNN_K_truth.yaml).
#include "faceid/io/face_truth.hpp"

#include <cmath>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/io/dataset.hpp"

namespace faceid {

namespace {

namespace fs = std::filesystem;

const char* const kKnownDistractors[] = {"lean",         "shadow",     "hand", "chair",
                                         "second_person", "off_centre", "empty"};

// fmt's "{}" prints the shortest text that reads back as the same float: files round-trip.
std::string floats(std::initializer_list<float> values) {
  std::string s = "[";
  for (float v : values) s += fmt::format("{}{}", s.size() > 1 ? ", " : "", v);
  return s + "]";
}

[[noreturn]] void bad(const fs::path& path, const std::string& key, const std::string& what) {
  throw_bad_input(fmt::format("{}: {}: {}", path.string(), key, what));
}

std::vector<float> read_floats(const fs::path& path, const YAML::Node& root, const char* key, size_t n) {
  const YAML::Node node = root[key];
  if (!node) bad(path, key, "missing");
  if (!node.IsSequence() || node.size() != n) bad(path, key, fmt::format("expected a list of {} numbers", n));
  std::vector<float> out;
  for (size_t i = 0; i < n; ++i) {
    float v = 0;
    try {
      v = node[i].as<float>();
    } catch (const YAML::Exception&) {
      bad(path, key, fmt::format("item {}: expected a number, got '{}'", i + 1, node[i].Scalar()));
    }
    if (!std::isfinite(v)) bad(path, key, fmt::format("item {}: expected a finite number", i + 1));
    out.push_back(v);
  }
  return out;
}

}  // namespace

void write_face_truth(const fs::path& path, const FaceTruth& t) {
  std::string names;
  for (const auto& d : t.distractors) names += (names.empty() ? "" : ", ") + d;
  const std::string text = fmt::format(
      "# faceid synth ground truth (docs/synth.md): depth pixels in edge coordinates, mm in\n"
      "# depth-camera coordinates (X right, Y down, Z forward)\n"
      "has_face: {}\n"
      "face_center_px: {}\n"
      "face_center_mm: {}\n"
      "head_box_px: {}\n"
      "head_z_mm: {}\n"
      "distractors: [{}]\n",
      t.has_face ? "true" : "false", floats({t.face_center_px.x, t.face_center_px.y}),
      floats({t.face_center_mm.x, t.face_center_mm.y, t.face_center_mm.z}),
      floats({t.head_box_px.x, t.head_box_px.y, t.head_box_px.width, t.head_box_px.height}),
      t.head_z_mm, names);
  write_file_atomic(path, text);
}

FaceTruth read_face_truth(const fs::path& path) {
  const std::string text = read_file(path);  // bad_input naming the path when unreadable
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw_bad_input(fmt::format("{}: line {}: not YAML: {}", path.string(), e.mark.line + 1, e.msg));
  }
  if (!root.IsMap()) throw_bad_input(fmt::format("{}: expected a map of keys (has_face, ...)", path.string()));
  const std::set<std::string> known = {"has_face", "face_center_px", "face_center_mm",
                                       "head_box_px", "head_z_mm", "distractors"};
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    if (known.count(key) == 0) bad(path, key, "unknown key");
  }
  FaceTruth t;
  if (!root["has_face"]) bad(path, "has_face", "missing");
  try {
    t.has_face = root["has_face"].as<bool>();
  } catch (const YAML::Exception&) {
    bad(path, "has_face", fmt::format("expected true or false, got '{}'", root["has_face"].Scalar()));
  }
  const auto px = read_floats(path, root, "face_center_px", 2);
  t.face_center_px = {px[0], px[1]};
  const auto mm = read_floats(path, root, "face_center_mm", 3);
  t.face_center_mm = {mm[0], mm[1], mm[2]};
  const auto box = read_floats(path, root, "head_box_px", 4);
  if (box[2] < 0 || box[3] < 0) bad(path, "head_box_px", "expected width and height >= 0");
  t.head_box_px = {box[0], box[1], box[2], box[3]};
  const YAML::Node z = root["head_z_mm"];
  if (!z) bad(path, "head_z_mm", "missing");
  try {
    t.head_z_mm = z.as<float>();
  } catch (const YAML::Exception&) {
    bad(path, "head_z_mm", fmt::format("expected a number, got '{}'", z.Scalar()));
  }
  if (!std::isfinite(t.head_z_mm)) bad(path, "head_z_mm", "expected a finite number");
  const YAML::Node d = root["distractors"];
  if (!d) bad(path, "distractors", "missing");
  if (!d.IsSequence()) bad(path, "distractors", "expected a list of names");
  for (const auto& item : d) {
    const std::string name = item.IsScalar() ? item.Scalar() : std::string();
    bool ok = false;
    for (const char* k : kKnownDistractors) ok |= name == k;
    if (!ok) bad(path, "distractors", fmt::format("unknown distractor '{}'", name));
    t.distractors.push_back(name);
  }
  if (t.has_face && mm[2] <= 0) bad(path, "face_center_mm", "expected Z > 0 when has_face is true");
  return t;
}

fs::path face_truth_path(const fs::path& frame_path) {
  const std::string name = frame_path.filename().string();
  int pose = 0, repetition = 0;
  char kind = 0;
  std::string ext;
  if (!parse_frame_name(name, pose, repetition, kind, ext)) {
    throw_bad_input(fmt::format("{}: not a frame file name (expected NNN_K_c.bmp|png or NNN_K_d.dat|png)",
                                frame_path.string()));
  }
  return frame_path.parent_path() / (name.substr(0, name.rfind('_')) + "_truth.yaml");
}

}  // namespace faceid
