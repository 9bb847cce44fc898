// faceid's one exception type. Expected outcomes (no face found, unlock refused) are return
// values, never exceptions; Error is for bad input, failed I/O and broken invariants.
#pragma once

#include <stdexcept>
#include <string>

namespace faceid {

enum class Errc {
  bad_input,  // the user's file, flag or config is wrong: apps exit 2
  io,         // the system failed us (disk full, permission): apps exit 1
  internal,   // a bug or an unexpected library failure: apps exit 1
};

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Errc code() const noexcept { return code_; }

 private:
  Errc code_;
};

// Shorthands: throw bad_input("config.yaml: train.lr: expected > 0, got -1").
[[noreturn]] inline void throw_bad_input(const std::string& message) {
  throw Error(Errc::bad_input, message);
}
[[noreturn]] inline void throw_io(const std::string& message) { throw Error(Errc::io, message); }
[[noreturn]] inline void throw_internal(const std::string& message) {
  throw Error(Errc::internal, message);
}

}  // namespace faceid
