// inspect_data: check a dataset folder in the VAP layout and show what the network will see.
// Lists persons and frames, the invalid-depth fraction, frames without a face and EVERY bad file
// (exit 2 when there is one); --preview writes a contact sheet of preprocessed crops.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <map>
#include <regex>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "faceid/core/app.hpp"
#include "faceid/core/config.hpp"
#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/core/worker_pool.hpp"
#include "faceid/io/dataset.hpp"
#include "faceid/io/depth_io.hpp"
#include "faceid/preprocess/preprocess.hpp"

namespace {

constexpr int kPreviewFramesPerPerson = 5;
constexpr int kLabelWidth = 260;  // left column of the contact sheet, holding the identity

struct FrameReport {
  const faceid::FrameRef* ref = nullptr;
  bool preview = false;     // this frame gets a tile on the contact sheet
  std::vector<std::string> errors;  // bad files: the readers' messages (they name the file)
  int64_t valid_pixels = 0;
  int64_t pixels = 0;
  bool face = false;
  std::string no_face_reason;
  cv::Mat tile;             // render_crop_preview, for preview frames with a face
};

// Evenly spread picks of `k` out of `n` frames (all when n <= k).
std::vector<size_t> spread_indices(size_t n, size_t k) {
  std::vector<size_t> out;
  if (n <= k) {
    for (size_t i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  for (size_t i = 0; i < k; ++i) out.push_back(i * (n - 1) / (k - 1));
  return out;
}

// Records a bad file's message, rethrowing anything that is not bad input.
template <class F>
bool try_load(F&& load, std::vector<std::string>& errors) {
  try {
    load();
    return true;
  } catch (const faceid::Error& e) {
    if (e.code() != faceid::Errc::bad_input) throw;
    errors.emplace_back(e.what());
    return false;
  }
}

void inspect_frame(FrameReport& r, const faceid::PreprocessConfig& config) {
  // Depth and colour are read separately (not through load_frame) so that a frame with two bad
  // files reports both.
  faceid::Frame frame;
  frame.ref = *r.ref;
  const bool depth_ok = try_load([&] { frame.depth = faceid::read_depth(r.ref->depth_path); }, r.errors);
  const bool color_ok = try_load([&] { frame.color = faceid::read_color(r.ref->color_path); }, r.errors);
  if (!depth_ok || !color_ok) return;
  r.pixels = static_cast<int64_t>(frame.depth.valid.total());
  r.valid_pixels = cv::countNonZero(frame.depth.valid);
  const faceid::PreprocessResult pre = faceid::preprocess(frame, config);
  r.face = pre.ok;
  r.no_face_reason = pre.no_face_reason;
  if (pre.ok && r.preview) r.tile = faceid::render_crop_preview(pre.crop);
}

std::string percent(int64_t part, int64_t whole) {
  return whole > 0 ? fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / whole) : "-";
}

// One row per person: the identity, then up to kPreviewFramesPerPerson tiles (2S x S each).
cv::Mat contact_sheet(const faceid::Dataset& data, const std::vector<FrameReport>& reports,
                      int size) {
  const int tile_w = 2 * size;
  const int row_h = size + 4;
  const int persons = static_cast<int>(data.persons.size());
  cv::Mat sheet(std::max(1, persons) * row_h, kLabelWidth + kPreviewFramesPerPerson * (tile_w + 4),
                CV_8UC3, cv::Scalar(32, 32, 32));
  const double font_scale = 0.45;
  size_t index = 0;
  for (int p = 0; p < persons; ++p) {
    const faceid::Person& person = data.persons[static_cast<size_t>(p)];
    const int y0 = p * row_h + 2;
    cv::putText(sheet, person.identity, cv::Point(6, y0 + size / 2), cv::FONT_HERSHEY_SIMPLEX,
                font_scale, cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
    cv::putText(sheet, fmt::format("{} frames", person.frames.size()),
                cv::Point(6, y0 + size / 2 + 20), cv::FONT_HERSHEY_SIMPLEX, font_scale,
                cv::Scalar(180, 180, 180), 1, cv::LINE_AA);
    int col = 0;
    for (size_t f = 0; f < person.frames.size(); ++f, ++index) {
      const FrameReport& r = reports[index];
      if (!r.preview) continue;
      const cv::Rect cell(kLabelWidth + col * (tile_w + 4), y0, tile_w, size);
      ++col;
      if (!r.tile.empty()) {
        r.tile.copyTo(sheet(cell));
      } else {
        sheet(cell).setTo(cv::Scalar(64, 64, 64));
        cv::putText(sheet, r.errors.empty() ? "no face" : "bad file",
                    cv::Point(cell.x + 8, cell.y + size / 2), cv::FONT_HERSHEY_SIMPLEX, font_scale,
                    cv::Scalar(0, 0, 255), 1, cv::LINE_AA);
      }
      cv::putText(sheet, fmt::format("{:03d}_{}", r.ref->pose, r.ref->repetition),
                  cv::Point(cell.x + 4, cell.y + size - 6), cv::FONT_HERSHEY_SIMPLEX, 0.4,
                  cv::Scalar(0, 255, 255), 1, cv::LINE_AA);
    }
  }
  return sheet;
}

int run(const std::string& root, const std::string& preview, const std::string& config_path,
        int threads) {
  faceid::PreprocessConfig config;
  if (!config_path.empty()) config = faceid::load_config(config_path).preprocess;
  if (!preview.empty() && std::filesystem::path(preview).extension() != ".png") {
    faceid::throw_bad_input(fmt::format("--preview: expected a .png path, got '{}'", preview));
  }
  if (threads <= 0) threads = std::min(faceid::resolve_threads(0), 4);

  const faceid::Dataset data = faceid::scan_dataset(root, /*strict=*/false);
  std::vector<FrameReport> reports;
  reports.reserve(data.frame_count());
  for (const auto& person : data.persons) {
    const auto picks = spread_indices(person.frames.size(), kPreviewFramesPerPerson);
    for (size_t i = 0; i < person.frames.size(); ++i) {
      FrameReport r;
      r.ref = &person.frames[i];
      r.preview = !preview.empty() && std::find(picks.begin(), picks.end(), i) != picks.end();
      reports.push_back(std::move(r));
    }
  }
  // Rethrows the first unexpected failure (bad files are recorded in the reports).
  faceid::parallel_for(reports.size(), threads,
                       [&](size_t i) { inspect_frame(reports[i], config); });

  std::printf("dataset: %s\n", root.c_str());
  std::printf("%-32s %7s %14s %8s %10s\n", "person", "frames", "invalid_depth", "no_face",
              "bad_files");
  int64_t all_valid = 0, all_pixels = 0;
  size_t no_face = 0, index = 0;
  for (const auto& person : data.persons) {
    int64_t valid = 0, pixels = 0;
    size_t person_no_face = 0, person_errors = 0;
    for (const auto& issue : data.issues) {
      person_errors += issue.file.parent_path().filename() == person.identity ? 1 : 0;
    }
    for (size_t f = 0; f < person.frames.size(); ++f, ++index) {
      const FrameReport& r = reports[index];
      valid += r.valid_pixels;
      pixels += r.pixels;
      person_errors += r.errors.size();
      person_no_face += r.errors.empty() && !r.face ? 1 : 0;
    }
    std::printf("%-32s %7zu %14s %8zu %10zu\n", person.identity.c_str(), person.frames.size(),
                percent(pixels - valid, pixels).c_str(), person_no_face, person_errors);
    all_valid += valid;
    all_pixels += pixels;
    no_face += person_no_face;
  }
  std::printf("total: %zu persons, %zu frames\n", data.persons.size(), data.frame_count());
  std::printf("invalid depth: %s of loaded pixels\n", percent(all_pixels - all_valid, all_pixels).c_str());
  std::printf("no face found: %zu frames (%s)\n", no_face,
              percent(static_cast<int64_t>(no_face), static_cast<int64_t>(reports.size())).c_str());
  // The reasons, grouped with their numbers blanked ("at N mm, N mm wide, wider than a head").
  std::map<std::string, size_t> reasons;
  const std::regex number("[0-9]+(\\.[0-9]+)?");
  for (const auto& r : reports) {
    if (r.errors.empty() && !r.face) ++reasons[std::regex_replace(r.no_face_reason, number, "N")];
  }
  std::vector<std::pair<size_t, std::string>> by_count;
  for (const auto& [why, n] : reasons) by_count.emplace_back(n, why);
  std::sort(by_count.rbegin(), by_count.rend());
  for (const auto& [n, why] : by_count) std::printf("  %zu x %s\n", n, why.c_str());
  for (const auto& r : reports) {
    if (r.errors.empty() && !r.face) {
      std::printf("  %s: %s\n", r.ref->depth_path.string().c_str(), r.no_face_reason.c_str());
    }
  }
  size_t bad = data.issues.size();
  for (const auto& r : reports) bad += r.errors.size();
  std::printf("bad files: %zu\n", bad);
  for (const auto& issue : data.issues) std::printf("  %s\n", issue.message.c_str());
  for (const auto& r : reports) {
    for (const auto& e : r.errors) std::printf("  %s\n", e.c_str());
  }

  if (!preview.empty()) {
    const cv::Mat sheet = contact_sheet(data, reports, config.input_size);
    std::vector<uchar> png;
    if (!cv::imencode(".png", sheet, png)) faceid::throw_internal("cannot encode the preview PNG");
    faceid::write_file_atomic(preview,
                              std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
    std::printf("preview: %s\n", preview.c_str());
  }
  std::fflush(stdout);
  if (bad > 0) std::fprintf(stderr, "inspect_data: %zu bad file(s) under %s\n", bad, root.c_str());
  return bad == 0 ? faceid::kExitOk : faceid::kExitBadInput;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Check a dataset folder in the VAP RGB-D layout: persons, frames, invalid depth, "
               "frames without a face and every bad file (exit 2 if any).",
               "inspect_data"};
  std::string root;
  std::string preview;
  std::string config_path;
  int threads = 0;
  cli.add_option("--root", root, "Dataset root: one folder per person")->required();
  cli.add_option("--preview", preview,
                 "Write a contact sheet PNG of preprocessed crops (a few frames per person)");
  cli.add_option("--preprocess-config", config_path,
                 "YAML config whose preprocess section is used (default: built-in defaults)");
  cli.add_option("--threads", threads, "Loader threads (0 = up to 4)")->check(CLI::NonNegativeNumber);
  return faceid::run_app(cli, argc, argv, [&] { return run(root, preview, config_path, threads); });
}
