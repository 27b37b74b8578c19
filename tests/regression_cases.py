"""The outputs that a redesign must leave unchanged: ``make demo`` and every method on fixed simulated stacks.

``python tests/regression_cases.py record [CASE ...]`` runs every case (or re-records the named ones) through the CLI
and stores what each one wrote (every TIFF as an array, every CSV as a
table) in ``tests/data/regression.npz``; ``tests/test_regression.py``
(marker ``slow``) runs them again and compares. The cases cover the demo's
commands, each method and penalty, a tiled field (tile size 20 on a 40 x 40
field, so tiles, margins and stitching take part) and a stack with a camera
offset and gain.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).parent / "data" / "regression.npz"

_OPTICS = ["--pixel-size", "100", "--psf-fwhm", "258.21"]
_Q4 = [*_OPTICS, "--upsample", "4", "--quiet", "--overwrite"]

#: (name, argv) in order; ``{out}`` is replaced by the output root. Later cases read earlier cases' stacks.
CASES = [
    ("sim-smlm", ["simulate", "smlm", "{out}/sim-smlm", "--size", "32", "--frames", "6", "--density", "6", "--snr",
                  "12", "--seed", "1", "--overwrite", "--no-preview"]),
    ("sim-fluct", ["simulate", "fluct", "{out}/sim-fluct", "--size", "24", "--frames", "200", "--seed", "7",
                   "--overwrite", "--no-preview"]),
    ("sim-fluct-large", ["simulate", "fluct", "{out}/sim-fluct-large", "--size", "40", "--frames", "120", "--seed",
                         "3", "--gain", "2.5", "--overwrite", "--no-preview"]),
    *[(f"localize-{m}", ["localize", "{out}/sim-smlm/stack.tif", "-o", "{out}/localize-" + m, "--method", m, *_Q4])
      for m in ("deepcel0", "deepstorm", "deepstorm-relu", "cel0")],
    ("localize-cel0-calibrated", ["localize", "{out}/sim-smlm/stack.tif", "-o", "{out}/localize-cel0-calibrated",
                                  "--method", "cel0", "--offset", "100", "--gain", "2", *_Q4]),
    *[(f"colorme-{p}", ["reconstruct", "{out}/sim-fluct/stack.tif", "-o", "{out}/colorme-" + p, "--method",
                        "colorme", "--penalty", p, "--offset", "100", *_Q4]) for p in ("cel0", "l1", "tv")],
    ("colorme-tiled", ["reconstruct", "{out}/sim-fluct-large/stack.tif", "-o", "{out}/colorme-tiled", "--method",
                       "colorme", "--penalty", "l1", "--tile-size", "20", "--offset", "100", "--gain", "2.5", *_Q4]),
    ("pnp-q4", ["reconstruct", "{out}/sim-fluct/stack.tif", "-o", "{out}/pnp-q4", "--method", "pnp-colorme",
                "--offset", "100", "--max-iter", "150", *_Q4]),
    ("pnp-q1-tiled", ["reconstruct", "{out}/sim-fluct-large/stack.tif", "-o", "{out}/pnp-q1-tiled", "--method",
                      "pnp-colorme", "--offset", "100", "--gain", "2.5", "--tile-size", "24", "--max-iter", "150",
                      *_OPTICS, "--upsample", "1", "--quiet", "--overwrite"]),
    *[(m, ["reconstruct", "{out}/sim-fluct/stack.tif", "-o", "{out}/" + m, "--method", m, "--offset", "100", *_Q4])
      for m in ("sofi", "srrf", "sparcom", "lsparcom")],
    ("sofi-balanced", ["reconstruct", "{out}/sim-fluct/stack.tif", "-o", "{out}/sofi-balanced", "--method", "sofi",
                       "--balanced", "--offset", "100", "--gain", "2", *_Q4]),
    ("srrf-esrrf", ["reconstruct", "{out}/sim-fluct/stack.tif", "-o", "{out}/srrf-esrrf", "--method", "srrf",
                    "--variant", "esrrf", "--temporal", "var", "--offset", "100", *_Q4]),
]


def run_cases(out: Path, names=None) -> dict[str, np.ndarray]:
    """Run the cases (all, or ``names`` and the simulations they read) and collect what they wrote."""
    from pointillist.cli.main import main

    out = Path(out)
    collected = {}
    for name, argv in CASES:
        if names is not None and name not in names and not name.startswith("sim-"):
            continue
        code = main([a.replace("{out}", str(out)) for a in argv])
        if code != 0:
            raise RuntimeError(f"case {name} exited with {code}")
        collected.update(collect(out / name, name))
    return collected


def collect(folder: Path, name: str) -> dict[str, np.ndarray]:
    """Every TIFF and CSV in ``folder`` as arrays keyed ``name/file``."""
    import tifffile

    out = {}
    for path in sorted(folder.iterdir()):
        key = f"{name}/{path.name}"
        if path.suffix == ".tif":
            out[key] = tifffile.imread(path)
        elif path.suffix == ".csv":
            text = path.read_text()
            header, *rows = text.strip().splitlines()
            out[key + ":header"] = np.array(header)
            out[key] = np.loadtxt(io.StringIO("\n".join(rows)), delimiter=",", ndmin=2) if rows \
                else np.zeros((0, header.count(",") + 1))
    return out


def compare(got: dict, ref: dict, *, rtol: float = 0.0, atol_rel: float = 0.0) -> list[str]:
    """What differs: missing or extra keys, shapes, dtypes, values beyond the tolerance (relative to the max)."""
    problems = []
    for key in sorted(set(ref) | set(got)):
        if key not in got:
            problems.append(f"{key}: no longer written")
            continue
        if key not in ref:
            problems.append(f"{key}: new output")
            continue
        a, b = np.asarray(got[key]), np.asarray(ref[key])
        if a.shape != b.shape or a.dtype != b.dtype:
            problems.append(f"{key}: {a.dtype}{a.shape} instead of {b.dtype}{b.shape}")
        elif a.dtype.kind in "fc":
            scale = float(np.abs(b).max()) if b.size else 0.0
            err = float(np.abs(a - b).max()) if b.size else 0.0
            if err > atol_rel * scale + 0.0 and not np.allclose(a, b, rtol=rtol, atol=atol_rel * scale):
                problems.append(f"{key}: max |difference| {err:.3g} (max |reference| {scale:.3g})")
        elif not np.array_equal(a, b):
            problems.append(f"{key}: {int(np.sum(a != b))} values differ")
    return problems


if __name__ == "__main__":
    import tempfile

    # `record NAME ...` re-records only those cases (e.g. after shipping new weights) and keeps the others
    if sys.argv[1:2] != ["record"]:
        sys.exit("usage: python tests/regression_cases.py record [CASE ...]")
    names = sys.argv[2:] or None
    with tempfile.TemporaryDirectory() as tmp:
        outputs = run_cases(Path(tmp), names)
    if names:
        kept = {k: v for k, v in np.load(REFERENCE).items() if k.split("/")[0] not in names}
        outputs = {**kept, **{k: v for k, v in outputs.items() if k.split("/")[0] in names}}
    REFERENCE.parent.mkdir(exist_ok=True)
    np.savez_compressed(REFERENCE, **outputs)
    print(f"{len(outputs)} arrays -> {REFERENCE} ({REFERENCE.stat().st_size / 1e6:.1f} MB)")
