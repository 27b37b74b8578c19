"""The independent fluctuation generator of the robustness suite (benchmarks/fluctsim.py)."""

import ast
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.special import erf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from fluctsim import SceneSpec, _camera, generate, on_fractions, pixel_weights  # noqa: E402


def test_it_shares_no_code_with_the_toolkit():
    tree = ast.parse((ROOT / "benchmarks" / "fluctsim.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "pointillist" not in imported


@pytest.mark.parametrize("ratio", [0.05, 0.3])
def test_blinking_is_stationary_at_the_on_ratio(ratio):
    f = on_fractions(4000, 200, ratio, 2.0, None, np.random.default_rng(1))
    assert f.min() >= 0 and f.max() <= 1 + 1e-12
    per_frame = f.mean(axis=0)
    assert abs(per_frame[:20].mean() - ratio) < 0.1 * ratio  # the start is already stationary
    assert abs(per_frame[-20:].mean() - ratio) < 0.1 * ratio


def test_on_sojourns_have_the_mean_length_asked_for():
    # long sojourns: an emitter is on for whole frames in runs of mean length ~ on_frames
    f = on_fractions(500, 400, 0.5, 20.0, None, np.random.default_rng(2))
    on = f > 0.5
    starts = np.sum(on[:, 1:] & ~on[:, :-1])
    assert 16 < on.sum() / starts < 24


def test_bleaching_follows_the_on_time_budget():
    ratio, budget, frames = 0.25, 50.0, 400
    f = on_fractions(5000, frames, ratio, 2.0, budget, np.random.default_rng(3))
    late = f[:, -40:].mean()
    expected = ratio * math.exp(-ratio * (frames - 20) / budget)
    assert abs(late - expected) < 0.15 * expected + 2e-3
    assert f[:, -40:].mean() < 0.2 * f[:, :40].mean()


def test_pixel_weights_are_the_integrated_gaussian():
    sigma, p, n = 110.0, 100.0, 16
    pos = np.array([[803.7, 755.2]])
    w = pixel_weights(pos, n, p, sigma).toarray().reshape(n, n)
    assert w.sum() == pytest.approx(1.0, abs=1e-6)
    # brute force: the Gaussian sampled on a 1 nm grid and summed per pixel
    g = np.arange(n * p) + 0.5
    gx = np.exp(-((g - pos[0, 0]) ** 2) / (2 * sigma**2))
    gy = np.exp(-((g - pos[0, 1]) ** 2) / (2 * sigma**2))
    brute = np.outer(gy.reshape(n, -1).sum(1), gx.reshape(n, -1).sum(1)) / (2 * np.pi * sigma**2)
    assert np.abs(w - brute).max() < 1e-5
    # and the erf closed form for one pixel
    col = 0.5 * (erf((900 - 803.7) / (math.sqrt(2) * sigma)) - erf((800 - 803.7) / (math.sqrt(2) * sigma)))
    row = 0.5 * (erf((800 - 755.2) / (math.sqrt(2) * sigma)) - erf((700 - 755.2) / (math.sqrt(2) * sigma)))
    assert w[7, 8] == pytest.approx(row * col, rel=1e-9)


@pytest.mark.parametrize("camera, excess", [("ideal", 1.0), ("scmos", 1.0), ("emccd", 2.0)])
def test_cameras_are_unbiased_and_have_their_noise(camera, excess):
    photons = np.full((4000, 8, 8), 60.0)
    adu, offset, gain = _camera(camera, photons, np.random.default_rng(4), 8)
    est = (adu - offset) / gain
    assert abs(est.mean() - 60.0) < 0.5
    qe = {"ideal": 1.0, "scmos": 0.8, "emccd": 0.9}[camera]
    shot = excess * 60.0 / qe  # variance in photons^2 of the detected photons
    assert shot < est.var() < shot * 1.15  # read noise and rounding add a little


def test_ground_truth_accounts_for_every_photon():
    spec = SceneSpec(structure="filaments", field_px=24, frames=60, camera="ideal", background=0.0, seed=5)
    g = generate(spec)
    assert g.support.shape == (96, 96)
    assert set(np.unique(g.support)) <= {0, 1}
    assert np.array_equal(g.support.astype(bool), g.mean_intensity > 0)
    # a fine pixel of each emitter is in the support
    fine = (g.positions_nm / 25.0).astype(int)
    assert g.support[fine[:, 1], fine[:, 0]].all()
    # photons in = photons out (what leaves the field through its edges excepted: the emitters sit inside)
    expected_total = g.mean_intensity.sum() * spec.frames
    assert g.stack.astype(float).sum() == pytest.approx(expected_total, rel=0.05)


def test_same_spec_same_bytes_and_the_seed_matters():
    spec = SceneSpec(structure="rings", field_px=16, frames=30, seed=6)
    a, b = generate(spec), generate(spec)
    assert np.array_equal(a.stack, b.stack) and np.array_equal(a.positions_nm, b.positions_nm)
    assert not np.array_equal(a.stack, generate(replace(spec, seed=7)).stack)


def test_the_snr_target_is_reached_and_the_noise_variance_is_measured():
    spec = SceneSpec(structure="mesh", field_px=32, frames=200, camera="scmos", background=20.0, snr_db=8.0, seed=8)
    g = generate(spec)
    assert g.snr_db == pytest.approx(8.0, abs=0.1)
    assert g.info["extra_noise_sd_photons"] > 0
    high = generate(replace(spec, snr_db=None))
    assert high.snr_db > 8.5 and high.noise_variance < g.noise_variance


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match="structure"):
        SceneSpec(structure="blobs")
    with pytest.raises(ValueError, match="on_ratio"):
        SceneSpec(on_ratio=1.0)
