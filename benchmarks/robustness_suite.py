"""The robustness suite: 32 fluctuation stacks from the independent generator (benchmarks/fluctsim.py).

20 stacks are for calibration (seeds 1000-1019) and 12 are a test set
(seeds 2000-2011) that no default is tuned on: a rule for COL0RME's
parameters is chosen on the calibration part and only reported on the
test part. Each part covers every axis: the six structures (thin
filaments, 30 nm tubes, crossing networks, points, rings, dense meshes),
on-time ratios 0.05-0.5, 100-2000 photons per emitter per frame, flat and
varying backgrounds, SNR targets 5-20 dB, T from 100 to 2000, fields of
32-64 camera pixels, q = 4 and q = 1, and the three cameras (EMCCD,
sCMOS, ideal). The design is drawn once from ``DESIGN_SEED`` by
:func:`suite` and printed (``--list``) into docs/benchmarks.md.

    .venv/bin/python benchmarks/robustness_suite.py --list            # the design table
    .venv/bin/python benchmarks/robustness_suite.py --docs            # ... written into docs/benchmarks.md
    .venv/bin/python benchmarks/robustness_suite.py --write DIR       # each stack as TIFF + its truth (.npz)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import replace_section  # noqa: E402
from fluctsim import CAMERAS, STRUCTURES, SceneSpec, generate  # noqa: E402

DESIGN_SEED = 16
CALIBRATION_SEEDS = range(1000, 1020)
TEST_SEEDS = range(2000, 2012)
FRAMES = (100, 200, 500, 1000, 2000)
FIELDS = (32, 48, 64)


def _part(role: str, seeds, rng) -> list[tuple[str, str, SceneSpec]]:
    n = len(seeds)
    # stratified: every structure, camera, background kind, T and field appears in each part
    structures = np.resize(STRUCTURES, n)
    cameras = np.resize(CAMERAS, n)
    frames = np.resize(FRAMES, n)
    fields = np.resize(FIELDS, n)
    for arr in (cameras, frames, fields):
        rng.shuffle(arr)
    on_ratio = np.exp(rng.uniform(np.log(0.05), np.log(0.5), n))
    photons = np.exp(rng.uniform(np.log(100), np.log(2000), n))
    snr = rng.uniform(5.0, 20.0, n)
    out = []
    for i, seed in enumerate(seeds):
        spec = SceneSpec(
            structure=str(structures[i]), field_px=int(fields[i]), frames=int(frames[i]),
            upsample=1 if i % 4 == 3 else 4, on_ratio=round(float(on_ratio[i]), 3),
            on_frames=round(float(rng.uniform(1.0, 5.0)), 2),
            bleach_on_frames=None if i % 3 else round(float(frames[i] * on_ratio[i] * rng.uniform(1.0, 4.0)), 1),
            photons=round(float(photons[i]), 0), background=round(float(rng.uniform(10.0, 200.0)), 0),
            background_kind="varying" if i % 2 else "flat", camera=str(cameras[i]),
            snr_db=round(float(snr[i]), 1), seed=int(seed))
        out.append((f"{role[:3]}-{i:02d}", role, _reachable(spec)))
    return out


def _reachable(spec: SceneSpec) -> SceneSpec:
    """Lower the background, then raise the photons, until the camera noise alone leaves the SNR target reachable.

    Judged on the first 100 frames (the scene does not depend on T).
    """
    from dataclasses import replace

    for _ in range(12):
        if generate(replace(spec, frames=min(spec.frames, 100), snr_db=None)).snr_db >= spec.snr_db:
            break
        if spec.background > 5:
            spec = replace(spec, background=max(5.0, round(spec.background / 2)))
        else:
            spec = replace(spec, photons=min(2000.0, round(spec.photons * 1.5)))
    return spec


def suite(role: str | None = None) -> list[tuple[str, str, SceneSpec]]:
    """``(name, role, spec)`` of every stack (``role`` "calibration" or "test" to pick one part).

    >>> names = [n for n, _, _ in suite()]
    >>> len(names), names[0], names[-1]
    (32, 'cal-00', 'tes-11')
    """
    rng = np.random.default_rng(DESIGN_SEED)
    stacks = _part("calibration", CALIBRATION_SEEDS, rng) + _part("test", TEST_SEEDS, rng)
    return [s for s in stacks if role in (None, s[1])]


def design_table() -> str:
    """The design as a markdown table (with the realised SNR and emitter count of each stack)."""
    lines = ["| stack | role | seed | structure | field | T | q | on ratio | on frames | bleach (on frames) | "
             "photons | background | camera | SNR target / realised (dB) | emitters |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, role, s in suite():
        g = generate(s)
        lines.append(f"| {name} | {role} | {s.seed} | {s.structure} | {s.field_px} | {s.frames} | {s.upsample} | "
                     f"{s.on_ratio:g} | {s.on_frames:g} | {s.bleach_on_frames or '-'} | {s.photons:g} | "
                     f"{s.background:g} {s.background_kind} | {s.camera} | {s.snr_db:g} / {g.snr_db:.1f} | "
                     f"{g.info['n_emitters']} |")
    return "\n".join(lines)


def write(folder: Path) -> None:
    """Each stack as ``NAME.tif`` and its truth and calibration as ``NAME.npz``."""
    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    for name, role, spec in suite():
        g = generate(spec)
        tifffile.imwrite(folder / f"{name}.tif", g.stack)
        np.savez_compressed(folder / f"{name}.npz", support=g.support, mean_intensity=g.mean_intensity,
                            variance=g.variance, positions_nm=g.positions_nm, offset=g.offset, gain=g.gain,
                            noise_variance=g.noise_variance, snr_db=g.snr_db, role=role)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="print the design table")
    parser.add_argument("--docs", action="store_true", help="write the design table into docs/benchmarks.md")
    parser.add_argument("--write", type=Path, help="write every stack and its truth into this folder")
    args = parser.parse_args(argv)
    if args.write:
        write(args.write)
    if args.list or args.docs or not args.write:
        body = design_table()
        print(body)
        if args.docs:
            replace_section("robustness-suite", body)


if __name__ == "__main__":
    sys.exit(main())
