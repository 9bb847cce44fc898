// libFuzzer target: YAML config loading (parse_config) and "section.key=value" overrides
// (apply_override), in memory. A config that loads must survive to_yaml -> parse_config.
//
// Input: the YAML text. When it holds a line "#--set ", every later line is also applied as an
// override.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "faceid/core/config.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string yaml = input;
  std::vector<std::string> overrides;
  const auto marker = input.find("#--set \n");
  if (marker != std::string::npos) {
    yaml = input.substr(0, marker);
    size_t at = marker + 8;
    while (at <= input.size()) {
      const auto nl = input.find('\n', at);
      overrides.push_back(input.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
      if (nl == std::string::npos) break;
      at = nl + 1;
    }
  }
  faceid::fuzz::expect_only_faceid_errors([&] {
    const faceid::Config config = faceid::parse_config(yaml, "fuzz.yaml", overrides);
    // What loads must write out and load back to the same YAML.
    const std::string once = faceid::to_yaml(config);
    if (faceid::to_yaml(faceid::parse_config(once, "round-trip.yaml")) != once) __builtin_trap();
  });
  faceid::fuzz::expect_only_faceid_errors([&] {
    faceid::Config config;
    faceid::apply_override(config, input);
  });
  return 0;
}
