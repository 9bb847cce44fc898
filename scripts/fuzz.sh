#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan, into build-fuzz/) and runs
# them, each until 1M executions or the time limit, whichever comes first.
#   scripts/fuzz.sh                  every target, 600 s each at most
#   scripts/fuzz.sh depth_dat 60     one target (a tests/fuzz/<name>.cpp), 60 s at most
#   scripts/fuzz.sh all 120          every target, 120 s each at most
#   scripts/fuzz.sh --tests          instead: the unit tests of the fuzzed parts (io, config, model,
#                                    checkpoint, template store) under the same clang ASan + UBSan
# Environment: FUZZ_RUNS (default 1000000), FUZZ_RSS_MB (default 4096), FUZZ_JOBS (build -j,
# default 2). Seeds: tests/fuzz/corpus/<name>/ (committed); the growing corpus lives in
# build-fuzz/corpus/<name>/ and crashing inputs in build-fuzz/artifacts/<name>/.
# Exit status: 0 when every target ran clean, 1 when one found a crash, leak or UB.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_deps.sh --fuzz
build_dir=build-fuzz
which=${1:-all}
seconds=${2:-600}
runs=${FUZZ_RUNS:-1000000}

generator=()
if command -v ninja >/dev/null 2>&1 && [ ! -f "$build_dir/Makefile" ]; then generator=(-G Ninja); fi
configure() {
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ -DFACEID_FUZZ=ON -DFACEID_BUILD_TESTS=OFF -DCCACHE_PROGRAM=OFF \
    >/dev/null
}
# Leaks are findings; tests/lsan.supp lists the third-party leak suppressed, with its evidence.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1

if [ "$which" = --tests ]; then
  configure
  cmake --build "$build_dir" -j"${FUZZ_JOBS:-2}" --target fuzzed_parts_tests
  exec "$build_dir/bin/fuzzed_parts_tests" "${@:2}"
fi

targets=()
for src in tests/fuzz/*.cpp; do
  name=$(basename "$src" .cpp)
  if [ "$which" = all ] || [ "$which" = "$name" ]; then targets+=("$name"); fi
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no target '$which' (have: $(basename -s .cpp tests/fuzz/*.cpp | tr '\n' ' '))" >&2
  exit 2
fi

configure
build_targets=()
for t in "${targets[@]}"; do build_targets+=(--target "fuzz_$t"); done
cmake --build "$build_dir" -j"${FUZZ_JOBS:-2}" "${build_targets[@]}"

status=0
summary=()
for t in "${targets[@]}"; do
  corpus="$build_dir/corpus/$t"
  artifacts="$build_dir/artifacts/$t/"
  mkdir -p "$corpus" "$artifacts"
  log="$build_dir/fuzz-$t.log"
  extra=()
  if [ "$t" = checkpoint ]; then
    # Whole checkpoints are megabytes: build them once from the committed structured seeds.
    built="$build_dir/corpus/checkpoint-built"
    if [ ! -d "$built" ]; then
      mkdir -p "$built"
      FACEID_FUZZ_DUMP_SEEDS="$built" "$build_dir/bin/fuzz_checkpoint" \
        tests/fuzz/corpus/checkpoint/structured_* >"$build_dir/fuzz-checkpoint-seeds.log" 2>&1 ||
        echo "checkpoint: building the seeds failed, see $build_dir/fuzz-checkpoint-seeds.log"
    fi
    extra=("$built")
  fi
  start=$(date +%s)
  rc=0
  "$build_dir/bin/fuzz_$t" "$corpus" "tests/fuzz/corpus/$t" "${extra[@]}" -runs="$runs" \
    -max_total_time="$seconds" -rss_limit_mb="${FUZZ_RSS_MB:-4096}" -timeout=60 -detect_leaks=1 \
    -artifact_prefix="$artifacts" -print_final_stats=1 -close_fd_mask=1 >"$log" 2>&1 || rc=$?
  secs=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  if [ "$rc" -eq 0 ]; then result=clean; else
    result="FOUND (exit $rc): $(grep -m1 -E '^==[0-9]+==ERROR|runtime error|terminate called|ERROR: libFuzzer' "$log" || true)"
    status=1
  fi
  line="$t: ${execs:-?} executions in ${secs} s, $result"
  echo "$line"
  summary+=("$line")
done
echo "---- fuzz summary (logs in $build_dir/fuzz-<target>.log)"
printf '%s\n' "${summary[@]}"
exit $status
