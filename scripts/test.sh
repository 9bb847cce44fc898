#!/usr/bin/env bash
# Installs dependencies, builds everything and runs the whole test suite through CTest.
#   scripts/test.sh               the normal suite
#   scripts/test.sh --sanitize    the same under AddressSanitizer + UBSan (build-asan/), leak
#                                 detection on; tests/lsan.supp lists the third-party leaks
#                                 suppressed (docs/reliability.md)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitize" ]; then
  export BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo
  export CMAKE_ARGS="-DFACEID_SANITIZE=address,undefined ${CMAKE_ARGS:-}"
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
scripts/setup_deps.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" --timeout 1200
