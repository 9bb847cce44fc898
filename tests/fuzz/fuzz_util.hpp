// Shared helpers of the libFuzzer targets (tests/fuzz/*.cpp, built with FACEID_FUZZ=ON).
//
// Contract of every target: faceid::Error is the correct answer to bad bytes and is swallowed;
// anything else that escapes (a std::exception from a library that was not turned into a
// faceid::Error, a crash, a leak, undefined behaviour) is a finding and ends the run.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "faceid/core/error.hpp"

namespace faceid::fuzz {

// Runs `body`; an expected faceid::Error is the right outcome and ends the input quietly.
template <typename Body>
void expect_only_faceid_errors(Body&& body) {
  try {
    body();
  } catch (const faceid::Error&) {
  }
}

// A private scratch folder of this fuzzing process (removed at exit): functions that take a path
// read what the target writes here.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                       "/faceid-fuzz-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return std::filesystem::path(tmpl);
  }();
  return dir;
}

// Writes `bytes` to `path` (plain write: the file is scratch, re-written every run).
inline void write_bytes(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) std::abort();
}

// FNV-1a 64, the checksum of the checkpoint and template-store headers: targets use it to wrap
// fuzzed payloads in a valid header, so that mutations reach the payload parsers instead of
// stopping at the checksum.
inline uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

inline void put_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// magic (8 bytes) + u32 version + u64 payload size + u64 FNV-1a 64 of the payload + payload.
inline std::string with_header(const char* magic, uint32_t version, std::string_view payload) {
  std::string out(magic, 8);
  put_le(out, version, 4);
  put_le(out, payload.size(), 8);
  put_le(out, fnv1a64(payload), 8);
  out.append(payload);
  return out;
}

}  // namespace faceid::fuzz
