#!/usr/bin/env bash
# Reproduces the shipped model (docs/models.md) with one command: builds, renders the pretraining
# identities, trains over them with P x K batch_all contrastive (configs/pretrain.yaml),
# evaluates the result on identities of another seed, and with --ship copies it to
# models/faceid_rgbd_v1.pt. Every stage is resumable: rerun the same command after an interruption.
#
#   scripts/pretrain.sh                      the shipped recipe: 5,000 identities x 2 sessions x
#                                            6 poses, 64 px; about 1.5-2 h on 2 cores
#   scripts/pretrain.sh --gpu                a GPU workstation: 112 px, larger batches, more epochs
#   scripts/pretrain.sh --persons 500 --epochs 4 --out runs/pre500    a smaller run
#
# Options: --persons N (5000) --sessions K (2) --poses P (6) --epochs E (config's) --out RUN
# (runs/pretrain) --data DIR (data/pretrain-N-K-P) --heldout N (500 held-out identities, 0 = skip)
# --set KEY=VALUE (any config override, repeatable) --gpu --ship.
# Logs: RUN/pretrain.log (this script's stages and times) beside the run's own files.
set -euo pipefail
cd "$(dirname "$0")/.."

persons=5000 sessions=2 poses=6 epochs="" out=runs/pretrain data="" heldout=500 gpu=0 ship=0
overrides=()
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --persons) persons=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    --poses) poses=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --heldout) heldout=$2; shift 2 ;;
    --set) overrides+=(--set "$2"); shift 2 ;;
    --gpu) gpu=1; shift ;;
    --ship) ship=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "pretrain.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$persons" "$sessions" "$poses" "$heldout" ${epochs:+"$epochs"}; do
  case "$v" in ''|*[!0-9]*) echo "pretrain.sh: expected a whole number, got '$v'" >&2; exit 2 ;; esac
done
data=${data:-data/pretrain-$persons-$sessions-$poses}
bin=build/bin
mkdir -p "$out"
log="$out/pretrain.log"
t0=$SECONDS
stage() { echo "== $1 ($((SECONDS - t0)) s)" | tee -a "$log"; }

stage "build"
scripts/build.sh synth train evaluate unlock_sim >/dev/null

# Pretraining identities: seed 1 from index 1,000,000, disjoint from the demo's (seed 1, 0..) and
# the accuracy test's (seed 2) and the held-out benchmark's (seed 3).
stage "synthesise $persons identities x $sessions sessions x $poses poses into $data"
s0=$SECONDS
"$bin/synth" --out "$data" --persons "$persons" --sessions "$sessions" --poses "$poses" --seed 1 \
  --first-person 1000000 --compact 2>&1 | tail -n 2 | tee -a "$log"
frames=$((persons * sessions * poses))
echo "synthesis: $((SECONDS - s0)) s for $frames frames" | tee -a "$log"

args=(--config configs/pretrain.yaml --set "data.root=$data" --out "$out")
if [ "$gpu" = 1 ]; then
  args+=(--set train.device=cuda --set preprocess.input_size=112 --set train.batch_pairs=256
         --set train.epochs=40 --set data.workers=8)
fi
[ -n "$epochs" ] && args+=(--set "train.epochs=$epochs")
args+=("${overrides[@]}")
if [ -f "$out/last.pt" ]; then
  args+=(--resume "$out/last.pt")
else
  args+=(--overwrite)
fi
stage "train (${args[*]})"
s0=$SECONDS
"$bin/train" "${args[@]}" 2>&1 | tee -a "$log" | grep -E "^(frames|epoch [0-9]+/[0-9]+ loss|operating|new best|model file|dataset)"
echo "training: $((SECONDS - s0)) s" | tee -a "$log"

if [ "$heldout" -gt 0 ]; then
  hdata=data/heldout-$heldout
  stage "held-out identities: $heldout x 2 sessions x $poses poses, seed 3, into $hdata"
  "$bin/synth" --out "$hdata" --persons "$heldout" --sessions 2 --poses "$poses" --seed 3 --compact \
    2>&1 | tail -n 1 | tee -a "$log"
  stage "evaluate $out/model.pt on $hdata"
  "$bin/evaluate" --checkpoint "$out/model.pt" --data "$hdata" --out "$out/heldout" \
    --json "$out/heldout/summary.json" --no-tsne 2>&1 | tee -a "$log" | tail -n 12
  stage "unlock simulation on $hdata at the model's operating threshold"
  "$bin/unlock_sim" --checkpoint "$out/model.pt" --data "$hdata" --out "$out/heldout_unlock" \
    --json "$out/heldout_unlock/summary.json" 2>&1 | tee -a "$log" | tail -n 12
fi

if [ "$ship" = 1 ]; then
  mkdir -p models
  cp "$out/model.pt" models/faceid_rgbd_v1.pt
  stage "shipped: models/faceid_rgbd_v1.pt ($(stat -c %s models/faceid_rgbd_v1.pt) bytes)"
fi
stage "done in $((SECONDS - t0)) s"
