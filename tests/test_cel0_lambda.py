"""The choice of CEL0's lambda with ground truth (a benchmark helper, benchmarks/cel0_lambda.py)."""

import ast
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pointillist import Optics
from pointillist.localizations import Localizations
from pointillist.methods.smlm.cel0 import CEL0Options
from pointillist.operators import imaging_operator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from cel0_lambda import select_cel0_lambda  # noqa: E402

OPTICS = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
# Fine-grid (row, col) of four well separated emitters per frame, shifted from frame to frame.
SPOTS = [(12, 12), (12, 44), (44, 14), (46, 46)]


def _frames_and_truth(n_frames=3, brightness=2000.0):
    """Noiseless frames (photons) of emitters at fine-pixel centres, and their table."""
    psi = imaging_operator(OPTICS, (16, 16))
    x = torch.zeros((n_frames, *psi.in_shape), dtype=torch.float64)
    frames, rows, cols = [], [], []
    for t in range(n_frames):
        for r, c in SPOTS:
            x[t, r + 2 * t, c - t] = brightness
            frames.append(t), rows.append(r + 2 * t), cols.append(c - t)
    truth = Localizations.from_pixels(np.array(frames), np.array(rows, float), np.array(cols, float),
                                      pixel_size_nm=OPTICS.fine_pixel_nm)
    return psi(x).numpy(), truth


def test_lambda_selection_prefers_a_value_that_recovers_the_truth():
    frames, truth = _frames_and_truth()
    noisy = frames + np.random.default_rng(0).normal(0, 2.0, frames.shape)
    sel = select_cel0_lambda(noisy, truth, optics=OPTICS, lambdas=[1e-5, 1e-2, 5.0], n_frames=3, rng=0,
                             options=CEL0Options(background=None))
    assert sel.best == pytest.approx(1e-2)
    assert sel.frames.tolist() == [0, 1, 2]
    assert sel.jaccard.shape == (3,) and sel.jaccard[1] > 90 and sel.jaccard[1] > max(sel.jaccard[0], sel.jaccard[2])


def test_lambda_selection_scores_only_the_drawn_frames_against_their_own_truth():
    frames, truth = _frames_and_truth(n_frames=4)
    sel = select_cel0_lambda(frames, truth, optics=OPTICS, lambdas=[1e-2], n_frames=2, rng=1,
                             options=CEL0Options(background=None))
    assert sel.frames.tolist() == [1, 2]  # renumbered to 0, 1 before matching
    assert sel.jaccard[0] == pytest.approx(100.0)


def test_no_method_imports_the_metrics():
    """Scoring against a ground truth is a benchmark's business, not a method's."""
    offenders = []
    for path in sorted((ROOT / "src" / "pointillist" / "methods").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n == "metrics" or ".metrics" in n or n.startswith("metrics") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
