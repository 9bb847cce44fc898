#!/usr/bin/env bash
# Data-parallel scaling on this machine: training pairs/s of 1 process and of `train --nproc 2`
# at the same per-rank batch (weak scaling), from the last epoch's metrics.csv row.
#   scripts/bench_distributed.sh DATASET_ROOT [CONFIG] [extra --set k=v ...]
# Prints one line per run and the scaling efficiency = pairs/s(2 ranks) / (2 x pairs/s(1 rank,
# 1 thread)). Runs under /tmp/faceid-ddp-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:?usage: scripts/bench_distributed.sh DATASET_ROOT [CONFIG] [--set k=v ...]}
config=${2:-configs/synthetic.yaml}
shift $(( $# >= 2 ? 2 : 1 ))
out=/tmp/faceid-ddp-bench
train=build/bin/train
common=(--config "$config" --set "data.root=$root" --set data.val_fraction=0.34
        --set data.cache_dir= --set data.workers=1 --set train.epochs=2
        --set train.steps_per_epoch=${STEPS:-20} --overwrite "$@")

pps() { tail -n 1 "$1/metrics.csv" | cut -d, -f11; }
run() {  # folder, label, then train arguments
  local name=$1 label=$2; shift 2
  "$train" "$@" "${common[@]}" --out "$out/$name" >"$out/$name.log" 2>&1 ||
    { echo "bench_distributed: $label failed, see $out/$name.log" >&2; exit 1; }
  printf '%-24s %8.1f pairs/s\n' "$label" "$(pps "$out/$name")"
}
mkdir -p "$out"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run r1t1 "1 rank, 1 thread" --set train.threads=1
run r1t2 "1 rank, 2 threads" --set train.threads=2
run r2t1 "2 ranks, 1 thread each" --nproc 2 --set train.threads=1
one=$(pps "$out/r1t1")
two=$(pps "$out/r2t1")
awk -v a="$one" -v b="$two" 'BEGIN { printf "scaling efficiency 1 -> 2 ranks: %.0f%%\n", 100 * b / (2 * a) }'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
