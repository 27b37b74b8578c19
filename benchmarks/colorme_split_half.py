"""Split-half reproducibility as a rule for COL0RME's lambda, measured on the robustness suite.

For every stack of the suite (benchmarks/robustness_suite.py) the support is solved at five
lambda / lambda_max ratios per penalty on the whole stack (blocks of 100 frames) and on its even
and its odd frames (blocks of 50: the same time span). Supports are cached in
``bench_out/split_half/NAME.npz``. Rules then pick a ratio per stack from the two halves only:

* ``halves J``: the ratio whose two half-supports agree best (Jaccard within 40 nm);
* ``tp - c (fp + fn)``: matched pixels minus c times unmatched ones (c = 0.25, 0.5, 1, 2).

Each rule's Jaccard against the truth (whole stack, 40 nm, 3-sigma border) is compared with the
fixed default ratio and with the best of the five (the oracle), per part of the suite.

    .venv/bin/python benchmarks/colorme_split_half.py --threads 1    # about 40 minutes on one core
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from robustness_suite import suite  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GRID = {"cel0": [-6.0, -5.0, -4.0, -3.0, -2.0], "l1": [-3.0, -2.5, -2.0, -1.5, -1.0]}
DEFAULT = {"cel0": -5.0, "l1": -2.0}
PARTS = (("full", slice(None), 100), ("even", slice(0, None, 2), 50), ("odd", slice(1, None, 2), 50))


def supports(name, spec, cache: Path) -> dict:
    """The cached supports of one stack (computed if absent)."""
    path = cache / f"{name}.npz"
    if path.exists():
        return dict(np.load(path))
    from pointillist.acquisition import as_acquisition
    from pointillist.covariance import covariance_statistics
    from pointillist.methods.colorme.support import estimate_support, support_operator
    from pointillist.operators import imaging_operator
    from pointillist.optics import Optics

    from fluctsim import generate

    gen = generate(spec)
    optics = Optics(pixel_size_nm=spec.pixel_nm, psf_fwhm_nm=spec.psf_fwhm_nm, upsample=spec.upsample)
    data = {"truth": gen.support, "s_true": np.array(gen.noise_variance)}
    for part, frames, block in PARTS:
        acq = as_acquisition(gen.stack[frames], offset=gen.offset, gain=gen.gain)
        psi = imaging_operator(optics, acq.frame_shape)
        stats = covariance_statistics(acq, psi, block=block)
        op = support_operator(psi)
        for penalty, grid in GRID.items():
            for e in grid:
                sup = estimate_support(stats, op, penalty=penalty, lambda_ratio=10.0**e, restarts=0)
                data[f"{part}_{penalty}_{e:.2f}"] = sup.support.cpu().numpy()
                data[f"{part}_{penalty}_{e:.2f}_s"] = np.array(sup.noise_variance)
    np.savez_compressed(path, **data)
    return data


def score_rows(name, role, spec, data) -> list[dict]:
    from pointillist.metrics import support_jaccard
    from pointillist.optics import Optics

    optics = Optics(pixel_size_nm=spec.pixel_nm, psf_fwhm_nm=spec.psf_fwhm_nm, upsample=spec.upsample)
    border = int(round(3 * optics.sigma_px)) * optics.upsample
    tol = 40.0 / optics.fine_pixel_nm
    rows = []
    for penalty, grid in GRID.items():
        for e in grid:
            key = f"{penalty}_{e:.2f}"
            truth = support_jaccard(data["full_" + key], data["truth"], tolerance_px=tol, crop=border)
            halves = support_jaccard(data["even_" + key], data["odd_" + key], tolerance_px=tol, crop=border)
            rows.append({"stack": name, "role": role, "penalty": penalty, "e": e, "jaccard": truth.jaccard,
                         "tp": halves.tp, "fp": halves.fp, "fn": halves.fn, "halves": halves.jaccard})
    return rows


RULES = {"default": lambda rs, p: next(r for r in rs if r["e"] == DEFAULT[p]),
         "halves J": lambda rs, p: max(rs, key=lambda r: r["halves"])}
for _c in (0.25, 0.5, 1.0, 2.0):
    RULES[f"tp - {_c:g} (fp + fn)"] = (lambda c: lambda rs, p: max(rs, key=lambda r: r["tp"] - c * (r["fp"] + r["fn"]))
                                       )(_c)


def table(rows) -> str:
    lines = ["| penalty | part | oracle | " + " | ".join(RULES) + " |", "|---|---|---|" + "---|" * len(RULES)]
    for penalty in GRID:
        for role in ("calibration", "test"):
            stacks = sorted({r["stack"] for r in rows if r["role"] == role})
            if not stacks:
                continue
            per = {s: [r for r in rows if r["stack"] == s and r["penalty"] == penalty] for s in stacks}
            oracle = {s: max(r["jaccard"] for r in rs) for s, rs in per.items()}
            cells = []
            for rule in RULES.values():
                picked = {s: rule(rs, penalty)["jaccard"] for s, rs in per.items()}
                within = sum(oracle[s] - picked[s] <= 5.0 for s in stacks)
                cells.append(f"{np.mean(list(picked.values())):.1f} ({within}/{len(stacks)})")
            lines.append(f"| {penalty} | {role} | {np.mean(list(oracle.values())):.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=ROOT / "bench_out" / "split_half")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    args.cache.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, role, spec in suite():
        t0 = time.perf_counter()
        rows += score_rows(name, role, spec, supports(name, spec, args.cache))
        print(f"{name} {time.perf_counter() - t0:.0f} s", flush=True)
    print("Mean support Jaccard (%) of the ratio each rule picks (stacks within 5 points of the oracle):\n")
    print(table(rows))


if __name__ == "__main__":
    sys.exit(main())
