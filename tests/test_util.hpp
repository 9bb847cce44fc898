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

}  // namespace faceid::test
