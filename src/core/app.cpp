#include "faceid/app.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "faceid/error.hpp"

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

bool stderr_is_tty() { return ::isatty(STDERR_FILENO) != 0; }

}  // namespace faceid
