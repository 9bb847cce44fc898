// Scanning a VAP-layout dataset folder (one folder per person, NNN_K_{c,d}.ext files).
#include "faceid/io/dataset.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <system_error>

#include <fmt/format.h>

#include "faceid/core/error.hpp"
#include "faceid/io/depth_io.hpp"

namespace fs = std::filesystem;

namespace faceid {
namespace {

constexpr int kMaxIndexDigits = 6;  // NNN and K: at most this many digits

bool is_hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

std::string to_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Extensions that mark a file as meant to be a frame: badly named ones are reported.
bool looks_like_frame_file(const fs::path& p) {
  const std::string ext = to_lower(p.extension().string());
  return ext == ".dat" || ext == ".bmp" || ext == ".png";
}

// Parses a run of digits at s[pos..] up to `stop`; advances pos past the digits.
bool parse_index(const std::string& s, size_t& pos, char stop, int& value) {
  const size_t start = pos;
  int v = 0;
  while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])) != 0) {
    v = v * 10 + (s[pos] - '0');
    ++pos;
  }
  const size_t digits = pos - start;
  if (digits == 0 || digits > kMaxIndexDigits || pos >= s.size() || s[pos] != stop) return false;
  ++pos;
  value = v;
  return true;
}

// Sorted, non-hidden entries of a folder; throws bad_input naming it when it cannot be listed.
std::vector<fs::directory_entry> list_folder(const fs::path& folder) {
  std::vector<fs::directory_entry> entries;
  std::error_code ec;
  fs::directory_iterator it(folder, ec);
  if (ec) throw_bad_input(fmt::format("{}: cannot list folder: {}", folder.string(), ec.message()));
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!is_hidden(it->path())) entries.push_back(*it);
  }
  if (ec) throw_bad_input(fmt::format("{}: cannot list folder: {}", folder.string(), ec.message()));
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.path().filename() < b.path().filename(); });
  return entries;
}

// Records an issue, or throws it when there is no list to collect it into (strict mode).
void report(std::vector<DatasetIssue>* issues, const fs::path& file, const std::string& message) {
  if (issues == nullptr) throw_bad_input(message);
  issues->push_back(DatasetIssue{file, message});
}

// "001_1_c.bmp or 001_1_c.png": the partner names that would complete a frame.
std::string partner_names(const std::string& prefix, char kind) {
  return kind == 'c' ? fmt::format("{}_c.bmp or {}_c.png", prefix, prefix)
                     : fmt::format("{}_d.dat or {}_d.png", prefix, prefix);
}

// The "NNN_K" prefix of a frame file name.
std::string frame_prefix(const std::string& filename) {
  return filename.substr(0, filename.rfind('_'));
}

}  // namespace

size_t Dataset::frame_count() const {
  size_t n = 0;
  for (const auto& p : persons) n += p.frames.size();
  return n;
}

const Person* Dataset::find(const std::string& identity) const {
  const auto it = std::find_if(persons.begin(), persons.end(),
                               [&identity](const Person& p) { return p.identity == identity; });
  return it != persons.end() ? &*it : nullptr;
}

bool parse_frame_name(const std::string& filename, int& pose, int& repetition, char& kind,
                      std::string& ext) {
  size_t pos = 0;
  int nnn = 0;
  int k = 0;
  if (!parse_index(filename, pos, '_', nnn) || !parse_index(filename, pos, '_', k)) return false;
  if (pos + 1 >= filename.size() || filename[pos + 1] != '.') return false;
  const char kd = filename[pos];
  const std::string e = to_lower(filename.substr(pos + 2));
  const bool ok = (kd == 'c' && (e == "bmp" || e == "png")) || (kd == 'd' && (e == "dat" || e == "png"));
  if (!ok) return false;
  pose = nnn;
  repetition = k;
  kind = kd;
  ext = e;
  return true;
}

Person scan_person(const fs::path& folder, std::vector<DatasetIssue>* issues) {
  struct Slot {
    std::string prefix;  // "NNN_K" as spelled in the file names
    fs::path color;
    fs::path depth;
  };
  Person person;
  person.identity = folder.filename().string();
  std::map<std::pair<int, int>, Slot> slots;  // (pose, repetition) -> files
  for (const auto& entry : list_folder(folder)) {
    std::error_code ec;
    if (!entry.is_regular_file(ec)) continue;  // sub-folders and specials are not frames
    const fs::path& path = entry.path();
    const std::string name = path.filename().string();
    int pose = 0;
    int rep = 0;
    char kind = 0;
    std::string ext;
    if (!parse_frame_name(name, pose, rep, kind, ext)) {
      if (looks_like_frame_file(path)) {
        report(issues, path,
               fmt::format("{}: badly named frame file (expected NNN_K_c.bmp|png or "
                           "NNN_K_d.dat|png)",
                           path.string()));
      }
      continue;
    }
    Slot& slot = slots[{pose, rep}];
    if (slot.prefix.empty()) slot.prefix = frame_prefix(name);
    fs::path& target = kind == 'c' ? slot.color : slot.depth;
    if (!target.empty()) {
      // Two files for one frame (e.g. 001_1_c.bmp and 001_1_c.png): keep the VAP original
      // (.bmp colour, .dat depth), which sorts first among .bmp/.png and .dat/.png.
      const bool keep_new = (kind == 'c' && ext == "bmp") || (kind == 'd' && ext == "dat");
      const fs::path& dropped = keep_new ? target : path;
      report(issues, dropped,
             fmt::format("{}: duplicate {} file for pose {} repetition {} (using {})",
                         dropped.string(), kind == 'c' ? "colour" : "depth", pose, rep,
                         (keep_new ? path : target).filename().string()));
      if (keep_new) target = path;
      continue;
    }
    target = path;
  }
  for (auto& [key, slot] : slots) {
    if (slot.color.empty()) {
      report(issues, slot.depth,
             fmt::format("{}: colour file missing for depth file (expected {})",
                         slot.depth.string(), partner_names(slot.prefix, 'c')));
      continue;
    }
    if (slot.depth.empty()) {
      report(issues, slot.color,
             fmt::format("{}: depth file missing for colour file (expected {})",
                         slot.color.string(), partner_names(slot.prefix, 'd')));
      continue;
    }
    FrameRef ref;
    ref.identity = person.identity;
    ref.pose = key.first;
    ref.repetition = key.second;
    ref.depth_path = std::move(slot.depth);
    ref.color_path = std::move(slot.color);
    person.frames.push_back(std::move(ref));
  }
  if (slots.empty()) {  // incomplete frames were reported above
    report(issues, folder, fmt::format("{}: person folder has no frames", folder.string()));
  }
  return person;
}

Dataset scan_dataset(const fs::path& root, bool strict) {
  std::error_code ec;
  const auto status = fs::status(root, ec);
  if (ec || !fs::exists(status)) {
    throw_bad_input(fmt::format("{}: dataset root does not exist", root.string()));
  }
  if (!fs::is_directory(status)) {
    throw_bad_input(fmt::format("{}: dataset root is not a directory", root.string()));
  }
  Dataset data;
  data.root = root;
  bool holds_frame_files = false;
  std::vector<fs::path> folders;
  for (const auto& entry : list_folder(root)) {
    if (entry.is_directory(ec)) {
      // Attack frames and bursts, not persons.
      if (entry.path().filename() == kAttackFolderName || entry.path().filename() == kBurstFolderName) continue;
      folders.push_back(entry.path());
    } else {
      int pose = 0;
      int rep = 0;
      char kind = 0;
      std::string ext;
      holds_frame_files |= parse_frame_name(entry.path().filename().string(), pose, rep, kind, ext);
    }
  }
  if (folders.empty()) {
    throw_bad_input(fmt::format(
        "{}: dataset root has no person folders{}", root.string(),
        holds_frame_files ? " (it holds frame files: pass the folder above the person folders)"
                          : ""));
  }
  std::vector<DatasetIssue>* issues = strict ? nullptr : &data.issues;
  for (const auto& folder : folders) {
    Person person = scan_person(folder, issues);
    if (!person.frames.empty()) data.persons.push_back(std::move(person));
  }
  std::sort(data.persons.begin(), data.persons.end(),
            [](const Person& a, const Person& b) { return a.identity < b.identity; });
  return data;
}

FrameRef frame_ref_from_depth_path(const fs::path& depth_path) {
  const std::string name = depth_path.filename().string();
  FrameRef ref;
  char kind = 0;
  std::string ext;
  if (!parse_frame_name(name, ref.pose, ref.repetition, kind, ext) || kind != 'd') {
    throw_bad_input(fmt::format("{}: not a depth file name (expected NNN_K_d.dat or NNN_K_d.png)",
                                depth_path.string()));
  }
  std::error_code ec;
  if (!fs::is_regular_file(depth_path, ec)) {
    throw_bad_input(fmt::format("{}: depth file does not exist", depth_path.string()));
  }
  const std::string prefix = frame_prefix(name);
  const fs::path folder = depth_path.parent_path();
  for (const char* e : {"_c.bmp", "_c.png"}) {
    const fs::path candidate = folder / (prefix + e);
    if (fs::is_regular_file(candidate, ec)) {
      ref.color_path = candidate;
      break;
    }
  }
  if (ref.color_path.empty()) {
    throw_bad_input(fmt::format("{}: colour file missing for depth file (expected {})",
                                depth_path.string(), partner_names(prefix, 'c')));
  }
  ref.depth_path = depth_path;
  ref.identity = fs::absolute(depth_path).lexically_normal().parent_path().filename().string();
  return ref;
}

Frame load_frame(const FrameRef& ref) {
  Frame frame;
  frame.ref = ref;
  frame.depth = read_depth(ref.depth_path);
  frame.color = read_color(ref.color_path, frame.depth.mm.size());
  return frame;
}

}  // namespace faceid
