#!/usr/bin/env bash
# Configures and builds faceid (Release) into build/. Extra arguments are build targets.
#   scripts/build.sh                 everything (library, apps, tests)
#   scripts/build.sh train embed     only these targets
# Environment: BUILD_DIR (default build), BUILD_TYPE (default Release), CMAKE_ARGS (extra).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
generator=()
if command -v ninja >/dev/null 2>&1 && [ ! -f "$build_dir/Makefile" ]; then generator=(-G Ninja); fi
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_BASEDIR=$PWD
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
# Room for both the normal and the sanitizer build (build-asan/, ~2x the objects).
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-15G}
# shellcheck disable=SC2086
cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" \
  ${CMAKE_ARGS:-} >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j"$(nproc)" "${targets[@]}"
