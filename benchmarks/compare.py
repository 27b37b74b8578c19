"""Side-by-side comparison of every fluctuation method on one simulated stack with known truth.

Simulated filaments, 32 x 32 camera pixels of 100 nm, T = 500 frames,
Gaussian PSF FWHM 258 nm, q = 4 (fine pixels of 25 nm), SNR 15 dB, Poisson +
Gaussian noise over a background of 50 photons (as the COL0RME benchmark).
Methods, each with its defaults: COL0RME-CEL0, COL0RME-l1, PnP-COL0RME (shipped
denoiser), SOFI (2nd order, cross-cumulants), SRRF (AVG), SPARCOM, LSPARCOM
(shipped weights).

Scores (a border of round(3 sigma / p) camera pixels removed, as the other
benchmarks):

* support Jaccard with 40 nm tolerance, for the methods that return a support;
* normalised (Pearson) correlation of the method's image with the truth, both
  blurred by a Gaussian of one fine pixel (25 nm) so that a one-pixel shift is
  not a total miss. Truth: the emitters' mean intensity on the fine grid
  (every emitter has the same on-probability, so the truth's variance map is
  proportional to it and the choice does not change the score). The
  correlation ignores scale and offset, which differ in meaning between
  methods (intensity, variance, cumulant, radiality);
* resolution by Fourier ring correlation (1/7 threshold) between the images
  of the even and the odd frames, each reconstructed separately (the usual
  FRC on real data). Where the curve never drops below 1/7 the halves agree
  up to the fine grid's Nyquist frequency and the table says "< 50" (nm, two
  fine pixels) with the curve's lowest value, which still ranks the methods.
  FRC against the truth is not used: a linear blur leaves the FRC at 1 (it
  scales each ring's two spectra alike), so it cannot tell a blurred image
  from a sharp one;
* seconds and peak resident memory of the full-stack run, each method in its
  own process (``ru_maxrss``; the bare imports of torch and pointillist take
  the "import only" row's memory).

The figure (``docs/compare.png``): the truth and one image per method, same
colour map, each linearly scaled from 0 to its own 99.5th percentile (the
methods' units differ, so a common scale would hide all but one); the FRC
curves in ``docs/compare_frc.png``.

    .venv/bin/python benchmarks/compare.py            # figure + docs/benchmarks.md section, ~7 min on 2 cores
    .venv/bin/python benchmarks/compare.py --no-docs  # into bench_out/compare/ only
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path
from queue import Empty

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import ROOT, replace_section  # noqa: E402

METHODS = ("COL0RME-CEL0", "COL0RME-l1", "PnP-COL0RME", "SOFI", "SRRF", "SPARCOM", "LSPARCOM")
OPTICS_KW = dict(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4)
SIM_KW = dict(shape=(32, 32), n_frames=500, structure="filaments", n_structures=4, snr_db=15.0)
SEED = 7
TOLERANCE_NM = 40.0


def simulate(seed=SEED):
    from pointillist.optics import Optics
    from pointillist.simulate import Camera, simulate_fluctuation

    optics = Optics(**OPTICS_KW)
    camera = Camera(background=50.0, read_noise=0.0, gain=1.0, offset=0.0, quantize=False)
    return optics, simulate_fluctuation(optics=optics, camera=camera, seed=seed, **SIM_KW)


def reconstruct(method, stack, optics):
    """(image, support or None) of one method with its defaults."""
    import pointillist as pt

    if method.startswith("COL0RME"):
        res = pt.colorme(stack, optics=optics, penalty=method.split("-")[1].lower())
        return res.intensity, res.support
    if method == "PnP-COL0RME":
        res = pt.pnp_colorme(stack, optics=optics)
        return res.intensity, res.support
    res = getattr(pt, method.lower())(stack, optics=optics)
    return res.image, res.support


def _job(job, queue):
    optics, sim = simulate()
    if job["part"] == "none":
        import pointillist  # noqa: F401  (the import-only baseline)
        import torch  # noqa: F401

        queue.put({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
        return
    stack = {"full": sim.stack, "even": sim.stack[0::2], "odd": sim.stack[1::2]}[job["part"]]
    t0 = time.perf_counter()
    image, support = reconstruct(job["method"], stack, optics)
    queue.put({"seconds": time.perf_counter() - t0, "image": np.asarray(image, dtype=np.float64),
               "support": None if support is None else np.asarray(support, dtype=bool),
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def run_job(**job):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_job, args=(job, queue))
    proc.start()
    while True:  # a child that dies before answering must not leave us waiting forever
        try:
            out = queue.get(timeout=5)
            break
        except Empty:
            if not proc.is_alive():
                raise RuntimeError(f"benchmark job {job} failed (exit code {proc.exitcode})") from None
    proc.join()
    return out


def _blur(image):
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(np.asarray(image, dtype=np.float64), 1.0)


def score(optics, sim, full, even, odd) -> dict:
    from pointillist.metrics import correlation, fourier_ring_correlation, support_jaccard

    border = int(round(3 * optics.sigma_px)) * optics.upsample
    c = (slice(border, -border), slice(border, -border))
    out = {"seconds": full["seconds"], "peak_rss_mb": full["peak_rss_mb"],
           "correlation": correlation(_blur(sim.mean_intensity)[c], _blur(full["image"])[c])}
    if full["support"] is not None:
        out["jaccard"] = support_jaccard(full["support"][c], sim.support[c],
                                         tolerance_px=TOLERANCE_NM / optics.fine_pixel_nm).jaccard
    frc = fourier_ring_correlation(even["image"], odd["image"], pixel_size_nm=optics.fine_pixel_nm)
    out["frc_nm"], out["frc_min"], out["frc_curve"] = frc.resolution_nm, float(frc.curve.min()), frc.curve.tolist()
    return out


def figure(optics, sim, images, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    border = int(round(3 * optics.sigma_px)) * optics.upsample
    c = (slice(border, -border), slice(border, -border))
    panels = [("ground truth (mean intensity)", sim.mean_intensity)] + [(m, images[m]) for m in METHODS]
    fig, axes = plt.subplots(2, 4, figsize=(13, 7.4))
    for ax, (title, img) in zip(axes.flat, panels):
        img = np.asarray(img, dtype=np.float64)[c]
        top = np.percentile(img, 99.5)
        ax.imshow(img, cmap="magma", vmin=0, vmax=top if top > 0 else None, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"Simulated filaments, {SIM_KW['shape'][0]} x {SIM_KW['shape'][1]} camera pixels of 100 nm, "
                 f"T = {SIM_KW['n_frames']}, SNR {SIM_KW['snr_db']:g} dB, q = 4 (25 nm pixels); each image on "
                 "its own 0 to 99.5th-percentile scale", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96), h_pad=2.0)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def frc_figure(optics, rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pointillist.metrics.resolution import FRC_THRESHOLD

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for m in METHODS:
        curve = np.asarray(rows[m]["frc_curve"])
        n = 2 * len(curve)  # rings up to the Nyquist frequency of an n x n image
        ax.plot(np.arange(len(curve)) / (n * optics.fine_pixel_nm) * 1000, curve, label=m)
    ax.axhline(FRC_THRESHOLD, color="k", lw=0.8, ls="--", label="1/7")
    ax.set_xlabel("spatial frequency (1/um)")
    ax.set_ylabel("FRC, even vs odd frames")
    ax.set_ylim(-0.1, 1.05)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def table(rows, baseline_mb) -> str:
    lines = ["| method | support Jaccard 40 nm (%) | correlation with truth | FRC resolution, even/odd frames (nm) | "
             "seconds | peak RSS (MB) |", "|---|---|---|---|---|---|"]
    for m in METHODS:
        r = rows[m]
        jac = f"{r['jaccard']:.1f}" if "jaccard" in r else "n/a"
        frc = f"{r['frc_nm']:.0f}" if np.isfinite(r["frc_nm"]) else f"< 50 (FRC >= {r['frc_min']:.2f})"
        lines.append(f"| {m} | {jac} | {r['correlation']:.3f} | {frc} | {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} |")
    lines.append(f"| (import only) | | | | | {baseline_mb:.0f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--no-docs", action="store_true", help="write into bench_out/compare/ only")
    parser.add_argument("--replot", action="store_true",
                        help="redraw the figure and table from the last run's bench_out/compare/ files")
    args = parser.parse_args(argv)
    out_dir = ROOT / "bench_out" / "compare"
    out_dir.mkdir(parents=True, exist_ok=True)
    optics, sim = simulate()
    if args.replot:
        saved = json.loads((out_dir / "rows.json").read_text())
        missing = [m for m in METHODS if m not in saved["rows"]]
        if missing:
            parser.error(f"the last run did not cover {', '.join(missing)}: run every method before --replot")
        with np.load(out_dir / "images.npz") as f:
            images = {m: f[m] for m in METHODS}
        _publish(args, optics, sim, saved["rows"], images, saved["baseline_mb"], out_dir)
        return
    rows, images = {}, {}
    baseline_mb = run_job(part="none")["peak_rss_mb"]
    for m in args.methods:
        full, even, odd = (run_job(method=m, part=p) for p in ("full", "even", "odd"))
        rows[m] = score(optics, sim, full, even, odd)
        images[m] = full["image"]
        print(json.dumps({"method": m, **{k: v for k, v in rows[m].items() if not k.endswith("curve")}}),
              flush=True)
    (out_dir / "rows.json").write_text(json.dumps({"rows": rows, "baseline_mb": baseline_mb}, indent=1))
    np.savez_compressed(out_dir / "images.npz", **images)
    if set(args.methods) == set(METHODS):
        _publish(args, optics, sim, rows, images, baseline_mb, out_dir)


def _publish(args, optics, sim, rows, images, baseline_mb, out_dir):
    text = table(rows, baseline_mb)
    print(text)
    folder = out_dir if args.no_docs else ROOT / "docs"
    figure(optics, sim, images, folder / "compare.png")
    frc_figure(optics, rows, folder / "compare_frc.png")
    if not args.no_docs:
        replace_section("compare-table", text)


if __name__ == "__main__":
    main()
