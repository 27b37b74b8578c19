"""A large field through the CLI: 256 x 256 camera pixels x 1000 frames (tiles, memory-mapped TIFF).

    .venv/bin/python benchmarks/colorme_large.py [--workdir DIR] [--frames 1000] [--size 256]
        [--run ARGS ...]      # one or more runs, each a quoted string of extra reconstruct options
        [--per-tile]          # also time one tile alone (the cost that scales to larger fields)

Simulates the stack once with ``pointillist simulate fluct`` (kept in
``--workdir`` and reused when its meta.json matches), then runs
``pointillist reconstruct --method colorme`` on it in a child process per
``--run`` (default: one run with no extra options; for example
``--run "" "--workers 1" "--workers 2"`` compares this process's threads
with Dask clusters of 1 and 2 workers in one sitting) and reports wall
time, the peak resident memory of the child and its worker processes
(sampled every 50 ms) and the support Jaccard (40 nm) against the truth.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil


def _peak_rss(proc: subprocess.Popen, out: list) -> None:
    """Largest summed RSS of ``proc`` and its descendants until it ends (MB)."""
    peak = 0
    try:
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            total = 0
            for p in [root, *root.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            peak = max(peak, total)
            time.sleep(0.05)
    except psutil.Error:
        pass
    out.append(peak / 2**20)


def _run(cmd: list[str]) -> tuple[float, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    peak: list = []
    watcher = threading.Thread(target=_peak_rss, args=(proc, peak))
    watcher.start()
    if proc.wait() != 0:
        raise SystemExit(f"failed: {shlex.join(cmd)}")
    watcher.join()
    return time.perf_counter() - t0, peak[0]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--run", nargs="+", default=[""], metavar="OPTIONS")
    parser.add_argument("--per-tile", action="store_true")
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="colorme_large_"))
    exe = [sys.executable, "-m", "pointillist.cli.main"]
    sim = work / f"sim-{args.size}-{args.frames}"
    meta = sim / "meta.json"
    if not meta.exists():
        t0 = time.perf_counter()
        subprocess.run(exe + ["simulate", "fluct", str(sim), "--size", str(args.size), "--frames", str(args.frames),
                              "--n-structures", "10", "--seed", "5", "--no-preview", "--overwrite"], check=True)
        print(f"simulated in {time.perf_counter() - t0:.0f} s")
    rows = []
    for extra in args.run:
        out = work / ("rec" + ("-" + "".join(c for c in extra if c.isalnum()) if extra else ""))
        seconds, peak = _run(exe + ["reconstruct", str(sim / "stack.tif"), "-o", str(out), "--offset", "100",
                                    "--quiet", "--overwrite", *shlex.split(extra)])
        scores = subprocess.run(exe + ["evaluate", str(out / "support.tif"), str(sim / "support.tif"),
                                       "--tolerance-nm", "40", "--json"], check=True, capture_output=True, text=True)
        run = json.loads((out / "run.json").read_text())
        rows.append((extra or "(this process)", seconds, peak, json.loads(scores.stdout)["jaccard"], run["n_tiles"]))
        print(f"stack {args.frames} x {args.size} x {args.size}, reconstruct {extra or '(defaults)'}: {seconds:.1f} s "
              f"({run['n_tiles']} tiles), peak RSS {peak:.0f} MB, support Jaccard 40 nm "
              f"{rows[-1][3]:.1f} %", flush=True)
    if len(rows) > 1:
        base = rows[0][1]
        print("\n| run | seconds | ratio to the first | peak RSS (MB) | Jaccard 40 nm (%) |")
        print("|---|---|---|---|---|")
        for name, seconds, peak, jac, _ in rows:
            print(f"| `{name}` | {seconds:.1f} | {base / seconds:.2f} | {peak:.0f} | {jac:.1f} |")
    if args.per_tile:
        # one interior tile alone, one thread: the cost per tile a cluster pays
        code = ("import time, torch; torch.set_num_threads(1); "
                "from pointillist.acquisition import open_acquisition, Calibration; "
                "from pointillist.optics import Optics; from pointillist.methods.colorme import colorme; "
                f"acq = open_acquisition({str(sim / 'stack.tif')!r}, calibration=Calibration(offset=100)); "
                "w = acq.window(64, 128, 64, 128); t0 = time.perf_counter(); "
                "colorme(w, optics=Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)); "
                "print(f'one 64 x 64 tile, one thread: {time.perf_counter() - t0:.1f} s')")
        subprocess.run([sys.executable, "-c", code], check=True)


if __name__ == "__main__":
    main()
