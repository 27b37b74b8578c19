"""How the defaults of SPARCOM (lambda ratio, support threshold) and LSPARCOM (support threshold) were chosen.

Calibration stacks (never used by the comparison, which uses seed 7):
filaments (4) and tubes (2) on 32 x 32 camera pixels of 100 nm, T = 500,
q = 4, SNR 15 dB, seeds 11 and 12, the camera model of the COL0RME
benchmark. Score: support Jaccard with 40 nm tolerance after removing a
3 sigma border, averaged over the 4 stacks. The default is the grid point
with the best worst case over itself and its neighbouring thresholds: the
support threshold is relative to the brightest pixel, which moves from stack
to stack, so a default next to a cliff (a point much better than the
threshold beside it) would fail on the next stack.

    .venv/bin/python benchmarks/baselines_calibration.py [--no-docs]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import replace_section  # noqa: E402

RATIOS = (0.005, 0.01, 0.02, 0.05, 0.1)
SPARCOM_THRESHOLDS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
LSPARCOM_THRESHOLDS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
STACKS = [(kind, n, seed) for seed in (11, 12) for kind, n in (("filaments", 4), ("tubes", 2))]


def stacks():
    from pointillist.optics import Optics
    from pointillist.simulate import Camera, simulate_fluctuation

    optics = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4)
    camera = Camera(background=50.0, read_noise=0.0, gain=1.0, offset=0.0, quantize=False)
    for kind, n, seed in STACKS:
        yield optics, simulate_fluctuation(optics=optics, shape=(32, 32), n_frames=500, structure=kind,
                                           n_structures=n, camera=camera, snr_db=15.0, seed=seed)


def jaccards(optics, sim, image, thresholds):
    from pointillist.metrics import support_jaccard

    b = int(round(3 * optics.sigma_px)) * optics.upsample
    c = (slice(b, -b), slice(b, -b))
    return [support_jaccard(image[c] > t * image.max(), sim.support[c] > 0,
                            tolerance_px=40.0 / optics.fine_pixel_nm).jaccard for t in thresholds]


def robust(mean: np.ndarray) -> np.ndarray:
    """Worst mean over each threshold and its neighbours (last axis)."""
    padded = np.concatenate([mean[..., :1], mean, mean[..., -1:]], axis=-1)
    return np.minimum(np.minimum(padded[..., :-2], padded[..., 1:-1]), padded[..., 2:])


def choose(mean: np.ndarray) -> tuple:
    """Index of the best worst case; ties go to the best mean."""
    r = robust(mean)
    return np.unravel_index(np.argmax(np.where(r == r.max(), mean, -np.inf)), mean.shape)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    from pointillist.methods.baselines import lsparcom, sparcom

    sp = np.zeros((len(STACKS), len(RATIOS), len(SPARCOM_THRESHOLDS)))
    ls = np.zeros((len(STACKS), len(LSPARCOM_THRESHOLDS)))
    for i, (optics, sim) in enumerate(stacks()):
        for j, ratio in enumerate(RATIOS):
            sp[i, j] = jaccards(optics, sim, sparcom(sim.stack, optics=optics, lambda_ratio=ratio).image,
                                SPARCOM_THRESHOLDS)
        ls[i] = jaccards(optics, sim, lsparcom(sim.stack, optics=optics).image, LSPARCOM_THRESHOLDS)
        print(STACKS[i], "done", flush=True)
    lines = ["SPARCOM, mean support Jaccard (%) over the 4 stacks (rows: lambda / lambda_max, columns: threshold):", "",
             "| lambda ratio | " + " | ".join(f"{t:g}" for t in SPARCOM_THRESHOLDS) + " |",
             "|---|" + "---|" * len(SPARCOM_THRESHOLDS)]
    mean = sp.mean(axis=0)
    for j, ratio in enumerate(RATIOS):
        lines.append(f"| {ratio:g} | " + " | ".join(f"{v:.1f}" for v in mean[j]) + " |")
    j, k = np.unravel_index(np.argmax(mean), mean.shape)
    jr, kr = choose(mean)
    lines += ["", f"Best mean: lambda ratio {RATIOS[j]:g}, threshold {SPARCOM_THRESHOLDS[k]:g} ({mean[j, k]:.1f}). "
              f"Chosen (best worst case over neighbouring thresholds): lambda ratio {RATIOS[jr]:g}, threshold "
              f"{SPARCOM_THRESHOLDS[kr]:g} ({mean[jr, kr]:.1f}; per stack "
              f"{', '.join(f'{v:.1f}' for v in sp[:, jr, kr])}).", "",
              "LSPARCOM (shipped weights), support Jaccard (%) per stack and threshold:", "",
              "| stack | " + " | ".join(f"{t:g}" for t in LSPARCOM_THRESHOLDS) + " |",
              "|---|" + "---|" * len(LSPARCOM_THRESHOLDS)]
    for i, (kind, _, seed) in enumerate(STACKS):
        lines.append(f"| {kind}, seed {seed} | " + " | ".join(f"{v:.1f}" for v in ls[i]) + " |")
    lines.append("| mean | " + " | ".join(f"{v:.1f}" for v in ls.mean(axis=0)) + " |")
    m = ls.mean(axis=0)
    (c,) = choose(m)
    lines += ["", f"Best mean: threshold {LSPARCOM_THRESHOLDS[int(np.argmax(m))]:g} ({m.max():.1f}). Chosen (same "
              f"rule as SPARCOM): {LSPARCOM_THRESHOLDS[c]:g} ({m[c]:.1f})."]
    text = "\n".join(lines)
    print(text)
    if not args.no_docs:
        replace_section("baselines-calibration", text)


if __name__ == "__main__":
    main()
