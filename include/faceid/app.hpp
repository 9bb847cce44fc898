// Shared scaffolding for the thin mains in apps/: exit codes and error printing.
#pragma once

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

// True when stderr is a terminal (progress bars only then; plain log lines otherwise).
bool stderr_is_tty();

}  // namespace faceid
