#!/usr/bin/env bash
# Copies trained networks from training_runs/ into the package and rewrites the one manifest.json
# (pointillist.io.weights.write_manifest: every *.pt in src/pointillist/weights/, each with its note).
#   scripts/ship_weights.sh DEVICE EPOCHS PATCHES FRAMES PATIENCE NAME...   (as used for training; recorded in
#   the manifest; NAME is the file stem: deepcel0, deepstorm-relu, deepcel0-deepstorm, ...)
# Weights files of the formats before pointillist-weights/1 are rewritten, without retraining and with
# bit-identical tensors, by `.venv/bin/python scripts/convert_weights.py`.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=$1 EPOCHS=$2 PATCHES=$3 FRAMES=$4 PATIENCE=$5
shift 5
BIN=${BIN:-.venv/bin}
for NAME in "$@"; do
  cp "training_runs/$NAME.pt" "training_runs/$NAME.json" "training_runs/$NAME.log" src/pointillist/weights/
done
if [ "$EPOCHS" -ge 100 ] && [ "$PATCHES" -ge 10000 ]; then
  SCHEDULE="the paper's schedule (100 epochs of 10,000 patches)"
else
  SCHEDULE="a SHORTER schedule than the paper's 100 epochs of 10,000 patches"
fi
NOTE="trained on $DEVICE with $EPOCHS epochs of $PATCHES patches (cut from $FRAMES simulated frames, lr patience $PATIENCE) by scripts/train_shipped_weights.sh: $SCHEDULE"
"$BIN/python" -c "import sys; from pointillist.io.weights import write_manifest; write_manifest('src/pointillist/weights', notes={f'{n}.pt': sys.argv[1] for n in sys.argv[2:]})" "$NOTE" "$@"
