#include "faceid/core/app.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <system_error>

#include <fmt/format.h>

#include "faceid/core/error.hpp"

namespace faceid {

int run_app(CLI::App& cli, int argc, char** argv, const std::function<int()>& body) {
  const std::string name = cli.get_name().empty() ? "faceid" : cli.get_name();
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e) == 0 ? kExitOk : kExitBadInput;
  } catch (const CLI::CallForAllHelp& e) {
    return cli.exit(e) == 0 ? kExitOk : kExitBadInput;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), e.what());
    std::fprintf(stderr, "Run with --help for usage.\n");
    return kExitBadInput;
  }
  try {
    return body();
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", name.c_str(), e.what());
    return e.code() == Errc::bad_input ? kExitBadInput : kExitFailure;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", name.c_str(), e.what());
    return kExitFailure;
  }
}

void require_input_file(const std::filesystem::path& path, const std::string& flag,
                        const std::string& what) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    throw_bad_input(fmt::format("{}: {} not found ({})", path.string(), what, flag));
  }
  if (std::filesystem::is_directory(status)) {
    throw_bad_input(
        fmt::format("{}: is a folder, expected a {} file ({})", path.string(), what, flag));
  }
  if (!std::filesystem::is_regular_file(status)) {
    throw_bad_input(fmt::format("{}: not a regular file, expected a {} file ({})", path.string(),
                                what, flag));
  }
}

void prepare_output_folder(const std::filesystem::path& dir, const std::string& flag) {
  if (dir.empty()) return;
  std::error_code ec;
  // The nearest existing ancestor must be a folder (create_directories' message for a file in the
  // way is "Not a directory" without saying which).
  for (auto p = dir; !p.empty(); p = p.parent_path()) {
    const auto status = std::filesystem::status(p, ec);
    if (std::filesystem::exists(status)) {
      if (!std::filesystem::is_directory(status)) {
        throw_bad_input(fmt::format("{} {}: {} is a file, not a folder", flag, dir.string(),
                                    p.string()));
      }
      break;
    }
    if (p == p.parent_path()) break;
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw_bad_input(fmt::format("{} {}: cannot create the folder: {}", flag, dir.string(),
                                ec.message()));
  }
}

void prepare_output_file(const std::filesystem::path& file, const std::string& flag) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    throw_bad_input(fmt::format("{} {}: is a folder, expected a file name", flag, file.string()));
  }
  const auto parent = file.parent_path();
  if (!parent.empty()) prepare_output_folder(parent, flag + " " + file.string() + ": folder");
}

bool stderr_is_tty() { return ::isatty(STDERR_FILENO) != 0; }

}  // namespace faceid
