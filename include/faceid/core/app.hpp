// Shared scaffolding for the thin mains in apps/: exit codes and error printing.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace faceid {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;   // internal failure, I/O failure
constexpr int kExitBadInput = 2;  // bad flags, bad files, bad config

// Parses argv with `cli`, then runs `body`. Maps CLI11 parse errors and Errc::bad_input to exit
// code 2, everything else that throws to 1; messages go to stderr prefixed with the app name.
// `--help` prints and returns 0.
int run_app(CLI::App& cli, int argc, char** argv, const std::function<int()>& body);

// Checks that apps make before any work, so that a bad path fails at once instead of after the run
// with part of the output written. Errc::bad_input, naming `flag` and the path.
// An input the app will read: an existing regular file (not a folder). `what`: "checkpoint", ...
// Messages: "PATH: checkpoint not found (--checkpoint)", "PATH: is a folder, expected a
// checkpoint file (--checkpoint)".
void require_input_file(const std::filesystem::path& path, const std::string& flag,
                        const std::string& what);
// A folder the app will write into: created now when missing; refused when it is a file or
// cannot be created (an ancestor is a file, no permission).
void prepare_output_folder(const std::filesystem::path& dir, const std::string& flag);
// A file the app will write: not a folder, and its folder prepared as above.
void prepare_output_file(const std::filesystem::path& file, const std::string& flag);

// The model file shipped with faceid (models/faceid_rgbd_v1.pt of the source tree, or the file
// named by the environment variable FACEID_MODEL): what embed, enroll, evaluate and unlock_sim
// use when no --checkpoint is given.
std::filesystem::path shipped_model_path();
// `checkpoint` when given; otherwise the shipped model, announced on stderr by `app`
// ("embed: no --checkpoint: using the shipped model PATH"). Errc::bad_input when that is missing.
std::filesystem::path checkpoint_or_shipped(const std::string& checkpoint, const std::string& app);

// True when stderr is a terminal (progress bars only then; plain log lines otherwise).
bool stderr_is_tty();

}  // namespace faceid
