"""PnP-COL0RME benchmark: the mu x sigma sensitivity grid of the talk, and COL0RME-CEL0/l1 on the same stacks.

Two settings, simulated filaments (T = 500, SNR 15 dB, Poisson + Gaussian noise,
background 50 photons), three stacks (seeds) each:

* ``q1``: the talk's deconvolution setting, q = 1, PnP fits the pixel variances
  only (diagonal of R_y), 48 x 48 camera pixels of 100 nm;
* ``q4``: super-resolution, q = 4, PnP fits the full covariance, 24 x 24 camera
  pixels (96 x 96 fine pixels of 25 nm).

For each stack: PnP-COL0RME for mu in {0.4, 0.7, 1.0} x sigma in {5, 10, 20}/255
(shipped denoiser, default threshold), COL0RME-CEL0 and COL0RME-l1 with their
defaults. Support Jaccard with a tolerance of 1.6 grid pixels (40 nm at q = 4,
as the COL0RME benchmark; 160 nm at q = 1), after removing a border of 3 sigma
(as the reference code). Also recorded: whether G decreased in every iteration,
iterations, seconds, and the best Jaccard over support thresholds
{0.05, ..., 0.4} (an oracle, to tell the threshold rule from the estimate).

    .venv/bin/python benchmarks/pnp_colorme.py            # table + figures, docs/benchmarks.md section
    .venv/bin/python benchmarks/pnp_colorme.py --seeds 1  # quicker
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import ROOT, replace_section  # noqa: E402

MUS = (0.4, 0.7, 1.0)
SIGMAS = (5.0, 10.0, 20.0)
THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4)
SETTINGS = {
    "q1": dict(upsample=1, shape=(48, 48), n_structures=5, covariance="diagonal"),
    "q4": dict(upsample=4, shape=(24, 24), n_structures=3, covariance="full"),
}
SNR_DB = 15.0


def simulate(setting, seed):
    from pointillist.optics import Optics
    from pointillist.simulate import Camera, simulate_fluctuation

    cfg = SETTINGS[setting]
    optics = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=cfg["upsample"])
    camera = Camera(background=50.0, read_noise=0.0, gain=1.0, offset=0.0, quantize=False)
    sim = simulate_fluctuation(optics=optics, shape=cfg["shape"], n_frames=500, structure="filaments",
                               n_structures=cfg["n_structures"], camera=camera, snr_db=SNR_DB, seed=seed)
    return optics, sim


def _crop(optics):
    border = int(round(3 * optics.sigma_px)) * optics.upsample
    return (slice(border, -border), slice(border, -border))


def jaccard(optics, support, truth) -> float:
    from pointillist.metrics import support_jaccard

    c = _crop(optics)
    return support_jaccard(support[c], truth[c] > 0, tolerance_px=1.6).jaccard


def run_setting(setting, seeds, denoiser):
    from pointillist import colorme, pnp_colorme

    rows, examples = [], {}
    for seed in seeds:
        optics, sim = simulate(setting, seed)
        cov = SETTINGS[setting]["covariance"]
        for penalty in ("cel0", "l1"):
            t0 = time.perf_counter()
            res = colorme(sim.stack, optics=optics, penalty=penalty, mu=0.05)
            rows.append({"setting": setting, "seed": seed, "method": f"COL0RME-{penalty.upper()}",
                         "jaccard": jaccard(optics, res.support, sim.support), "seconds": time.perf_counter() - t0,
                         "support_pixels": int(res.support.sum())})
            print(json.dumps(rows[-1]), flush=True)
            if seed == seeds[0]:
                examples[rows[-1]["method"]] = res.support
        for mu in MUS:
            for sigma in SIGMAS:
                t0 = time.perf_counter()
                # intensity smoothness fixed: only the support is scored here
                res = pnp_colorme(sim.stack, optics=optics, mu=mu, sigma=sigma, covariance=cov, denoiser=denoiser,
                                  intensity_mu=0.05)
                seconds = time.perf_counter() - t0
                r = res.variance_map
                g = res.history["support"]["objective"]
                rows.append({
                    "setting": setting, "seed": seed, "method": "PnP-COL0RME", "mu": mu, "sigma": sigma,
                    "jaccard": jaccard(optics, res.support, sim.support),
                    "best_threshold_jaccard": max(jaccard(optics, r > t * r.max(), sim.support) for t in THRESHOLDS),
                    "g_decreasing": res.parameters["objective_decreasing"], "iterations": res.iterations,
                    "g_first": g[0], "g_last": g[-1], "seconds": seconds, "support_pixels": int(res.support.sum()),
                })
                print(json.dumps(rows[-1]), flush=True)
                if seed == seeds[0]:
                    examples[(mu, sigma)] = (res.support, g)
        if seed == seeds[0]:
            examples["truth"] = sim.support > 0
            examples["optics"] = optics
    return rows, examples


def figure(setting, examples, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    optics = examples["optics"]
    c = _crop(optics)
    fig, axes = plt.subplots(4, 4, figsize=(13, 13))
    top = [("ground truth", examples["truth"]), ("COL0RME-CEL0", examples["COL0RME-CEL0"]),
           ("COL0RME-L1", examples["COL0RME-L1"])]
    for ax, (title, img) in zip(axes[0, :3], top):
        ax.imshow(img[c], cmap="gray_r", interpolation="nearest")
        ax.set_title(title)
    ax_g = axes[0, 3]
    for mu in MUS:
        for sigma in SIGMAS:
            g = np.asarray(examples[(mu, sigma)][1])
            ax_g.plot(np.arange(1, len(g) + 1), (g - g[-1]) / max(abs(g[0] - g[-1]), 1e-300) + 1e-6,
                      label=f"mu {mu:g}, sigma {sigma:g}")
    ax_g.set_yscale("log")
    ax_g.set_title("(G_k - G_last) / (G_1 - G_last)")
    ax_g.set_xlabel("iteration")
    ax_g.legend(fontsize=6)
    for i, mu in enumerate(MUS):
        for j, sigma in enumerate(SIGMAS):
            ax = axes[i + 1, j]
            ax.imshow(examples[(mu, sigma)][0][c], cmap="gray_r", interpolation="nearest")
            ax.set_title(f"PnP mu = {mu:g}, sigma = {sigma:g}/255")
        axes[i + 1, 3].axis("off")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    q = optics.upsample
    fig.suptitle(f"Supports on simulated filaments, setting {setting} (q = {q}, {SETTINGS[setting]['covariance']} "
                 f"covariance for PnP), SNR {SNR_DB:g} dB, first stack")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def summarise(rows) -> str:
    lines = ["| setting | method | mu | sigma (/255) | support Jaccard (%) | best-threshold Jaccard (%) | "
             "G decreasing (runs) | iterations | seconds |", "|---|---|---|---|---|---|---|---|---|"]
    for setting in SETTINGS:
        sub = [r for r in rows if r["setting"] == setting]
        if not sub:
            continue
        n = len({r["seed"] for r in sub})
        for method in ("COL0RME-CEL0", "COL0RME-L1"):
            rs = [r for r in sub if r["method"] == method]
            j = np.array([r["jaccard"] for r in rs])
            lines.append(f"| {setting} | {method} | | | {j.mean():.1f} ± {j.std():.1f} | | | | "
                         f"{np.mean([r['seconds'] for r in rs]):.1f} |")
        for mu in MUS:
            for sigma in SIGMAS:
                rs = [r for r in sub if r["method"] == "PnP-COL0RME" and r["mu"] == mu and r["sigma"] == sigma]
                j = np.array([r["jaccard"] for r in rs])
                b = np.array([r["best_threshold_jaccard"] for r in rs])
                dec = sum(r["g_decreasing"] for r in rs)
                lines.append(f"| {setting} | PnP-COL0RME | {mu:g} | {sigma:g} | {j.mean():.1f} ± {j.std():.1f} | "
                             f"{b.mean():.1f} | {dec}/{len(rs)} | {np.mean([r['iterations'] for r in rs]):.0f} | "
                             f"{np.mean([r['seconds'] for r in rs]):.1f} |")
        lines.append(f"| {setting} | ({n} stacks) | | | | | | | |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="stacks per setting (default 3)")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--weights", default=None, help="denoiser checkpoint (default: the shipped one)")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args()
    from pointillist.denoisers import load_denoiser

    denoiser = load_denoiser(args.weights)
    seeds = list(range(1, args.seeds + 1))
    rows = []
    out_dir = ROOT / "bench_out" / "pnp_colorme"
    out_dir.mkdir(parents=True, exist_ok=True)
    for setting in args.settings:
        r, ex = run_setting(setting, seeds, denoiser)
        rows += r
        figure(setting, ex, (out_dir if args.no_docs else ROOT / "docs") / f"pnp_colorme_{setting}.png")
    (out_dir / "rows.json").write_text(json.dumps(rows, indent=1))
    text = summarise(rows)
    print(text)
    if not args.no_docs:
        replace_section("pnp-colorme-table", text)


if __name__ == "__main__":
    main()
