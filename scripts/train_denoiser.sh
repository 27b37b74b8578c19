#!/usr/bin/env bash
# Trains the shipped PnP-COL0RME denoiser into training_runs/ and copies it into the package and rewrites manifest.json.
#   scripts/train_denoiser.sh [DEVICE] [EPOCHS] [PROX_EPOCHS]     (defaults: cpu 200 3, about 40 min on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${1:-cpu} EPOCHS=${2:-200} PROX=${3:-3}
BIN=${BIN:-.venv/bin}
mkdir -p training_runs
"$BIN/pointillist" train --method gs-denoiser -o training_runs/gs-denoiser.pt --epochs "$EPOCHS" \
  --prox-epochs "$PROX" --device "$DEVICE" --seed 0 --quiet --overwrite
cp training_runs/gs-denoiser.pt training_runs/gs-denoiser.json training_runs/gs-denoiser.log src/pointillist/weights/
NOTE="trained on $DEVICE by scripts/train_denoiser.sh: $EPOCHS epochs of the gradient-step stage on 500 simulated variance images (100 for validation), then $PROX epochs of Prox-PnP fine-tuning with the Jacobian penalty"
"$BIN/python" -c "import sys; from pointillist.io.weights import write_manifest; write_manifest('src/pointillist/weights', notes={'gs-denoiser.pt': sys.argv[1]})" "$NOTE"
