#!/usr/bin/env bash
# Trains the SMLM networks shipped in src/pointillist/weights/ (100 nm pixels, FWHM 258.21 nm, q = 4),
# copies them with their .json and .log into the package and rewrites the manifest.
#
#   scripts/train_shipped_weights.sh [cpu|cuda] [EPOCHS] [PATCHES]      (defaults: cpu 100 10000)
#
# The paper's schedule is 100 epochs of 10,000 patches: minutes on a GPU, ~15 h on a 2-core CPU.
# The shipped files were made on the 2-core CPU with
#   FRAMES=150 PATIENCE=3 scripts/train_shipped_weights.sh cpu 12 3000
# (`pointillist train ... --epochs N --resume` continues such a run for longer).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${1:-cpu}
EPOCHS=${2:-100}
PATCHES=${3:-10000}
FRAMES=${FRAMES:-$(( PATCHES / 20 > 20 ? PATCHES / 20 : 20 ))}
PATIENCE=${PATIENCE:-5}
RUNS=training_runs
BIN=${BIN:-.venv/bin}
mkdir -p "$RUNS"
for METHOD in deepcel0 deepstorm-relu deepstorm; do
  "$BIN/pointillist" train --method "$METHOD" -o "$RUNS/$METHOD.pt" --pixel-size 100 --psf-fwhm 258.21 --upsample 4 \
    --patches "$PATCHES" --frames "$FRAMES" --epochs "$EPOCHS" --lr-patience "$PATIENCE" --seed 0 \
    --device "$DEVICE" --quiet --overwrite
done
scripts/ship_weights.sh "$DEVICE" "$EPOCHS" "$PATCHES" "$FRAMES" "$PATIENCE"
