"""Training DeepCEL0 for another microscope on a CPU, and what it gains over the shipped weights.

Runs, as a user would, ``pointillist train --method deepcel0 --pixel-size P
--psf-fwhm F --upsample 4 -o my.pt`` with the default schedule (timed), then
scores on simulated test stacks (tubes at the density of the SMLM 2013
high-density set, SNR 15 dB, our ``simulate_smlm``: another structure and
blinking model than the training generator's random emitters):

* the new weights on a test at their own optics (F nm);
* the shipped weights on the same kind of test at their own optics
  (258.21 nm): the issue asks the new weights to come within 3 points of it;
* the shipped weights forced onto the F nm test (what a user would get
  without training).

Jaccard, recall and precision at 50 and 100 nm, local-maxima protocol.
Training seeds: 0 (the default); test stacks: seed 101 (never used to
train anything).

    .venv/bin/python benchmarks/train_your_own.py                         # FWHM 351.8 nm at 100 nm pixels
    .venv/bin/python benchmarks/train_your_own.py --psf-fwhm 300 --frames 50 --no-write
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import ROOT, replace_section  # noqa: E402

from pointillist import Optics  # noqa: E402
from pointillist.methods.smlm.api import localize  # noqa: E402
from pointillist.metrics import match_localizations  # noqa: E402
from pointillist.simulate import simulate_smlm  # noqa: E402

SHIPPED = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)


def _scores(locs, truth) -> str:
    cells = []
    for tol in (50.0, 100.0):
        m = match_localizations(locs, truth, tolerance_nm=tol)
        cells.append(f"{m.jaccard:.1f}")
        if tol == 50.0:
            recall, precision = m.recall, m.precision
    return " | ".join(cells + [f"{recall:.1f}", f"{precision:.1f}"])


def _test(optics: Optics, frames: int, seed: int):
    return simulate_smlm(optics=optics, shape=(64, 64), n_frames=frames, density_per_um2=217 / 40.96,
                         structure="tubes", snr_db=15.0, seed=seed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pixel-size", type=float, default=100.0)
    parser.add_argument("--psf-fwhm", type=float, default=351.8, help="nm (default 351.8: the real 2013 HD tubulin)")
    parser.add_argument("--frames", type=int, default=100, help="frames per test stack (default 100)")
    parser.add_argument("--seed", type=int, default=101, help="seed of the test stacks (default 101)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_out" / "train_your_own")
    parser.add_argument("--reuse", action="store_true", help="score the weights of an earlier run, do not train")
    parser.add_argument("--no-write", action="store_true", help="print only, do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / f"deepcel0-{args.psf_fwhm:g}nm.pt"
    cmd = [str(Path(sys.executable).parent / "pointillist"), "train", "--method", "deepcel0", "--pixel-size",
           f"{args.pixel_size:g}", "--psf-fwhm", f"{args.psf_fwhm:g}", "--upsample", "4", "-o", str(weights),
           "--quiet", "--overwrite"]
    shown = f"pointillist train --method deepcel0 --pixel-size {args.pixel_size:g} --psf-fwhm {args.psf_fwhm:g} " \
            "--upsample 4 -o my.pt"
    seconds = None
    if not args.reuse:
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=dict(os.environ))
        seconds = time.perf_counter() - t0
    mine = Optics(pixel_size_nm=args.pixel_size, psf_fwhm_nm=args.psf_fwhm, upsample=4)
    own, ref = _test(mine, args.frames, args.seed), _test(SHIPPED, args.frames, args.seed)
    rows = [
        ("new weights, test at their optics", localize(own.stack, optics=mine, weights=weights), own.ground_truth),
        ("shipped sub-pixel weights, test at their optics (258.21 nm)",
         localize(ref.stack, optics=SHIPPED, architecture="subpixel"), ref.ground_truth),
        ("shipped sub-pixel weights forced on the new optics",
         localize(own.stack, optics=mine, architecture="subpixel", force=True), own.ground_truth),
    ]
    lines = [f"`{shown}` (default schedule) took "
             + (f"{seconds / 60:.1f} min on this CPU." if seconds else "(not timed: --reuse)"),
             "", f"Test stacks: {args.frames} frames of 64 x 64 simulated tubes, ~217 emitters per frame, SNR 15 dB, "
             f"seed {args.seed}; local maxima; Jaccard, recall and precision in %.", "",
             "| weights and test | JI 50 nm | JI 100 nm | recall 50 nm | precision 50 nm |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {_scores(locs, truth)} |" for name, locs, truth in rows]
    lines += ["", f"Command: `.venv/bin/python benchmarks/train_your_own.py --psf-fwhm {args.psf_fwhm:g}`."]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        replace_section("train-your-own", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
