#!/usr/bin/env bash
# Trains the shipped LSPARCOM weights into training_runs/ and copies them into the package.
#   scripts/train_lsparcom.sh [DEVICE] [EPOCHS]     (defaults: cpu 40, about 10 min on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${1:-cpu} EPOCHS=${2:-40}
BIN=${BIN:-.venv/bin}
mkdir -p training_runs
"$BIN/pointillist" train --method lsparcom -o training_runs/lsparcom.pt --epochs "$EPOCHS" --device "$DEVICE" \
  --seed 0 --quiet --overwrite
cp training_runs/lsparcom.pt training_runs/lsparcom.json training_runs/lsparcom.log src/pointillist/weights/
