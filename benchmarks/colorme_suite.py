"""COL0RME's support step on the robustness suite (benchmarks/robustness_suite.py): defaults vs the oracle.

For every stack of the suite and each penalty (CEL0, l1, TV; PnP-COL0RME's
support step as ``pnp``), the covariance statistics are computed once (the
whole field is one tile: fields are at most 64 camera pixels; blocks of
``--block-frames`` frames, 0 for the whole stack as before issue 16) and the
support is solved for a grid of lambda / lambda_max (PnP: its default mu
only); reported per stack:

* the old pipeline (whole-stack covariance) at its default ratio;
* the new pipeline (blocks of 100 frames) at the default ratio;
* the oracle: the new pipeline at the best lambda of the grid for that
  stack (TV and PnP, whose r has no exact zeros: also the best support
  threshold of ``THRESHOLDS``), which needs the truth;
* the noise variance estimate s of both at the default, against the truth.

The support Jaccard is scored as in benchmarks/colorme.py: 40 nm
tolerance, a border of round(3 sigma / p) camera pixels removed. Results
are cached per (stack, penalty, ratio) in ``--cache``.

    .venv/bin/python benchmarks/colorme_suite.py --block-frames 0 --default-only   # the old pipeline
    .venv/bin/python benchmarks/colorme_suite.py                       # the sweep; writes the docs table
    .venv/bin/python benchmarks/colorme_suite.py --role calibration --penalties l1
    .venv/bin/python benchmarks/colorme_suite.py --role test --penalties pnp          # PnP on the test stacks
    .venv/bin/python benchmarks/colorme_suite.py --penalties cel0 l1 tv pnp --cached-only   # the docs table
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import replace_section  # noqa: E402
from robustness_suite import suite  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RATIOS = {"cel0": np.logspace(-7, -2, 6), "l1": np.logspace(-3.5, -0.5, 7), "tv": np.logspace(-7, -3, 5),
          "pnp": np.array([]), }
#: support thresholds (fraction of max r) scored for TV and PnP, whose r has no exact zeros
THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
PENALTIES = ("cel0", "l1", "tv", "pnp")


def _default_ratio(penalty):
    """The default lambda / lambda_max, or for PnP the default denoiser scaling mu (its cache key)."""
    from pointillist.methods.colorme.support import DEFAULT_LAMBDA_RATIO
    from pointillist.methods.pnp.support import DEFAULT_MU

    return DEFAULT_MU if penalty == "pnp" else DEFAULT_LAMBDA_RATIO[penalty]


def _stats(gen, upsample, block_frames=None):
    from pointillist.acquisition import as_acquisition
    from pointillist.covariance import covariance_statistics
    from pointillist.operators import imaging_operator
    from pointillist.optics import Optics

    optics = Optics(pixel_size_nm=gen.spec.pixel_nm, psf_fwhm_nm=gen.spec.psf_fwhm_nm, upsample=upsample)
    acq = as_acquisition(gen.stack, offset=gen.offset, gain=gen.gain)
    psi = imaging_operator(optics, acq.frame_shape)
    return optics, psi, covariance_statistics(acq, psi, block=block_frames)


def score(optics, support, truth) -> float:
    from pointillist.metrics import support_jaccard

    border = int(round(3 * optics.sigma_px)) * optics.upsample
    return support_jaccard(support, truth, tolerance_px=40.0 / optics.fine_pixel_nm, crop=border).jaccard


def _support_run(penalty, ratio, stats, psi, op, pnp_max_iter):
    """One support solve: the result, its noise variance s, the variance map r and whether it converged."""
    from pointillist.methods.colorme.support import DEFAULT_THRESHOLD, estimate_support

    if penalty == "pnp":
        from pointillist.denoisers import load_denoiser
        from pointillist.methods.pnp.support import pnp_support
        from pointillist.solvers import SolverOptions

        # the covariance model pnp_colorme picks: the pixel variances at q = 1, every lag otherwise
        covariance = "diagonal" if psi.in_shape == psi.out_shape else "full"
        sup = pnp_support(stats, psi, load_denoiser().net, mu=ratio, covariance=covariance,
                          options=SolverOptions(max_iter=pnp_max_iter, tol=1e-4))
        return sup, sup.threshold
    sup = estimate_support(stats, op, penalty=penalty, lambda_ratio=ratio, restarts=0)
    return sup, DEFAULT_THRESHOLD[penalty]


def run_stack(name, spec, penalties, cache: Path, *, block_frames=None, default_only=False,
              pnp_max_iter=2000, cached_only=False) -> list[dict]:
    """Every (penalty, ratio) result of one stack, from the cache where present (only there with ``cached_only``)."""
    from pointillist.covariance import CovarianceFit
    from pointillist.methods.colorme.support import support_operator

    from fluctsim import generate

    path = cache / f"{name}.jsonl"
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:  # the last line of a run that was killed while writing it
                continue
            done[(r["penalty"], round(np.log10(r["ratio"]), 6))] = r
    grid = {p: [_default_ratio(p)] if default_only else [*RATIOS[p], _default_ratio(p)] for p in penalties}
    todo = [(p, float(r)) for p in penalties for r in grid[p] if (p, round(np.log10(r), 6)) not in done]
    if todo and not cached_only:
        gen = generate(spec)
        t0 = time.perf_counter()
        optics, psi, stats = _stats(gen, spec.upsample, block_frames)
        t_stats = time.perf_counter() - t0
        op = support_operator(psi)
        with path.open("a") as fh:
            for penalty, ratio in todo:
                t0 = time.perf_counter()
                sup, threshold = _support_run(penalty, ratio, stats, psi, op, pnp_max_iter)
                seconds = time.perf_counter() - t0
                fit = CovarianceFit(op, stats)
                # |R_y - Psi diag(r) Psi^T - s I|_F^2 in data units, and the sampling error expected of R_y
                residual2 = 2 * fit.value(sup.variance_map / fit.scale) * fit.scale**2
                rmap = sup.variance_map.cpu().numpy()
                by_threshold = {str(t): score(optics, rmap > t * rmap.max(), gen.support) for t in THRESHOLDS}
                r = {"stack": name, "penalty": penalty, "ratio": ratio, "threshold": threshold,
                     "jaccard": score(optics, sup.support.cpu().numpy(), gen.support),
                     "jaccard_by_threshold": by_threshold if penalty in ("tv", "pnp") else None,
                     "s": sup.noise_variance, "s_true": gen.noise_variance, "n_iter": sup.n_iter,
                     "converged": bool(sup.converged), "seconds": seconds, "stats_seconds": t_stats,
                     "support_pixels": int(sup.support.sum()), "true_support_pixels": int(gen.support.sum()),
                     "residual2": residual2, "frob2": stats.frob2, "trace": stats.trace, "frames": stats.n_frames,
                     "camera_pixels": op.n_camera_pixels, "lambda_max": getattr(sup, "lambda_max", None),
                     "lam": getattr(sup, "lam", None),
                     "scale": stats.scale}
                fh.write(json.dumps(r) + "\n")
                fh.flush()
                done[(penalty, round(np.log10(ratio), 6))] = r
                print(f"{name} {penalty} {ratio:.2e} J {r['jaccard']:.1f} s {r['s']:.1f}/{r['s_true']:.1f} "
                      f"{r['seconds']:.1f}s", flush=True)
    return list(done.values())


def _at(rows, penalty, ratio):
    hit = [r for r in rows if r["penalty"] == penalty and abs(np.log10(r["ratio"] / ratio)) < 1e-6]
    return hit[0] if hit else None


def _best(rows):
    """The oracle: the best Jaccard over the grid (and, for TV and PnP, over the support thresholds) and where."""
    cands = []
    for r in rows:
        for thr, jac in (r.get("jaccard_by_threshold") or {None: r["jaccard"]}).items():
            cands.append((jac, r["ratio"], thr))
    jac, ratio, thr = max(cands, key=lambda c: c[0])
    return jac, f"{ratio:.0e}" + (f", {float(thr):g}" if thr is not None else "")


def _at_default_threshold(row, penalty) -> float:
    """The Jaccard at today's default support threshold (TV and PnP rows keep every threshold's score)."""
    from pointillist.methods.colorme.support import DEFAULT_THRESHOLD
    from pointillist.methods.pnp.support import DEFAULT_THRESHOLD as PNP_THRESHOLD

    scores = row.get("jaccard_by_threshold")
    if not scores:
        return row["jaccard"]
    return scores[str(PNP_THRESHOLD if penalty == "pnp" else DEFAULT_THRESHOLD[penalty])]


def table(old: dict, new: dict, penalties) -> str:
    """Per stack: old pipeline at its default, new pipeline at the default and at the oracle lambda, s vs truth."""
    head = ["stack", "role"]
    for p in penalties:
        head += [f"{p} old", f"{p} new", f"{p} oracle ({'mu, threshold' if p == 'pnp' else 'ratio'})",
                 f"{p} s old / new / true"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    sums = {}
    for (name, role), rows in new.items():
        cells = [name, role]
        for p in penalties:
            grid = {round(float(np.log10(v)), 6) for v in [*RATIOS[p], _default_ratio(p)]}
            mine = [r for r in rows if r["penalty"] == p and round(float(np.log10(r["ratio"])), 6) in grid]
            was = _at(old.get((name, role), []), p, _default_ratio(p))
            now = _at(rows, p, _default_ratio(p))
            if now is None:
                cells += ["-"] * 4
                continue
            best, where = _best(mine)
            now = dict(now, jaccard=_at_default_threshold(now, p))
            cells += [f"{was['jaccard']:.1f}" if was else "-", f"{now['jaccard']:.1f}", f"{best:.1f} ({where})",
                      f"{was['s']:.4g} / {now['s']:.4g} / {now['s_true']:.4g}" if was else
                      f"- / {now['s']:.4g} / {now['s_true']:.4g}"]
            for key, value in (("old", was["jaccard"] if was else np.nan), ("new", now["jaccard"]),
                               ("oracle", best),
                               ("s_err_old", abs(was["s"] / was["s_true"] - 1) * 100 if was else np.nan),
                               ("s_err_new", abs(now["s"] / now["s_true"] - 1) * 100)):
                sums.setdefault((role, p, key), []).append(value)
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| part | penalty | old default | new default | oracle | new within 5 of the oracle | "
              "median abs(s error) old / new (%) |", "|---|---|---|---|---|---|---|"]
    for role in ("calibration", "test"):
        for p in penalties:
            if (role, p, "new") not in sums:
                continue
            g = {k: np.array(sums[(role, p, k)]) for k in ("old", "new", "oracle", "s_err_old", "s_err_new")}
            within = int(np.sum(g["oracle"] - g["new"] <= 5.0))
            old_j, old_s = ((f"{np.nanmean(g['old']):.1f}", f"{np.nanmedian(g['s_err_old']):.1f}")
                            if np.isfinite(g["old"]).any() else ("-", "-"))
            lines.append(f"| {role} | {p} | {old_j} | {g['new'].mean():.1f} | {g['oracle'].mean():.1f} | "
                         f"{within} of {len(g['new'])} | {old_s} / {np.median(g['s_err_new']):.1f} |")
    return "\n".join(lines)


def figure(names, path: Path, block_frames) -> None:
    """Supports side by side: the truth, the old pipeline and the new one (CEL0 at its default), on ``names``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from pointillist.methods.colorme.support import estimate_support, support_operator

    from fluctsim import generate

    specs = {name: spec for name, _, spec in suite()}
    fig, axes = plt.subplots(len(names), 3, figsize=(9, 3 * len(names)), squeeze=False)
    for row, name in zip(axes, names):
        gen = generate(specs[name])
        panels = [("truth", gen.support, None)]
        for label, block in (("old: whole stack", None), (f"new: blocks of {block_frames}", block_frames)):
            optics, psi, stats = _stats(gen, gen.spec.upsample, block)
            sup = estimate_support(stats, support_operator(psi), penalty="cel0", restarts=0).support.cpu().numpy()
            panels.append((label, sup, score(optics, sup, gen.support)))
        for ax, (label, img, jac) in zip(row, panels):
            ax.imshow(img, cmap="gray_r", interpolation="nearest")
            ax.set_title(f"{name} {label}" + (f"\nJaccard {jac:.1f} %" if jac is not None else ""), fontsize=9)
            ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", choices=["calibration", "test"], default=None)
    parser.add_argument("--stacks", nargs="*", default=None, help="only these stack names")
    parser.add_argument("--penalties", nargs="+", default=["cel0", "l1"], choices=list(PENALTIES))
    parser.add_argument("--pnp-max-iter", type=int, default=2000, help="PnP iteration cap (default 2000)")
    parser.add_argument("--cached-only", action="store_true", help="tabulate what the cache holds, solve nothing")
    parser.add_argument("--block-frames", type=int, default=None,
                        help="frames per covariance block (default: COL0RME's DEFAULT_BLOCK_FRAMES; 0: whole stack)")
    parser.add_argument("--default-only", action="store_true", help="only the default lambda ratios")
    parser.add_argument("--figure", nargs="+", metavar="STACK", default=None,
                        help="draw docs/colorme_suite.png (CEL0 supports, old and new pipeline) for these stacks")
    parser.add_argument("--cache", type=Path, default=ROOT / "bench_out" / "colorme_suite")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from pointillist.methods.colorme.tiled import DEFAULT_BLOCK_FRAMES

    block = DEFAULT_BLOCK_FRAMES if args.block_frames is None else (args.block_frames or None)
    caches = {None: args.cache / "global"}
    if block is not None:
        caches[block] = args.cache / f"block{block}"
    for folder in caches.values():
        folder.mkdir(parents=True, exist_ok=True)
    if args.figure:
        figure(args.figure, ROOT / "docs" / "colorme_suite.png", block)
        return
    old, new = {}, {}
    for name, role, spec in suite(args.role):
        if args.stacks and name not in args.stacks:
            continue
        new[(name, role)] = run_stack(name, spec, args.penalties, caches[block], block_frames=block,
                                      default_only=args.default_only, pnp_max_iter=args.pnp_max_iter,
                                      cached_only=args.cached_only)
        path = caches[None] / f"{name}.jsonl"
        if block is not None and path.exists():
            old[(name, role)] = [json.loads(line) for line in path.read_text().splitlines()]
    body = table(old, new, args.penalties)
    print(body)
    # the docs hold the whole suite, swept with the default blocks
    if (args.role is None and not args.stacks and {"cel0", "l1"} <= set(args.penalties) and not args.default_only
            and block == DEFAULT_BLOCK_FRAMES):
        replace_section("colorme-suite", body)


if __name__ == "__main__":
    sys.exit(main())
