#!/usr/bin/env bash
# The main job on the embedded synthetic data set, from a fresh clone:
#   installs dependencies, builds (Release), generates data/synth if absent, inspects it, trains
#   configs/synthetic.yaml, evaluates and simulates unlocking on the held-out identities, then
#   simulates unlocking with the shipped model (models/faceid_rgbd_v1.pt) on 40 identities no
#   model has seen, at its operating threshold (FAR 1e-4 on its validation identities).
# Environment: DEMO_PERSONS (default 30), DEMO_SESSIONS (default 2), DEMO_RUN (default runs/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
persons=${DEMO_PERSONS:-30}
sessions=${DEMO_SESSIONS:-2}
run=${DEMO_RUN:-runs/demo}
bin=build/bin
t0=$SECONDS

echo "== 1/7 dependencies"
scripts/setup_deps.sh
echo "== 2/7 build (Release)"
scripts/build.sh synth inspect_data train evaluate unlock_sim embed enroll
echo "== 3/7 synthetic data set (data/synth)"
# Resumable: complete frames are kept; a set of another generator version or other options is
# refused with a message (delete data/synth to regenerate it).
"$bin/synth" --out data/synth --persons "$persons" --sessions "$sessions" --poses 17 --seed 1
echo "== 4/7 inspect"
mkdir -p "$run"
"$bin/inspect_data" --root data/synth --preview "$run/data_preview.png" | tail -n 8
echo "== 5/7 train"
"$bin/train" --config configs/synthetic.yaml --out "$run" --overwrite
echo "== 6/7 evaluate and unlock simulation on the held-out identities"
"$bin/evaluate" --checkpoint "$run/best.pt" --out "$run/eval" --json "$run/eval/summary.json"
"$bin/unlock_sim" --checkpoint "$run/best.pt" --out "$run/unlock" --json "$run/unlock/summary.json"
echo "== 7/7 the shipped model: unlock simulation on 40 new identities (seed 5) at its operating threshold"
"$bin/synth" --out data/demo_unlock --persons 40 --sessions 2 --poses 6 --seed 5 --compact | tail -n 1
"$bin/unlock_sim" --checkpoint models/faceid_rgbd_v1.pt --data data/demo_unlock \
  --out "$run/unlock_shipped" --json "$run/unlock_shipped/summary.json" | tail -n 7

echo
echo "done in $((SECONDS - t0)) s. Outputs:"
echo "  data preview      $run/data_preview.png"
echo "  run folder        $run/ (config.yaml, split.yaml, metrics.csv, best.pt, last.pt)"
echo "  evaluation        $run/eval/ (roc.png, det.png, tsne.png, pca.png, summary.json)"
echo "  unlock simulation $run/unlock/ (histogram.png, per_user.csv, summary.json)"
echo "  shipped model     $run/unlock_shipped/ (the same, 40 new identities)"
