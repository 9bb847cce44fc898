#!/usr/bin/env bash
# The consumer test (CTest "install: ..."): installs the build into a scratch prefix, then
# configures, builds and runs tests/consumer/ against it with find_package(faceid).
#   tests/consumer/run.sh BUILD_DIR SOURCE_DIR "PREFIX_PATH"
set -euo pipefail
build=$1 src=$2 prefix_path=${3:-}
prefix=$build/test-scratch/consumer-install
out=$build/test-scratch/consumer-build
rm -rf "$prefix" "$out"
cmake --install "$build" --prefix "$prefix" >/dev/null
for app in train embed enroll unlock_sim; do
  [ -x "$prefix/bin/faceid-$app" ] || { echo "not installed: bin/faceid-$app" >&2; exit 1; }
done
[ -f "$prefix/include/faceid/core/config.hpp" ] || { echo "headers not installed" >&2; exit 1; }
[ ! -e "$prefix/bin/train" ] || { echo "bin/train installed without the faceid- prefix" >&2; exit 1; }
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S "$src/tests/consumer" -B "$out" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix;$prefix_path" >"$out.log" 2>&1 || { cat "$out.log" >&2; exit 1; }
cmake --build "$out" >>"$out.log" 2>&1 || { tail -n 40 "$out.log" >&2; exit 1; }
"$out/consumer"
"$prefix/bin/faceid-config" --help >/dev/null
