#!/usr/bin/env bash
# Trains the shipped LSPARCOM weights into training_runs/ and copies them into the package and rewrites manifest.json.
#   scripts/train_lsparcom.sh [DEVICE] [EPOCHS]     (defaults: cpu 50, about 12 min on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${1:-cpu} EPOCHS=${2:-50}
BIN=${BIN:-.venv/bin}
mkdir -p training_runs
"$BIN/pointillist" train --method lsparcom -o training_runs/lsparcom.pt --epochs "$EPOCHS" --device "$DEVICE" \
  --seed 0 --quiet --overwrite
cp training_runs/lsparcom.pt training_runs/lsparcom.json training_runs/lsparcom.log src/pointillist/weights/
NOTE="trained on $DEVICE by scripts/train_lsparcom.sh: $EPOCHS epochs on 960 simulated fluctuation stacks (64 for validation)"
"$BIN/python" -c "import sys; from pointillist.io.weights import write_manifest; write_manifest('src/pointillist/weights', notes={'lsparcom.pt': sys.argv[1]})" "$NOTE"
