#!/usr/bin/env bash
# The prepared GPU check, one go (docs/benchmarks.md, "GPU"):
#   1. the [cuda] tests (faceid_cuda_tests);
#   2. a short training run on cuda:0, amp off and fp16;
#   3. unlock_sim on cuda with the shipped model;
#   4. bench: training-step pairs/s and unlock latency on the GPU, beside the PyTorch-Python
#      reference on the same GPU, as ratios.
# Runs from a build folder (build-torch2/) or from the folder scripts/gpu_bundle.sh makes.
#   scripts/gpu_check.sh [--cpu] [--bin DIR] [--out DIR] [--python PY]
#     --cpu     the same on the CPU, a smoke run where no GPU is: the [cuda] tests must report
#               skipped, training uses amp bf16, the bench runs on the CPU
#     --bin     the binaries (default: build-torch2/bin, or bin/ beside this script in a bundle)
#     --out     results (default: gpu_check_out/); summary.txt holds every figure
#     --python  the PyTorch-Python reference's interpreter (default: .venv-torch/bin/python, else
#               python3)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cpu=0 bin="" out=gpu_check_out python=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) cpu=1 ;;
    --bin) bin=$2; shift ;;
    --out) out=$2; shift ;;
    --python) python=$2; shift ;;
    *) echo "gpu_check.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$bin" ]; then
  if [ -x "$root/bin/train" ]; then bin=$root/bin; else bin=$root/build-torch2/bin; fi
fi
if [ -z "$python" ]; then
  if [ -x "$root/.venv-torch/bin/python" ]; then python=$root/.venv-torch/bin/python; else python=python3; fi
fi
for b in train synth unlock_sim bench faceid_cuda_tests; do
  [ -x "$bin/$b" ] || { echo "gpu_check: $bin/$b missing (build with scripts/test.sh --torch=pip, or scripts/gpu_bundle.sh)" >&2; exit 2; }
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
summary=$out/summary.txt
: > "$summary"
failures=0
note() { echo "$*" | tee -a "$summary"; }
fail() { note "FAILED: $*"; failures=$((failures + 1)); }
t0=$(date +%s)
if [ "$cpu" = 1 ]; then device=cpu amp=bf16; else device=cuda:0 amp=fp16; fi
export FACEID_MODEL=${FACEID_MODEL:-$root/models/faceid_rgbd_v1.pt}
# The tests' data and scratch folders under $out, their configs from $root (a bundle runs on a
# machine where the compiled-in build and source folders do not exist).
export FACEID_TEST_SOURCE_DIR=$root FACEID_TEST_BIN_DIR=$out/tests/bin
mkdir -p "$FACEID_TEST_BIN_DIR"
note "gpu_check $(date -u +%FT%TZ) on $(hostname): device $device; binaries $bin"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /' | tee -a "$summary"

# 1. [cuda] tests, in one process: exit 4 = skipped (no GPU; the first test says why).
note "== 1. [cuda] tests"
rc=0
(cd "$bin/.." && "$bin/faceid_cuda_tests" "[cuda]" --reporter compact) > "$out/cuda_tests.log" 2>&1 || rc=$?
case "$rc" in
  0) note "passed: $(tail -n 1 "$out/cuda_tests.log")" ;;
  4) if [ "$cpu" = 1 ]; then note "skipped, as expected without a GPU: $(grep -m1 '^skipped' "$out/cuda_tests.log")"
     else fail "[cuda] tests skipped on a GPU run: $(grep -m1 '^skipped' "$out/cuda_tests.log")"; fi ;;
  *) tail -n 30 "$out/cuda_tests.log" >> "$summary"; fail "[cuda] tests (exit $rc)" ;;
esac

# 2. Short training runs.
note "== 2. training on $device"
data=$out/data
[ -f "$data/synth_manifest.yaml" ] || "$bin/synth" --out "$data" --persons 16 --sessions 2 --poses 6 --seed 9 --compact > "$out/synth.log" 2>&1 || fail "synth"
for a in none "$amp"; do
  if "$bin/train" --config "$root/configs/synthetic.yaml" --set data.root="$data" \
       --set train.device="$device" --set train.amp="$a" --set train.epochs=2 \
       --set train.steps_per_epoch=20 --set train.cudnn_benchmark=true \
       --out "$out/run_$a" --overwrite > "$out/train_$a.log" 2>&1; then
    note "train amp=$a: $(grep -E '^epoch 2/2 loss' "$out/train_$a.log" | sed 's/.*· \([0-9.]* pairs\/s\).*/\1/') (epoch 2), $(grep -E '^final validation' "$out/train_$a.log" | sed 's/^final validation: //')"
  else
    tail -n 5 "$out/train_$a.log" >> "$summary"; fail "train amp=$a"
  fi
done

# 3. unlock_sim on the device with the shipped model.
note "== 3. unlock_sim on $device"
if "$bin/unlock_sim" --data "$data" --device "$device" --out "$out/unlock" > "$out/unlock.log" 2>&1; then
  grep -E "with adaptive update|genuine mean" "$out/unlock.log" | tee -a "$summary"
else
  tail -n 5 "$out/unlock.log" >> "$summary"; fail "unlock_sim"
fi

# 4. bench beside the PyTorch-Python reference on the same device.
note "== 4. bench on $device (C++ vs PyTorch-Python, medians)"
bench_set=(--set train.device="$device" --set train.cudnn_benchmark=true)
if "$bin/bench" --what step,unlock --repeat 5 --input-size 128 --batch-pairs 64 "${bench_set[@]}" \
     --work-dir "$out/bench" > "$out/bench.log" 2>&1; then
  grep -E "^(step|unlock)\." "$out/bench.log" | tee -a "$summary"
else
  tail -n 5 "$out/bench.log" >> "$summary"; fail "bench"
fi
ref=$root/scripts/reference/pytorch_reference.py
if "$python" "$ref" --mode step --device "$device" --input-size 128 --batch-pairs 64 --steps 20 \
     > "$out/reference_step.log" 2>&1 &&
   "$python" "$ref" --mode embed --device "$device" --input-size 128 --repeat 200 \
     > "$out/reference_embed.log" 2>&1; then
  grep RESULT "$out/reference_step.log" "$out/reference_embed.log" | sed 's/^.*RESULT /python: /' | tee -a "$summary"
  cpp=$(grep -E "^step\..*\.pairs_per_s:" "$out/bench.log" | head -1 | sed -E 's/^[^:]*: ([0-9.e+]+) .*/\1/')
  py=$(grep -E "step_pairs_per_s=" "$out/reference_step.log" | sed 's/.*=//')
  if [ -n "$cpp" ] && [ -n "$py" ]; then
    note "training step: C++ $cpp pairs/s vs Python $py: ratio $(awk -v a="$cpp" -v b="$py" 'BEGIN {printf "%.2f", a / b}') (target >= 1.5 on a GPU)"
  fi
else
  tail -n 3 "$out/reference_step.log" "$out/reference_embed.log" >> "$summary"
  fail "PyTorch-Python reference ($python)"
fi

note "== done in $(( $(date +%s) - t0 )) s, $failures failure(s); $summary"
[ "$failures" -eq 0 ]
