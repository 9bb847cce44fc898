// libFuzzer target: template store loading (TemplateStore::deserialize, the plaintext bytes
// inside DIR/store.bin), in memory. A store that loads must serialize to bytes that load back to
// the same store (and, in the current format version, to the very bytes it came from).
//
// Input: byte 0 picks the mode. Even: the rest is the whole file. Odd: the rest is the payload,
// wrapped here in a valid header (magic, version, size, checksum), so that mutations reach the
// payload reader instead of stopping at the checksum.
#include <cstddef>
#include <cstdint>
#include <string>

#include "faceid/runtime/template_store.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string bytes =
      (data[0] & 1) != 0
          ? faceid::fuzz::with_header("FACEIDTS", faceid::TemplateStore::kFormatVersion, rest)
          : rest;
  faceid::fuzz::expect_only_faceid_errors([&] {
    const faceid::TemplateStore store = faceid::TemplateStore::deserialize(bytes, "fuzz/store.bin");
    const std::string once = store.serialize();
    const bool current = bytes.size() >= 12 && static_cast<uint8_t>(bytes[8]) ==
                                                   faceid::TemplateStore::kFormatVersion;
    if (current && once != bytes) __builtin_trap();
    if (faceid::TemplateStore::deserialize(once, "round-trip").serialize() != once) __builtin_trap();
    size_t rows = 0;
    for (const auto& user : store.list()) rows += store.get(user).template_count();
    if (store.size() > 0 && rows == 0) __builtin_trap();
  });
  return 0;
}
