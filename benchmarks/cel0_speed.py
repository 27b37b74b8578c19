"""CEL0 per frame: seconds per frame of the working tree's code against a git revision's, and whether answers agree.

Solves the same simulated stack (64 frames of 64 x 64 camera pixels, q = 4,
PSF FWHM 258.21 nm at 100 nm pixels, 1 emitter per um^2, 15 dB) with
``cel0_frames`` in batches of 16 (as ``pointillist localize --method cel0``)
twice: with the code of the working tree and with the code of ``--rev``
(default HEAD), extracted by ``git archive`` into a temporary folder and
imported as a separate package. The two versions alternate batch by batch
so that a machine whose load varies (other jobs) affects both alike; the
time per frame is the total over the stack divided by the number of frames.
Prints both, their ratio, and whether the spike images are bit-identical
(else the largest difference relative to the largest value and whether the
supports agree).

Run: .venv/bin/python benchmarks/cel0_speed.py [--frames 64] [--rev HEAD] [--threads N] [--lam 5e-3 | --lambda-ratio R]
"""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pointillist import Optics  # noqa: E402
from pointillist.methods.smlm import cel0 as cel0_new  # noqa: E402
from pointillist.simulate import simulate_smlm  # noqa: E402

OPTICS = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
BATCH = 16  # pointillist localize --method cel0


def load_revision(rev: str, into: Path):
    """``pointillist.methods.smlm.cel0`` of git revision ``rev``, as the package ``_pointillist_<rev>``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src/pointillist"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    # every import inside the package is relative, so a renamed copy is self-contained
    name = "_pointillist_" + "".join(c if c.isalnum() else "_" for c in rev)
    (into / "src" / "pointillist").rename(into / name)
    sys.path.insert(0, str(into))
    return importlib.import_module(f"{name}.methods.smlm.cel0")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--rev", default="HEAD", help="the previous code (git revision)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--lam", type=float, default=None)
    parser.add_argument("--lambda-ratio", type=float, default=None)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sim = simulate_smlm(optics=OPTICS, shape=(64, 64), n_frames=args.frames, density_per_um2=1.0, snr_db=15,
                        seed=args.seed)
    stack = np.asarray(sim.stack, dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        cel0_old = load_revision(args.rev, Path(tmp))
        versions = {"previous": cel0_old, "current": cel0_new}
        seconds = dict.fromkeys(versions, 0.0)
        images = {key: [] for key in versions}
        for start in range(0, len(stack), BATCH):
            block = stack[start : start + BATCH]
            # alternate which version goes first, so neither always runs on a warmer cache
            order = list(versions) if (start // BATCH) % 2 == 0 else list(versions)[::-1]
            for key in order:
                module = versions[key]
                t0 = time.perf_counter()
                out = module.cel0_frames(block, optics=OPTICS, lam=args.lam, lambda_ratio=args.lambda_ratio)
                seconds[key] += time.perf_counter() - t0
                images[key].append(out)
    old, new = (np.concatenate(images[key]) for key in ("previous", "current"))
    n = len(stack)
    print(f"CEL0 per frame, {n} frames of 64 x 64, q = 4, batches of {BATCH}, {torch.get_num_threads()} torch threads")
    print(f"  previous ({args.rev}): {seconds['previous'] / n:.3f} s/frame")
    print(f"  current (working tree): {seconds['current'] / n:.3f} s/frame")
    print(f"  speed-up: {seconds['previous'] / seconds['current']:.2f}x")
    if np.array_equal(old, new) and old.dtype == new.dtype:
        print("  answers: bit-identical")
    else:
        rel = float(np.abs(old - new).max() / max(float(np.abs(old).max()), np.finfo(np.float64).tiny))
        print(f"  answers: NOT identical; max |difference| / max = {rel:.2e}, same support: "
              f"{bool(((old > 0) == (new > 0)).all())}")


if __name__ == "__main__":
    main()
