// Helpers shared by the test files.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <string>

#include "faceid/core/error.hpp"

namespace faceid::test {

// Runs `fn`, which must throw faceid::Error with Errc::bad_input; returns its message.
inline std::string bad_input_message(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    CHECK(e.code() == Errc::bad_input);
    return e.what();
  }
  FAIL("expected faceid::Error");
  return {};
}

// A template store's plaintext (TemplateStore::serialize) rewritten as an older format version:
// `version` in the header, the last `dropped` bytes (the fields that version lacks) removed,
// the payload size and FNV-1a hash fixed up.
inline std::string as_store_version(std::string plain, char version, size_t dropped) {
  plain.resize(plain.size() - dropped);
  plain[8] = version;
  const std::string payload = plain.substr(28);
  for (int k = 0; k < 8; ++k) plain[12 + k] = static_cast<char>((payload.size() >> (8 * k)) & 0xff);
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : payload) h = (h ^ c) * 0x100000001b3ull;
  for (int k = 0; k < 8; ++k) plain[20 + k] = static_cast<char>((h >> (8 * k)) & 0xff);
  return plain;
}

}  // namespace faceid::test
