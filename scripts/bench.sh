#!/usr/bin/env bash
# Runs apps/bench and the PyTorch-Python reference (scripts/reference/pytorch_reference.py) side
# by side, on the same config and the same preprocessed crops, and prints the C++/Python ratios.
# C++ and Python runs alternate (C++, Python, C++, Python, ...) so that the load of a shared
# machine falls on both alike; every figure is a median over REPEAT runs.
#
#   scripts/bench.sh            everything: C++-only figures, then per model config training end
#                               to end, the step alone, embedding latency, unlock latency
#   scripts/bench.sh --quick    squeezenet1_1 at 128 only, REPEAT=2, STEPS=4
#   scripts/bench.sh --tune     the tuning comparisons: OpenBLAS openmp vs pthread (per process,
#                               through LD_LIBRARY_PATH), glibc malloc default vs heap-only
#                               (--heap-malloc), then bench --what tune (threads, channels-last,
#                               InferenceMode vs NoGradGuard)
#
# C++ runs twice where it matters: as train runs today (glibc's default allocator) and with
# --heap-malloc (faceid::keep_freed_memory_in_heap); both are compared with the same Python runs.
#
# Environment: REPEAT (3) runs a figure; THREADS (2) intra-op threads of training and sgemm;
# STEPS (8) training steps an epoch; BATCH (32) pairs a batch; WORK (/tmp/faceid_bench) data set,
# cache, crops and runs; CONFIGS ("squeezenet1_1:128 squeezenet1_1:200 faceid_beta:128
# faceid_beta:200"). The full run takes about an hour on 2 busy cores.
set -euo pipefail
cd "$(dirname "$0")/.."

REPEAT=${REPEAT:-3}
THREADS=${THREADS:-2}
STEPS=${STEPS:-8}
BATCH=${BATCH:-32}
WORK=${WORK:-/tmp/faceid_bench}
CONFIGS=${CONFIGS:-"squeezenet1_1:128 squeezenet1_1:200 faceid_beta:128 faceid_beta:200"}
MODE=full
case "${1:-}" in
  --quick) REPEAT=2; STEPS=4; CONFIGS="squeezenet1_1:128" ;;
  --tune) MODE=tune ;;
  "") ;;
  *) echo "bench.sh: unknown option '$1' (use --quick or --tune)" >&2; exit 2 ;;
esac

scripts/setup_deps.sh --bench
scripts/build.sh bench dump_crops >/dev/null

BENCH=build/bin/bench
DUMP=build/bin/dump_crops
PY=/usr/bin/python3  # Debian's interpreter: python3-torch is the same libtorch as the C++ build
REF=scripts/reference/pytorch_reference.py
mkdir -p "$WORK"
LOG="$WORK/bench-$(date -u +%Y%m%d-%H%M%S).log"
# The data set and split both sides use (6 persons x 8 poses; 2 persons held out).
COMMON=(--threads "$THREADS" --work-dir "$WORK" --batch-pairs "$BATCH" --set data.val_fraction=0.34)
DATA="$WORK/synth-6x1x8"

say() { echo "$*" | tee -a "$LOG" >&2; }
# value NAME_REGEX < output: the median printed on the figure line whose name matches.
value() { sed -nE "s/^($1): ([0-9.e+-]+) \\(.*/\\2/p" | head -n 1; }
result() { sed -nE "s/^RESULT $1=([0-9.e+-]+)$/\\1/p" | head -n 1; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }
ROWS=()
row() { ROWS+=("$(printf '%-52s %12s %12s %8s' "$1" "$2" "$3" "$4")"); say "${ROWS[-1]}"; }

say "faceid bench $(date -u +%FT%TZ) · $(nproc) cores · $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
say "load average: $(cut -d' ' -f1-3 /proc/loadavg) · BLAS: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"

LIBDIR=/usr/lib/x86_64-linux-gnu
if [ "$MODE" = tune ]; then
  say "== tuning (repeat $REPEAT, interleaved)"
  for blas in openmp pthread; do
    [ -e "$LIBDIR/openblas-$blas/libblas.so.3" ] || {
      echo "bench.sh: --tune needs libopenblas0-openmp and libopenblas0-pthread" >&2; exit 1; }
  done
  declare -A sg st em
  for r in $(seq "$REPEAT"); do
    for blas in openmp pthread; do
      out=$(LD_LIBRARY_PATH="$LIBDIR/openblas-$blas" "$BENCH" --what sgemm,step,embed --repeat 1 \
        --step-steps 2 --latency-calls 30 "${COMMON[@]}" 2>>"$LOG")
      echo "[$blas] $out" >>"$LOG"
      sg[$blas]+=" $(echo "$out" | value "sgemm\\.[^ ]*")"
      st[$blas]+=" $(echo "$out" | value "step\\.[^ ]*\\.pairs_per_s")"
      em[$blas]+=" $(echo "$out" | value "embed\\.[^ ]*\\.latency_ms")"
    done
    for alloc in default heap; do
      flag=(); [ "$alloc" = heap ] && flag=(--heap-malloc)
      out=$("$BENCH" --what step,embed --repeat 1 --step-steps 2 --latency-calls 30 "${flag[@]}" \
        "${COMMON[@]}" 2>>"$LOG")
      echo "[$alloc malloc] $out" >>"$LOG"
      st[$alloc]+=" $(echo "$out" | value "step\\.[^ ]*\\.pairs_per_s")"
      em[$alloc]+=" $(echo "$out" | value "embed\\.[^ ]*\\.latency_ms")"
    done
  done
  for k in openmp pthread default heap; do
    [ -n "${sg[$k]:-}" ] && row "sgemm GFLOP/s [$k]" "$(median ${sg[$k]})" "-" "-"
    row "step pairs/s [$k]" "$(median ${st[$k]})" "-" "-"
    row "embed p50 ms [$k]" "$(median ${em[$k]})" "-" "-"
  done
  row "pthread/openmp sgemm" "$(ratio "$(median ${sg[pthread]})" "$(median ${sg[openmp]})")" "-" "-"
  row "pthread/openmp step" "$(ratio "$(median ${st[pthread]})" "$(median ${st[openmp]})")" "-" "-"
  row "pthread/openmp embed ms" "$(ratio "$(median ${em[pthread]})" "$(median ${em[openmp]})")" "-" "-"
  row "heap/default step" "$(ratio "$(median ${st[heap]})" "$(median ${st[default]})")" "-" "-"
  row "heap/default embed ms" "$(ratio "$(median ${em[heap]})" "$(median ${em[default]})")" "-" "-"
  "$BENCH" --what tune --repeat "$REPEAT" --step-steps 2 --latency-calls 30 "${COMMON[@]}" \
    2>>"$LOG" | tee -a "$LOG"
  say "log: $LOG"
  exit 0
fi

# 1. Figures without a Python counterpart.
say "== C++ only: sgemm, parse, load (repeat $REPEAT)"
"$BENCH" --what sgemm,parse,load --repeat "$REPEAT" "${COMMON[@]}" 2>>"$LOG" | tee -a "$LOG"

# 2. Per model config, C++ (default allocator, heap allocator) and Python interleaved.
for cfg in $CONFIGS; do
  variant=${cfg%%:*}
  size=${cfg##*:}
  tag="$variant@$size"
  model=(--variant "$variant" --input-size "$size")
  crops="$WORK/crops-$size"
  say "== $tag: train end to end ($STEPS steps an epoch, 1 warm-up epoch), step, embed, unlock"
  cpp_train=(); heap_train=(); py_train=(); cpp_wait=(); heap_wait=(); py_wait=(); rss=()
  cpp_step=(); heap_step=(); py_step=(); cpp_embed=(); py_embed=(); py_embed_ng=(); roof=()
  for r in $(seq "$REPEAT"); do
    for alloc in default heap; do
      flag=(); [ "$alloc" = heap ] && flag=(--heap-malloc)
      out=$("$BENCH" --what train --repeat 1 --train-steps "$STEPS" "${flag[@]}" "${model[@]}" \
        "${COMMON[@]}" 2>>"$LOG")
      echo "[$alloc malloc] $out" >>"$LOG"
      pps=$(echo "$out" | value "train\\.[^ ]*\\.pairs_per_s")
      wait=$(echo "$out" | value "train\\.[^ ]*\\.data_wait_fraction")
      if [ "$alloc" = heap ]; then heap_train+=("$pps"); heap_wait+=("$wait")
      else
        cpp_train+=("$pps"); cpp_wait+=("$wait")
        rss+=("$(echo "$out" | value "train\\.[^ ]*\\.peak_rss_mib")")
        roof+=("$(echo "$out" | sed -nE 's/^train\.[^ ]*\.gflops: .* ratio ([0-9.e+-]+) .*/\1/p')")
      fi
    done
    if [ "$r" = 1 ]; then  # the same crops, loaded as train loads them
      "$DUMP" --set data.root="$DATA" --set data.cache_dir="$WORK/cache" \
        --set data.val_fraction=0.34 --set preprocess.input_size="$size" --out "$crops" 2>>"$LOG"
    fi
    out=$("$PY" "$REF" --mode train --crops "$crops" "${model[@]}" --batch-pairs "$BATCH" \
      --steps "$STEPS" --epochs 2 --threads "$THREADS" --workers 2 2>>"$LOG")
    echo "[python] $out" >>"$LOG"
    py_train+=("$(echo "$out" | result train_pairs_per_s)")
    py_wait+=("$(echo "$out" | result train_data_wait_fraction)")

    for alloc in default heap; do
      flag=(); [ "$alloc" = heap ] && flag=(--heap-malloc)
      out=$("$BENCH" --what step --repeat 1 --step-steps 2 "${flag[@]}" "${model[@]}" \
        "${COMMON[@]}" 2>>"$LOG")
      echo "[$alloc malloc] $out" >>"$LOG"
      pps=$(echo "$out" | value "step\\.[^ ]*\\.pairs_per_s")
      if [ "$alloc" = heap ]; then heap_step+=("$pps"); else cpp_step+=("$pps"); fi
    done
    out=$("$PY" "$REF" --mode step "${model[@]}" --batch-pairs "$BATCH" --steps 2 --warmup 1 \
      --threads "$THREADS" 2>>"$LOG")
    echo "[python] $out" >>"$LOG"
    py_step+=("$(echo "$out" | result step_pairs_per_s)")

    out=$("$BENCH" --what embed --repeat 1 --latency-threads 1 "${model[@]}" "${COMMON[@]}" 2>>"$LOG")
    echo "$out" >>"$LOG"
    cpp_embed+=("$(echo "$out" | value "embed\\.[^ ]*\\.latency_ms")")
    out=$("$PY" "$REF" --mode embed "${model[@]}" --threads 1 --repeat 50 --warmup 5 2>>"$LOG")
    echo "[python] $out" >>"$LOG"
    py_embed+=("$(echo "$out" | result embed_inference_mode_p50_ms)")
    py_embed_ng+=("$(echo "$out" | result embed_no_grad_p50_ms)")
  done
  b=$(median "${py_train[@]}")
  a=$(median "${cpp_train[@]}"); row "train.$tag.pairs_per_s" "$a" "$b" "$(ratio "$a" "$b")"
  a=$(median "${heap_train[@]}"); row "train.$tag.pairs_per_s --heap-malloc" "$a" "$b" "$(ratio "$a" "$b")"
  b=$(median "${py_wait[@]}")
  row "train.$tag.data_wait_fraction" "$(median "${cpp_wait[@]}")" "$b" "-"
  row "train.$tag.data_wait_fraction --heap-malloc" "$(median "${heap_wait[@]}")" "$b" "-"
  row "train.$tag.roofline (fraction of sgemm)" "$(median "${roof[@]}")" "-" "-"
  row "train.$tag.peak_rss_mib" "$(median "${rss[@]}")" "-" "-"
  b=$(median "${py_step[@]}")
  a=$(median "${cpp_step[@]}"); row "step.$tag.pairs_per_s" "$a" "$b" "$(ratio "$a" "$b")"
  a=$(median "${heap_step[@]}"); row "step.$tag.pairs_per_s --heap-malloc" "$a" "$b" "$(ratio "$a" "$b")"
  a=$(median "${cpp_embed[@]}"); b=$(median "${py_embed[@]}")
  row "embed.$tag.p50_ms (1 thread, InferenceMode)" "$a" "$b" "$(ratio "$a" "$b")"
  b=$(median "${py_embed_ng[@]}")
  row "embed.$tag.p50_ms (vs Python no_grad)" "$a" "$b" "$(ratio "$a" "$b")"
  "$BENCH" --what unlock --repeat "$REPEAT" --latency-threads 1 "${model[@]}" "${COMMON[@]}" \
    2>>"$LOG" | tee -a "$LOG"
done

say ""
say "$(printf '%-52s %12s %12s %8s' figure C++ Python C++/Py)"
for r in "${ROWS[@]}"; do say "$r"; done
say "log: $LOG"
