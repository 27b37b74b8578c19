"""PnP-COL0RME's support step: plain against monotone accelerated proximal gradient, the network alone
against its average over 2 x 2 shifts, on the demo stack.

The stack of ``make demo`` (``pointillist simulate fluct --size 32 --frames 300 --seed 7``, q = 4),
the shipped denoiser at the demo's mu = 0.7, sigma = 10, blocks of 100 frames. For each scheme
(``shifts`` 1: the network as trained, the default before issue 16; 2: the new default):
seconds of the support step, iterations, whether the relative change reached the tolerance
(1e-4) within 2,000 iterations, G after 100 / 300 / 1000 iterations and at the end, how many
iterations raised G (above the float32 tolerance of ``objective_decreasing``) and by how much at
most, the momentum restarts, the support Jaccard (40 nm), and how dotted the support's intensity
is: the share of its spectral energy on the Nyquist row and column (alternating pixels).

    .venv/bin/python benchmarks/pnp_convergence.py            # writes the docs/benchmarks.md section
    .venv/bin/python benchmarks/pnp_convergence.py --no-docs
    .venv/bin/python benchmarks/pnp_convergence.py --size 64 --frames 500 --schemes 3   # the larger stack
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import replace_section  # noqa: E402


def _demo_stack(folder: Path, size=32, frames=300):
    import tifffile

    from pointillist.cli.main import main

    main(["simulate", "fluct", str(folder), "--size", str(size), "--frames", str(frames), "--seed", "7",
          "--no-preview"])
    return tifffile.imread(folder / "stack.tif"), tifffile.imread(folder / "support.tif") > 0


def run(stack, truth, accelerate: bool, shifts: int, max_iter: int) -> dict:
    from pointillist.acquisition import as_acquisition
    from pointillist.covariance import covariance_statistics
    from pointillist.denoisers import load_denoiser
    from pointillist.methods.colorme.intensity import estimate_intensity
    from pointillist.methods.colorme.tiled import DEFAULT_BLOCK_FRAMES
    from pointillist.methods.pnp.support import pnp_support
    from pointillist.metrics import support_jaccard
    from pointillist.operators import imaging_operator
    from pointillist.optics import Optics
    from pointillist.solvers import SolverOptions

    optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
    acq = as_acquisition(stack, offset=100.0)
    psi = imaging_operator(optics, acq.frame_shape)
    stats = covariance_statistics(acq, psi, block=DEFAULT_BLOCK_FRAMES)
    denoiser = load_denoiser().net
    t0 = time.perf_counter()
    res = pnp_support(stats, psi, denoiser, mu=0.7, sigma=10.0, accelerate=accelerate, shifts=shifts,
                      options=SolverOptions(max_iter=max_iter, tol=1e-4))
    seconds = time.perf_counter() - t0
    inten = estimate_intensity(psi, stats.mean, res.support, noise_variance=res.noise_variance,
                               n_frames=acq.n_frames).intensity
    power = np.abs(np.fft.fft2(inten)) ** 2
    h, w = power.shape
    nyquist = float((power[h // 2, :].sum() + power[:, w // 2].sum()) / power.sum())
    g = np.asarray(res.history.objective)
    prior = np.asarray(res.history.aux["prior"])
    rise = np.diff(g)
    raised = rise > 1e-6 * (np.abs(g[:-1]) + np.abs(prior[:-1]))
    border = int(round(3 * optics.sigma_px)) * optics.upsample
    jac = support_jaccard(res.support.cpu().numpy(), truth, tolerance_px=40.0 / optics.fine_pixel_nm, crop=border)
    return {"seconds": seconds, "n_iter": res.n_iter, "converged": res.converged,
            "g": {k: float(g[k - 1]) for k in (100, 300, 1000) if k <= len(g)}, "g_end": float(g[-1]),
            "rises": int(raised.sum()), "max_rise": float(max((rise / np.abs(g[:-1])).max(), 0.0)),
            "restarts": int(np.sum(res.history.aux.get("restart", []))), "jaccard": jac.jaccard,
            "change_end": float(res.history.rel_change[-1]), "nyquist": nyquist}


def table(rows) -> str:
    lines = ["| scheme | seconds | iterations | converged (1e-4) | G at 100 / 300 / 1000 | G at the end | "
             "iterations that raised G (max relative rise) | restarts | support Jaccard (%) | "
             "intensity energy at Nyquist |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows:
        gs = " / ".join(f"{r['g'][k]:.4f}" if k in r["g"] else "-" for k in (100, 300, 1000))
        lines.append(f"| {name} | {r['seconds']:.0f} | {r['n_iter']} | {'yes' if r['converged'] else 'no'} "
                     f"(last change {r['change_end']:.1e}) | {gs} | {r['g_end']:.4f} | {r['rises']} "
                     f"({r['max_rise']:.1e}) | {r['restarts']} | {r['jaccard']:.1f} | {r['nyquist']:.1e} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-iter", type=int, default=2000)
    parser.add_argument("--size", type=int, default=32, help="camera pixels per side (default 32, the demo's)")
    parser.add_argument("--frames", type=int, default=300, help="frames (default 300, the demo's)")
    parser.add_argument("--schemes", type=int, nargs="+", default=[0, 1, 2, 3],
                        help="which rows of the table to run (0-3; default all)")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        stack, truth = _demo_stack(Path(tmp) / "fluct", args.size, args.frames)
    rows = []
    schemes = (("plain, network alone (before issue 16)", False, 1), ("accelerated, network alone", True, 1),
               ("plain, 2 x 2 shifts", False, 2), ("accelerated, 2 x 2 shifts (default)", True, 2))
    for name, accelerate, shifts in (schemes[i] for i in args.schemes):
        rows.append((name, run(stack, truth, accelerate, shifts, args.max_iter)))
        print(name, rows[-1], flush=True)
    body = f"{args.size} x {args.size} camera pixels, {args.frames} frames:\n\n" + table(rows)
    print(body)
    if not args.no_docs:
        replace_section(f"pnp-convergence-{args.size}", body)


if __name__ == "__main__":
    sys.exit(main())
