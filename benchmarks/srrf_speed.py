"""SRRF speed: 100 frames of 64 x 64, magnification 4 (target: several times faster than NanoPyx eSRRF).

Times pointillist's SRRF (TRA) and its eSRRF-like variant (best of 3 runs after
one warm-up, torch's default thread count) and, where ``nanopyx`` can be
imported, NanoPyx's eSRRF and SRRF on the same stack. Quality: Pearson
correlation of each image with the ground-truth mean intensity blurred by a
Gaussian of 1 fine pixel, over the frame less 2 camera pixels at each edge
(SRRF images are zero near the edges), as it is and at the best whole-pixel
shift within 3 fine pixels (NanoPyx's eSRRF image lies half a camera pixel
off the grid of its SRRF and of pointillist's). Without nanopyx the speed-up
is given against a quoted NanoPyx eSRRF time.

Run: .venv/bin/python benchmarks/srrf_speed.py [--docs]
(with an interpreter that has nanopyx installed to re-measure NanoPyx;
``--docs`` writes the table into docs/benchmarks.md).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from pointillist.methods.baselines.srrf import catmull_rom_matrix, srrf
from pointillist.optics import Optics
from pointillist.simulate import simulate_fluctuation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import replace_section  # noqa: E402

QUOTED_NANOPYX_ESRRF_S = 8.4  # NanoPyx eSRRF x4 on this stack size, measured on this CPU (quoted)
BORDER = 2  # camera px left out of the correlations


def best_of(fn, repeats=3):
    fn()  # warm-up
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def pearson(image, truth, q):
    cut = BORDER * q
    a, b = image[cut:-cut, cut:-cut].ravel(), truth[cut:-cut, cut:-cut].ravel()
    return float(np.corrcoef(a, b)[0, 1])


def best_shift_pearson(image, truth, q, reach=3):
    """The best Pearson over whole fine-pixel shifts of ``image``, and that shift (rows, columns)."""
    shifts = [(dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)]
    scores = [pearson(np.roll(image, s, axis=(0, 1)), truth, q) for s in shifts]
    k = int(np.argmax(scores))
    return scores[k], shifts[k]


def nanopyx_runs(stack, q):
    """NanoPyx eSRRF and SRRF (seconds, image), or a reason why they could not run."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nanopyx warns about absent OpenCL, Numba, Dask
            from nanopyx.methods import SRRF, eSRRF
    except ImportError as exc:
        return {}, f"nanopyx is not importable here ({exc})"
    runs, problems = {}, []
    data = np.ascontiguousarray(stack, dtype=np.float32)
    calls = {
        "NanoPyx eSRRF (AVG)": lambda: np.asarray(eSRRF(data, magnification=q, radius=1.5, sensitivity=1)),
        "NanoPyx SRRF (TRA)": lambda: np.asarray(SRRF(data, magnification=q, ringRadius=0.5)).mean(axis=0),
    }
    for name, call in calls.items():
        try:
            runs[name] = best_of(call)
        except Exception as exc:  # a benchmark of a third-party API: report and go on
            problems.append(f"{name} failed: {type(exc).__name__}: {exc}")
    return runs, "; ".join(problems)


def main() -> None:
    optics = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4)
    q = optics.upsample
    sim = simulate_fluctuation(optics=optics, shape=(64, 64), n_frames=100, structure="filaments", seed=0)
    truth = gaussian_filter(sim.mean_intensity.astype(np.float64), 1.0)
    stack = sim.stack.astype(np.float64)

    rows = {}
    rows["pointillist SRRF (TRA)"] = best_of(lambda: srrf(stack, optics=optics).image)
    rows["pointillist eSRRF-like (avg)"] = best_of(lambda: srrf(stack, optics=optics, variant="esrrf").image)
    runs, problem = nanopyx_runs(stack, q)
    rows.update(runs)
    w = catmull_rom_matrix(64, (np.arange(64 * q) + 0.5) / q)
    mean_frame = w @ stack.mean(axis=0) @ w.T

    reference = runs.get("NanoPyx eSRRF (AVG)", (QUOTED_NANOPYX_ESRRF_S, None))[0]
    measured = "NanoPyx eSRRF (AVG)" in runs
    lines = [f"Stack {stack.shape}, magnification {q}, filaments, seed 0."]
    if problem:
        lines.append(problem)
    if not measured:
        lines.append(f"Speed-up against {QUOTED_NANOPYX_ESRRF_S} s: a quoted figure for NanoPyx eSRRF x4 on this "
                     "CPU, not measured in this run.")
    lines += ["", "| method | seconds (best of 3) | speed-up vs NanoPyx eSRRF | Pearson vs blurred truth | at best shift |",
              "|---|---|---|---|---|"]
    rows[f"mean frame (Catmull-Rom x{q})"] = (None, mean_frame)
    for name, (seconds, image) in rows.items():
        timing = "- | -" if seconds is None else f"{seconds:.2f} | {reference / seconds:.1f}x"
        score, shift = best_shift_pearson(image, truth, q)
        lines.append(f"| {name} | {timing} | {pearson(image, truth, q):.3f} | {score:.3f} (shift {shift}) |")
    text = "\n".join(lines)
    print(text)
    if "--docs" in sys.argv[1:]:
        replace_section("srrf-speed", text)


if __name__ == "__main__":
    main()
