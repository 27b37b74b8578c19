"""COL0RME benchmark: simulated filaments, 64 x 64 camera pixels, T = 500, q = 4, three noise levels.

For each penalty: support Jaccard (40 nm tolerance = diagonal neighbours on
the 25 nm grid, as the reference code), intensity PSNR, estimated vs true
noise variance, seconds and peak memory (each run in its own process).

    .venv/bin/python benchmarks/colorme.py                 # the table (writes docs/benchmarks.md section)
    .venv/bin/python benchmarks/colorme.py --sweep         # lambda sweep used to set the defaults
    .venv/bin/python benchmarks/colorme.py --memory        # peak memory vs T (memory-mapped stacks)
    .venv/bin/python benchmarks/colorme.py --speed         # seconds against an older commit, in one run

``--speed`` times ``colorme`` with its defaults on the 15 dB stack, each
run in a fresh process, alternating between this checkout and the
``--baseline`` commit (default: the code when issue 16 was taken up),
unpacked with ``git archive``; the ratio of the medians is what to read
on a noisy machine.

Scoring follows the reference code: a border of round(3 sigma / p) camera
pixels (x q fine pixels) is removed from the support and the truth before
the Jaccard index, and twice that from the intensity before the PSNR.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SNRS = (20.0, 15.0, 10.0)
OPTICS_KW = dict(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4)
SIM_KW = dict(shape=(64, 64), n_frames=500, structure="filaments", n_structures=6, on_probability=0.25,
              brightness=500.0)


def simulate(snr, seed=1, n_frames=500):
    from pointillist.optics import Optics
    from pointillist.simulate import Camera, simulate_fluctuation

    optics = Optics(**OPTICS_KW)
    kw = dict(SIM_KW, n_frames=n_frames)
    camera = Camera(background=50.0, read_noise=0.0, gain=1.0, offset=0.0, quantize=False)
    return optics, simulate_fluctuation(optics=optics, camera=camera, snr_db=snr, seed=seed, **kw)


def score(optics, sim, res):
    from pointillist.metrics import psnr, support_jaccard

    q = optics.upsample
    border = int(round(3 * optics.sigma_px)) * q
    crop = (slice(border, -border), slice(border, -border))
    crop2 = (slice(2 * border, -2 * border), slice(2 * border, -2 * border))
    jac = support_jaccard(res.support[crop], sim.support[crop], tolerance_px=40.0 / optics.fine_pixel_nm)
    return {
        "jaccard": jac.jaccard,
        "psnr": psnr(sim.mean_intensity[crop2], res.intensity[crop2]),
        "noise_variance": res.noise_variance,
        "noise_variance_true": sim.meta["noise_variance_photons"],
        "lambda_ratio": res.lambda_ratio,
        "mu": res.mu,
        "support_pixels": int(res.support.sum()),
        "true_pixels": int(sim.support.sum()),
    }


def _run(job, queue):
    from pointillist import colorme

    optics, sim = simulate(job["snr"], seed=job.get("seed", 1))
    t0 = time.perf_counter()
    res = colorme(sim.stack, optics=optics, **job["kw"])
    seconds = time.perf_counter() - t0
    out = score(optics, sim, res)
    out.update(seconds=seconds, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    queue.put(out)


def run_job(job):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(job, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def table(args):
    rows = []
    for snr in SNRS:
        for penalty in ("cel0", "l1", "tv"):
            out = run_job({"snr": snr, "kw": {"penalty": penalty}})
            out.update(snr=snr, penalty=penalty)
            rows.append(out)
            print(json.dumps(out), flush=True)
    lines = [
        "| SNR (dB) | penalty | support Jaccard 40 nm (%) | intensity PSNR (dB) | s estimated | s true | lambda/lambda_max | mu | seconds | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['snr']:g} | {r['penalty']} | {r['jaccard']:.1f} | {r['psnr']:.1f} | {r['noise_variance']:.1f} | "
            f"{r['noise_variance_true']:.1f} | {r['lambda_ratio']:.0e} | {r['mu']:.3g} | {r['seconds']:.1f} | "
            f"{r['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def sweep(args):
    ratios = {"cel0": [3e-6, 1e-5, 3e-5, 1e-4, 3e-4], "l1": [2e-3, 5e-3, 1e-2, 2e-2, 5e-2],
              "tv": [3e-6, 1e-5, 3e-5, 1e-4]}
    lines = ["| penalty | options | " + " | ".join(f"SNR {s:g}" for s in SNRS) + " |", "|---|---|---|---|---|"]
    configs = [(p, r, {}) for p in ("cel0", "l1") for r in ratios[p]]
    configs += [("tv", r, {"threshold": t}) for r in ratios["tv"] for t in (0.2, 0.3)]
    configs += [("cel0", r, {"restarts": 10}) for r in (1e-5, 1e-4, 3e-4)]
    configs += [("cel0", r, {"algorithm": "fista"}) for r in (1e-5, 1e-4)]
    for penalty, ratio, extra in configs:
        cells = []
        for snr in SNRS:
            # the support alone matters here: a fixed mu skips the discrepancy search
            out = run_job({"snr": snr, "kw": {"penalty": penalty, "lambda_ratio": ratio, "mu": 0.05, **extra}})
            cells.append(f"{out['jaccard']:.1f}")
        opts = ", ".join([f"ratio {ratio:g}"] + [f"{k} {v}" for k, v in extra.items()])
        lines.append(f"| {penalty} | {opts} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def _memory_job(job, queue):
    from pointillist import colorme
    from pointillist.io import read_stack

    stack = read_stack(job["path"])
    from pointillist.optics import Optics

    t0 = time.perf_counter()
    colorme(stack.data, optics=Optics(**OPTICS_KW))
    queue.put({"seconds": time.perf_counter() - t0,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def memory(args):
    from pointillist.io import write_tiff

    lines = ["| T | stack on disk (MB) | seconds | peak RSS (MB) |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for t in (500, 2000):
            _, sim = simulate(15.0, n_frames=t)
            path = Path(tmp) / f"s{t}.tif"
            write_tiff(path, sim.stack)
            del sim
            ctx = mp.get_context("spawn")
            queue = ctx.Queue()
            proc = ctx.Process(target=_memory_job, args=({"path": str(path)}, queue))
            proc.start()
            out = queue.get()
            proc.join()
            lines.append(f"| {t} | {path.stat().st_size / 1e6:.0f} | {out['seconds']:.1f} | {out['peak_rss_mb']:.0f} |")
            print(lines[-1], flush=True)
    return "\n".join(lines)


#: the code before issue 16's speed work (support step, intensity search, objective recording)
SPEED_BASELINE = "2fb20b6"

_SPEED_JOB = """
import json, sys, time
sys.path.insert(0, {bench!r})
import colorme as bench
import pointillist
from pointillist import colorme
optics, sim = bench.simulate(15.0, seed=1)
t0 = time.perf_counter()
res = colorme(sim.stack, optics=optics, penalty={penalty!r})
seconds = time.perf_counter() - t0
out = bench.score(optics, sim, res)
out.update(seconds=seconds, source=pointillist.__file__)
print(json.dumps(out))
"""


def _speed_run(src: Path, penalty: str) -> dict:
    import os

    code = _SPEED_JOB.format(bench=str(Path(__file__).resolve().parent), penalty=penalty)
    env = dict(os.environ, PYTHONPATH=str(src))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if not out["source"].startswith(str(src)):
        raise RuntimeError(f"the job imported {out['source']}, not the code under {src}")
    return out


def speed(args):
    import statistics

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        base.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline, "src"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        sources = {"baseline": base / "src", "now": ROOT / "src"}
        for penalty in ("cel0", "l1"):
            runs = {k: [] for k in sources}
            for _ in range(args.repeats):
                for key, src in sources.items():  # alternating, so that a slow spell hits both
                    runs[key].append(_speed_run(src, penalty))
                    print(penalty, key, f"{runs[key][-1]['seconds']:.1f} s", flush=True)
            med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
            jac = {k: statistics.median(r["jaccard"] for r in v) for k, v in runs.items()}
            rows.append(f"| {penalty} | {med['baseline']:.1f} | {med['now']:.1f} | "
                        f"{med['baseline'] / med['now']:.2f} | {jac['baseline']:.1f} | {jac['now']:.1f} |")
    head = [f"Baseline: commit {args.baseline}; median of {args.repeats} runs each, alternating, on this machine.", "",
            "| penalty | baseline (s) | now (s) | speed-up | Jaccard baseline (%) | Jaccard now (%) |",
            "|---|---|---|---|---|---|"]
    return "\n".join(head + rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--speed", action="store_true", help="seconds against --baseline, in one run")
    parser.add_argument("--baseline", default=SPEED_BASELINE, help="git commit for --speed")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each version for --speed")
    parser.add_argument("--no-write", action="store_true", help="print only, do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.speed:
        name, body = "colorme-speed", speed(args)
    elif args.sweep:
        name, body = "colorme-sweep", sweep(args)
    elif args.memory:
        name, body = "colorme-memory", memory(args)
    else:
        name, body = "colorme-table", table(args)
    print(body)
    if not args.no_write:
        replace_section(name, body)


if __name__ == "__main__":
    sys.exit(main())
