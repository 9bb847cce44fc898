#!/usr/bin/env bash
# Installs dependencies, builds everything and runs the whole test suite through CTest.
#   scripts/test.sh               the normal suite, on Debian's LibTorch 1.13 (CPU)
#   scripts/test.sh --torch=pip   the same suite on the pinned PyPI LibTorch 2.x with CUDA
#                                 (.venv-torch/, build-torch2/); on its CPU unless a GPU is there
#   scripts/test.sh --sanitize    the same under AddressSanitizer + UBSan (build-asan/), leak
#                                 detection on; tests/lsan.supp lists the third-party leaks
#                                 suppressed (docs/reliability.md)
set -euo pipefail
cd "$(dirname "$0")/.."
deps=()
case "${1:-}" in
  --sanitize)
    export BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo
    export CMAKE_ARGS="-DFACEID_SANITIZE=address,undefined ${CMAKE_ARGS:-}"
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    ;;
  --torch=pip)
    deps=(--torch=pip)
    export BUILD_DIR=${BUILD_DIR:-build-torch2}
    ;;
  "") ;;
  *) echo "test.sh: unknown option '$1' (use --torch=pip or --sanitize)" >&2; exit 2 ;;
esac
scripts/setup_deps.sh "${deps[@]}"
if [ ${#deps[@]} -gt 0 ]; then
  export CMAKE_ARGS="-DCMAKE_PREFIX_PATH=$(scripts/torch_prefix.sh) ${CMAKE_ARGS:-}"
fi
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" --timeout 1200
