"""Speed of per-frame localization: every network and architecture, and CEL0, in one run.

A stack of simulated 64 x 64 frames (tubes at the density of the SMLM 2013
high-density set, 100 nm pixels, FWHM 258.21 nm, q = 4) is written as a
TIFF, then ``pointillist localize STACK.tif -o OUT --method M
[--architecture A]`` runs on it as a user would: the frames per second are
end to end, from the TIFF to localizations.csv, render.tif, preview.png and
run.json, including starting Python and importing torch (measured on the
whole stack: the fixed start-up costs are shown separately). Inside one
process the network's own rate (``predict_frames``) and the localization
extraction are also timed. CEL0 is timed on the first ``--cel0-frames``
frames. All in the same run, so the ratios hold on a noisy machine.

    .venv/bin/python benchmarks/smlm_speed.py                    # 2000 frames, writes docs/benchmarks.md
    .venv/bin/python benchmarks/smlm_speed.py --frames 500 --no-write
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import ROOT, replace_section  # noqa: E402

from pointillist import Optics  # noqa: E402
from pointillist.io import write_tiff  # noqa: E402
from pointillist.methods.smlm.cel0 import cel0_frames, spike_localizations  # noqa: E402
from pointillist.methods.smlm.inference import predict_frames  # noqa: E402
from pointillist.methods.smlm.network import load_model, spike_scale  # noqa: E402
from pointillist.simulate import simulate_smlm  # noqa: E402

OPTICS = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
#: (method, --architecture) as a user would ask for them
NETWORKS = (("deepcel0", "subpixel"), ("deepstorm-relu", "subpixel"), ("deepcel0", "deepstorm"),
            ("deepstorm", "deepstorm"))


def _cli(stack: Path, out: Path, method: str, architecture: str | None, threads: int) -> float:
    cmd = [str(Path(sys.executable).parent / "pointillist"), "localize", str(stack), "-o", str(out),
           "--method", method, "--quiet", "--overwrite"]
    if architecture:
        cmd += ["--architecture", architecture]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _compile_gain(frames, threads) -> str:
    """torch.compile on the default DeepCEL0 network: its compile time and steady rate beside eager mode."""
    import torch

    from pointillist.methods.smlm.inference import _inference_net
    from pointillist.methods.smlm.preprocess import Normalization, prepare_input

    model = load_model(method="deepcel0", architecture="subpixel")
    net = _inference_net(model.net)
    norm = Normalization(**model.record.extra["normalization"])
    batches = [prepare_input(torch.as_tensor(frames[i : i + 16]), norm, 1).contiguous(memory_format=torch.channels_last)
               for i in range(0, min(len(frames), 512), 16)]
    rates = {}
    with torch.inference_mode():
        for name, fn in (("eager", net), ("compiled", torch.compile(net, dynamic=False))):
            t0 = time.perf_counter()
            fn(batches[0])
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            for x in batches:
                fn(x)
            rates[name] = (sum(len(x) for x in batches) / (time.perf_counter() - t0), first)
    (fast, compile_s), eager = rates["compiled"], rates["eager"][0]
    saving = 1 / eager - 1 / fast  # seconds saved per frame once compiled
    pays = f"it pays off after {compile_s / saving:,.0f} frames" if saving > 0 else "it never pays off"
    return (f"torch.compile (inductor, {threads} threads) on the DeepCEL0 sub-pixel network: {fast:.0f} frames/s "
            f"after a {compile_s:.0f} s compilation, eager {eager:.0f} frames/s; {pays}.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=2000, help="frames in the stack (default 2000)")
    parser.add_argument("--cel0-frames", type=int, default=32, help="frames CEL0 is timed on (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2, the CI machine's cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print only, do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    sim = simulate_smlm(optics=OPTICS, shape=(64, 64), n_frames=args.frames, density_per_um2=217 / 40.96,
                        structure="tubes", snr_db=15.0, seed=args.seed)
    frames = sim.stack.astype(np.float32)
    rows = ["| Method | architecture | end to end, TIFF to CSV (frames/s) | network alone (frames/s) | "
            "localization extraction (frames/s) |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        stack = Path(tmp) / "stack.tif"
        write_tiff(stack, sim.stack, pixel_size_nm=OPTICS.pixel_size_nm)
        write_tiff(Path(tmp) / "one.tif", sim.stack[:1], pixel_size_nm=OPTICS.pixel_size_nm)
        startup = _cli(Path(tmp) / "one.tif", Path(tmp) / "warm", "deepcel0", None, args.threads)  # warm the caches
        startup = _cli(Path(tmp) / "one.tif", Path(tmp) / "one", "deepcel0", None, args.threads)
        for method, arch in NETWORKS:
            model = load_model(method=method, architecture=arch)
            predict_frames(frames[:16], model)  # first call: allocation and kernel selection
            t0 = time.perf_counter()
            images = predict_frames(frames, model, batch_size=16)
            net = time.perf_counter() - t0
            t0 = time.perf_counter()
            spike_localizations(np.maximum(images, 0), pixel_size_nm=OPTICS.fine_pixel_nm,
                                threshold=0.1 * spike_scale(model.record))
            extract = time.perf_counter() - t0
            wall = _cli(stack, Path(tmp) / f"{method}-{arch}", method, arch, args.threads)
            label = {"deepcel0": "DeepCEL0", "deepstorm-relu": "Deep-STORM-ReLU", "deepstorm": "Deep-STORM"}[method]
            rows.append(f"| {label} | {arch} | {args.frames / wall:.0f} | {args.frames / net:.0f} | "
                        f"{args.frames / extract:.0f} |")
            print(rows[-1], flush=True)
    compiled = _compile_gain(frames, args.threads)
    t0 = time.perf_counter()
    cel0_frames(frames[: args.cel0_frames], optics=OPTICS, lam=5e-3)
    cel0 = (time.perf_counter() - t0) / args.cel0_frames
    body = "\n".join([
        f"{args.frames} simulated 64 x 64 frames (tubes, ~217 emitters per frame), q = 4, {args.threads} threads "
        f"on this CPU; `pointillist localize` on one frame takes {startup:.1f} s (Python, torch import, writing "
        "the outputs): that start-up is inside the end-to-end rates.", "", *rows, "",
        f"CEL0 (IRL1, lambda 5e-3, batches of 16): {cel0:.3f} s per frame ({1 / cel0:.1f} frames/s) on "
        f"{args.cel0_frames} frames.", "", compiled, "",
        f"Command: `.venv/bin/python benchmarks/smlm_speed.py --frames {args.frames} --threads {args.threads}`."])
    print(body)
    if not args.no_write:
        replace_section("smlm-speed", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
