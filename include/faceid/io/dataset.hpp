// Scanning a dataset folder in the VAP RGB-D Face Database layout, and loading frames.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "faceid/io/frame.hpp"

namespace faceid {

struct Person {
  std::string identity;          // folder name, e.g. "(2012-05-16)(154211)"
  std::vector<FrameRef> frames;  // sorted by (pose, repetition)
};

struct DatasetIssue {
  std::filesystem::path file;
  std::string message;  // full message, naming the file (and line/column where it applies)
};

struct Dataset {
  std::filesystem::path root;
  std::vector<Person> persons;       // sorted by identity
  std::vector<DatasetIssue> issues;  // problems found while scanning (lenient mode only)
  size_t frame_count() const;
  const Person* find(const std::string& identity) const;
};

// The folder of presentation-attack frames in a dataset root (synth --attacks writes
// ROOT/attacks/<type>/<targeted identity>/...): never a person, scan_dataset skips it.
constexpr const char* kAttackFolderName = "attacks";
// Bursts of frames (one unlock attempt each) under ROOT/bursts/ (faceid/io/attacks.hpp); not a person.
constexpr const char* kBurstFolderName = "bursts";

// Scans ROOT: one folder per person (any name; hidden entries and the attacks folder ignored),
// files NNN_K_c.bmp|png and NNN_K_d.dat|png. A depth file without its colour file (or the
// reverse), a badly named file and an empty person folder are issues. strict = true throws Errc::bad_input on the first issue;
// strict = false collects them all in Dataset::issues and keeps the good frames. A missing or
// empty root always throws.
Dataset scan_dataset(const std::filesystem::path& root, bool strict = true);

// Scans one person folder (identity = folder name), with the same rules.
Person scan_person(const std::filesystem::path& folder, std::vector<DatasetIssue>* issues = nullptr);

// The FrameRef of one frame given its depth file; the colour file must lie beside it.
// Identity = parent folder name. Throws Errc::bad_input naming the missing file.
FrameRef frame_ref_from_depth_path(const std::filesystem::path& depth_path);

// Loads colour + depth. Throws Errc::bad_input naming the file (and line/column) on bad data.
Frame load_frame(const FrameRef& ref);

// Parses "NNN_K_d.dat" style names; false when the name does not match.
bool parse_frame_name(const std::string& filename, int& pose, int& repetition, char& kind,
                      std::string& ext);

}  // namespace faceid
