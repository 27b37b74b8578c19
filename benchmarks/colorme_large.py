"""A large field: 256 x 256 camera pixels x 1000 frames through the CLI (tiles, memory-mapped TIFF).

    .venv/bin/python benchmarks/colorme_large.py [--workdir DIR]

Simulates the stack with ``pointillist simulate fluct`` (written to disk),
then runs ``pointillist reconstruct --method colorme`` on it in a child
process and reports wall time, peak resident memory and the support
Jaccard (40 nm) against the truth.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=1000)
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="colorme_large_"))
    exe = [sys.executable, "-m", "pointillist.cli.main"]
    t0 = time.perf_counter()
    subprocess.run(exe + ["simulate", "fluct", str(work / "sim"), "--size", str(args.size), "--frames",
                          str(args.frames), "--n-structures", "10", "--seed", "5", "--no-preview", "--overwrite"],
                   check=True)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run(exe + ["reconstruct", str(work / "sim" / "stack.tif"), "-o", str(work / "rec"), "--offset", "100",
                          "--quiet", "--overwrite"], check=True)
    t_rec = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    scores = subprocess.run(exe + ["evaluate", str(work / "rec" / "support.tif"), str(work / "sim" / "support.tif"),
                                   "--tolerance-nm", "40", "--json"], check=True, capture_output=True, text=True)
    run = json.loads((work / "rec" / "run.json").read_text())
    print(f"stack {args.frames} x {args.size} x {args.size}: simulate {t_sim:.0f} s, reconstruct {t_rec:.0f} s "
          f"({run['n_tiles']} tiles), peak RSS of the child processes {peak:.0f} MB, "
          f"support Jaccard 40 nm {json.loads(scores.stdout)['jaccard']:.1f} %")


if __name__ == "__main__":
    main()
