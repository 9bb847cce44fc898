// faceid_config: check a config file, print it resolved, or print the key reference.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "faceid/core/app.hpp"
#include "faceid/core/config.hpp"

int main(int argc, char** argv) {
  CLI::App cli{"Validate a faceid config and print it resolved (every key), or the key reference.",
               "faceid_config"};
  std::string path;
  std::vector<std::string> overrides;
  bool markdown = false;
  cli.add_option("--config", path, "YAML config to validate and print");
  cli.add_option("--set", overrides, "Override: section.key=value (repeatable)");
  cli.add_flag("--markdown", markdown, "Print the Markdown reference of every key");
  return faceid::run_app(cli, argc, argv, [&] {
    if (markdown) {
      std::fputs(faceid::config_reference_markdown().c_str(), stdout);
      return faceid::kExitOk;
    }
    const faceid::Config config =
        path.empty() ? faceid::parse_config("", "<defaults>", overrides)
                     : faceid::load_config(path, overrides);
    std::fputs(faceid::to_yaml(config).c_str(), stdout);
    return faceid::kExitOk;
  });
}
