#!/usr/bin/env bash
# Trains the SMLM networks shipped in src/pointillist/weights/ (100 nm pixels, FWHM 258.21 nm, q = 4),
# copies them with their .json and .log into the package and rewrites the manifest.
#
#   scripts/train_shipped_weights.sh [cpu|cuda] [EPOCHS] [PATCHES]      (defaults: cpu 100 10000)
#
# deepcel0-subpixel.pt and deepstorm-relu-subpixel.pt: the sub-pixel network (train's default) with the paper's full
# schedule, 100 epochs of 10,000 patches (7,000 for training) cut from 20 simulated frames, batch 16, Adam 1e-3,
# ReduceLROnPlateau (patience 5): about 55 min each on 2 CPU cores when run alone. They were made with
#   OMP_NUM_THREADS=1 scripts/train_shipped_weights.sh cpu 100 10000
# (each run continues where it stopped: the engine's resume file; the .log says how far it got).
# The paper's network (deepstorm.pt, deepcel0.pt, deepstorm-relu.pt; localize's default) costs ~15 h for this
# schedule on 2 cores:
#   ARCHITECTURE=deepstorm METHODS="deepstorm deepcel0 deepstorm-relu" scripts/train_shipped_weights.sh cuda
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${1:-cpu}
EPOCHS=${2:-100}
PATCHES=${3:-10000}
FRAMES=${FRAMES:-20}
PATIENCE=${PATIENCE:-5}
ARCHITECTURE=${ARCHITECTURE:-subpixel}
METHODS=${METHODS:-deepcel0 deepstorm-relu}
RUNS=training_runs
BIN=${BIN:-.venv/bin}
mkdir -p "$RUNS"
for METHOD in $METHODS; do
  # the paper's network ships as METHOD.pt (localize's default), the sub-pixel one as METHOD-subpixel.pt
  NAME=$METHOD
  [ "$ARCHITECTURE" = deepstorm ] || NAME="$METHOD-$ARCHITECTURE"
  RESUME=""
  [ -f "$RUNS/$NAME.resume.pt" ] && RESUME="--resume"
  "$BIN/pointillist" train --method "$METHOD" --architecture "$ARCHITECTURE" -o "$RUNS/$NAME.pt" \
    --pixel-size 100 --psf-fwhm 258.21 --upsample 4 --patches "$PATCHES" --frames "$FRAMES" --epochs "$EPOCHS" \
    --lr-patience "$PATIENCE" --seed 0 --device "$DEVICE" --quiet $RESUME
  NAMES="${NAMES:-} $NAME"
done
scripts/ship_weights.sh "$DEVICE" "$EPOCHS" "$PATCHES" "$FRAMES" "$PATIENCE" $NAMES
