"""3D-COL0RME on simulated MA-TIRF filaments, against the two simpler ways to get a depth.

    .venv/bin/python benchmarks/colorme_3d.py                 # report: seeds 201, 202; angles 4/7/13 x frames 100/500
    .venv/bin/python benchmarks/colorme_3d.py --calibrate     # the axial TV weight on seed 101 (13 angles x 500)
    .venv/bin/python benchmarks/colorme_3d.py --seeds 201 --angles 13 --frames 500   # one cell

Protocol (issue 18): 24 x 24 camera pixels of 100 nm, Gaussian PSF of FWHM
258.21 nm, fine grid q = 4 (25 nm), 3 filaments in the 0-300 nm layer, each
angle's stack at SNR 15 dB, the spec's 13 angles (62.6-69.8 deg; 4 and 7
angles are evenly spread subsets), depth bins of 20 nm. Seeds: 101 calibrates
the axial TV weight (``--calibrate``), 201 and 202 are reported; seed 1 was
used while the method was designed.

Scores, on the same data for every method:

- **Jaccard** of the common support (40 nm, one-to-one), beside COL0RME's own
  support on the brightest angle's stack alone (the lateral level to keep);
- **depth RMSE** and the fraction within 20 nm on the correctly found support
  pixels (the matched pairs of the Jaccard; depth read at the found pixel,
  compared with its true partner's depth);
- the methods: ``3d-colorme`` (the default), ``nnls`` (the same COL0RME
  intensities, each pixel fitted alone: axial mu 0), ``mean images``
  (diffraction-limited MA-TIRF: each angle's mean image less its 5th percentile
  as background, each camera pixel fitted alone, read at the camera pixel that
  holds the found pixel) and ``oracle`` (the true intensities through the
  axial step, each pixel alone, at every true pixel: what the binning alone loses).

The table and figure go into docs/benchmarks.md (section ``colorme-3d``) and
docs/colorme_3d.png.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _docs import ROOT, replace_section
from pointillist import colorme
from pointillist.figures import save_depth_image
from pointillist.methods.colorme3d import axial_reconstruction, colorme_3d
from pointillist.methods.colorme3d.axial import AXIAL_MAX_ITER
from pointillist.metrics import support_jaccard
from pointillist.optics import Optics
from pointillist.simulate import simulate_matirf
from pointillist.tirf import DEFAULT_ANGLES_DEG, TIRFExcitation, depth_bin_matrix, depth_edges

OPTICS = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
SUBSETS = {4: (0, 4, 8, 12), 7: (0, 2, 4, 6, 8, 10, 12), 13: tuple(range(13))}
CALIBRATION_SEEDS = (101,)
REPORT_SEEDS = (201, 202)
TOL_PX = 40 / OPTICS.fine_pixel_nm


def _scores(depth, pairs, truth):
    """RMSE (nm) and percent within 20 nm of ``depth`` at the found pixels of ``pairs``."""
    p, t = pairs
    err = depth[p[:, 0], p[:, 1]] - truth[t[:, 0], t[:, 1]]
    lost = int(np.sum(~np.isfinite(err)))
    err = err[np.isfinite(err)]
    return float(np.sqrt(np.mean(err ** 2))), float(np.mean(np.abs(err) < 20) * 100), lost


def _mean_image_depth(sim, exc, edges):
    """Diffraction-limited MA-TIRF: depth of each camera pixel from the angles' mean images."""
    means = sim.stacks.astype(np.float64).mean(axis=1)
    means -= np.percentile(means, 5, axis=(1, 2), keepdims=True)
    means = np.clip(means, 0, None)
    signal = means.sum(axis=0) > 0
    ax = axial_reconstruction(means, signal, depth_bin_matrix(exc, edges), edges, mu=0.0)
    q = OPTICS.upsample
    return np.kron(ax.depth, np.ones((q, q)))


def run_case(seed, n_angles, n_frames, mus=None):
    exc = TIRFExcitation(tuple(DEFAULT_ANGLES_DEG[i] for i in SUBSETS[n_angles]))
    sim = simulate_matirf(optics=OPTICS, excitation=exc, shape=(24, 24), n_frames=n_frames, n_structures=3,
                          snr_db=15, seed=seed)
    edges = depth_edges(300, 20)
    t0 = time.perf_counter()
    res = colorme_3d(list(sim.stacks), excitation=exc, optics=OPTICS)
    seconds = time.perf_counter() - t0
    truth = sim.support.astype(bool)
    match = support_jaccard(res.support, truth, tolerance_px=TOL_PX)
    pairs = (np.argwhere(res.support)[match.pred_index], np.argwhere(truth)[match.true_index])
    brightest = int(np.argmax(exc.transmission))
    single = colorme(sim.stacks[brightest], optics=OPTICS)
    row = {"seed": seed, "angles": n_angles, "frames": n_frames, "jaccard": match.jaccard,
           "jaccard_colorme": support_jaccard(single.support, truth, tolerance_px=TOL_PX).jaccard,
           "seconds": seconds, "found": len(pairs[0])}
    data = np.clip(res.intensities, 0, None)
    a = depth_bin_matrix(exc, edges)
    row["3d-colorme"] = _scores(res.depth, pairs, sim.depth)
    row["nnls"] = _scores(axial_reconstruction(data, res.support, a, edges, mu=0.0).depth, pairs, sim.depth)
    row["mean images"] = _scores(_mean_image_depth(sim, exc, edges), pairs, sim.depth)
    rows, cols = np.nonzero(truth)
    oracle = np.zeros_like(res.intensities)
    oracle[:, rows, cols] = exc.excitation(sim.depth[rows, cols]) * sim.brightness[rows, cols]
    ax = axial_reconstruction(oracle, truth, a, edges, mu=0.0)
    every = (np.argwhere(truth), np.argwhere(truth))
    row["oracle"] = _scores(ax.depth, every, sim.depth)
    for mu in mus or ():
        row[f"mu {mu:g}"] = _scores(axial_reconstruction(data, res.support, a, edges, mu=mu,
                                                         max_iter=AXIAL_MAX_ITER).depth, pairs, sim.depth)
    return row, sim, res


METHODS = ("3d-colorme", "nnls", "mean images", "oracle")


def _table(rows):
    head = ("| angles | frames | Jaccard 3D (%) | Jaccard COL0RME, one angle (%) | "
            + " | ".join(f"{m}: RMSE (nm) / within 20 nm" for m in METHODS) + " | time 3D (s) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    keys = sorted({(r["angles"], r["frames"]) for r in rows})
    for key in keys:
        sel = [r for r in rows if (r["angles"], r["frames"]) == key]
        cells = [f"{np.mean([r['jaccard'] for r in sel]):.1f}", f"{np.mean([r['jaccard_colorme'] for r in sel]):.1f}"]
        for m in METHODS:
            rmse = np.sqrt(np.mean([r[m][0] ** 2 for r in sel]))
            cells.append(f"{rmse:.1f} / {np.mean([r[m][1] for r in sel]):.0f} %")
        cells.append(f"{np.mean([r['seconds'] for r in sel]):.0f}")
        lines.append(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _figure(sim, res, exc):
    edges = depth_edges(300, 20)
    fine = OPTICS.fine_pixel_nm
    weight = np.nan_to_num(res.intensities.sum(axis=0))
    means = np.kron(sim.stacks.astype(np.float64).mean(axis=(0, 1)), np.ones((OPTICS.upsample,) * 2))
    panels = [("truth", np.where(sim.support > 0, sim.depth, np.nan), fine, sim.support),
              ("mean images (diffraction-limited)", _mean_image_depth(sim, exc, edges), fine, means - means.min())]
    save_depth_image(ROOT / "docs" / "colorme_3d.png", res.depth, weight, pixel_size_nm=fine,
                     title="3D-COL0RME", panels=panels, overwrite=True)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--angles", type=int, nargs="+", default=[4, 7, 13], choices=sorted(SUBSETS))
    parser.add_argument("--frames", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--figure-only", action="store_true", help="only docs/colorme_3d.png (seed 201, 13 x 500)")
    args = parser.parse_args(argv)
    if args.calibrate:
        mus = (0.0, 1e-3, 3e-3, 1e-2, 3e-2)
        for seed in args.seeds or CALIBRATION_SEEDS:
            row, _, _ = run_case(seed, 13, 500, mus=mus)
            print(f"seed {seed}: " + ", ".join(f"mu {m:g}: {row[f'mu {m:g}'][0]:.1f} nm" for m in mus))
        return
    if args.figure_only:
        _, sim, res = run_case(REPORT_SEEDS[0], 13, 500)
        _figure(sim, res, res.excitation)
        return
    rows = []
    for n_angles in args.angles:
        for n_frames in args.frames:
            for seed in args.seeds or REPORT_SEEDS:
                row, sim, res = run_case(seed, n_angles, n_frames)
                rows.append(row)
                print(f"seed {seed} angles {n_angles} frames {n_frames}: J {row['jaccard']:.1f} "
                      f"(COL0RME {row['jaccard_colorme']:.1f}) " + ", ".join(
                          f"{m} {row[m][0]:.1f} nm/{row[m][1]:.0f}%" for m in METHODS)
                      + f", {row['seconds']:.0f} s", flush=True)
                if (n_angles, n_frames, seed) == (13, 500, (args.seeds or REPORT_SEEDS)[0]) and not args.no_docs:
                    _figure(sim, res, res.excitation)
    table = _table(rows)
    print(table)
    if not args.no_docs:
        replace_section("colorme-3d", table)


if __name__ == "__main__":
    main()
