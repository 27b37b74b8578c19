"""COL0RME: lambda_max, recovery on simulated fluctuations, discrepancy principle, tiling, CLI."""

import json

import numpy as np
import pytest
import torch

from pointillist.cli.main import main
from pointillist.methods.colorme import colorme, estimate_intensity, estimate_support, lambda_max, tile_layout
from pointillist.covariance import CovarianceFit, covariance_statistics
from pointillist.errors import InputError
from pointillist.metrics import support_jaccard
from pointillist.operators import imaging_operator
from pointillist.operators.covariance import CovarianceOperator
from pointillist.optics import Optics
from pointillist.simulate import simulate_fluctuation

OPTICS = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4)
TOL_PX = 40.0 / OPTICS.fine_pixel_nm  # 40 nm: diagonal neighbours on the 25 nm grid match


@pytest.fixture(scope="module")
def sim():
    return simulate_fluctuation(optics=OPTICS, shape=(24, 24), n_frames=400, n_structures=2, seed=11)


@pytest.fixture(scope="module")
def problem(sim):
    psi = imaging_operator(OPTICS, (24, 24))
    stats = covariance_statistics((sim.stack.astype(np.float64) - 100.0), psi)
    return psi, CovarianceOperator(psi), stats


@pytest.mark.parametrize("penalty", ["l1", "cel0"])
def test_lambda_max_is_the_zero_threshold(problem, penalty):
    _, op, stats = problem
    lmax = lambda_max(CovarianceFit(op, stats), penalty)
    above = estimate_support(stats, op, penalty=penalty, lambda_ratio=1.0)  # lambda_ratio is at most 1
    below = estimate_support(stats, op, penalty=penalty, lambda_ratio=0.9)
    assert above.support.sum() == 0 and above.lam == pytest.approx(lmax)
    assert below.support.sum() > 0


# Thresholds: an unregularised covariance fit gives the whole PSF footprint
# (support Jaccard about 50 % here) and CEL0 with too large a lambda the
# "dotted" support (30-45 %); a working solver at the default lambda reaches
# 70-80 % on this stack. A noise variance within 10 % is what the issue asks.
@pytest.mark.parametrize("penalty,algorithm,min_jaccard", [("cel0", "irl1", 65.0), ("l1", "fista", 65.0)])
def test_support_recovery_and_noise_variance(sim, problem, penalty, algorithm, min_jaccard):
    _, op, stats = problem
    res = estimate_support(stats, op, penalty=penalty, algorithm=algorithm)
    score = support_jaccard(res.support, sim.support, tolerance_px=TOL_PX)
    assert score.jaccard > min_jaccard
    # CEL0 leaves little signal unexplained: s within 10 %; l1 shrinks r, and the
    # shrunk signal variance ends in s (a known bias), so only 30 % there
    rel = 0.10 if penalty == "cel0" else 0.30
    assert res.noise_variance == pytest.approx(sim.meta["noise_variance_photons"], rel=rel)
    # the objective decreases overall and the solver converged
    obj = res.history.objective
    assert obj[-1] < obj[0] and res.converged


def test_tv_support_is_filament_like(sim, problem):
    _, op, stats = problem
    res = estimate_support(stats, op, penalty="tv")
    score = support_jaccard(res.support, sim.support, tolerance_px=TOL_PX)
    assert score.jaccard > 35.0  # TV gives thick but connected supports


def test_discrepancy_principle_meets_its_target(sim, problem):
    psi, op, stats = problem
    sup = estimate_support(stats, op, penalty="cel0")
    res = estimate_intensity(psi, stats.mean, sup.support, noise_variance=sup.noise_variance, n_frames=400)
    assert res.dp_satisfied
    # the target is one frame's noise energy N s (SPEC 1.4, the reference code's), computed here
    assert res.dp_target == pytest.approx(stats.mean.numel() * sup.noise_variance, rel=1e-12)
    assert res.residual_norm2 == pytest.approx(res.dp_target, rel=1e-2)
    assert np.all(res.intensity >= 0) and np.all(res.intensity[~sup.support] == 0)
    assert np.all(res.background >= 0)
    # larger mu -> larger residual (monotone, the basis of the bisection)
    r = dict(zip(res.history["mu"], res.history["residual2"]))
    mus = sorted(r)
    assert r[mus[-1]] > r[mus[0]]


def test_intensity_recovers_a_known_image_without_noise():
    psi = imaging_operator(OPTICS, (12, 12))
    truth = np.zeros((48, 48))
    truth[6:44:9, 6:44:9] = 80.0  # isolated emitters, two camera pixels apart: a well-posed fit
    truth[15, 33] = 40.0
    ybar = psi(torch.as_tensor(truth)).numpy() + 12.0
    res = estimate_intensity(psi, ybar, truth > 0, noise_variance=1e-8, n_frames=100, mu=1e-8, beta=20.0)
    np.testing.assert_allclose(res.intensity, truth, atol=0.5)
    np.testing.assert_allclose(res.background, 12.0, atol=0.05)


def _blurred_correlation(a, b, sigma_px=1.0):
    """Correlation of two fine-grid images after a Gaussian blur of ``sigma_px`` (one pixel: 25 nm)."""
    from scipy.ndimage import gaussian_filter

    return float(np.corrcoef(gaussian_filter(a, sigma_px).ravel(), gaussian_filter(b, sigma_px).ravel())[0, 1])


# Tiled against untiled. With tile_size 20 the 24 x 24 field is cut into 3 x 3 tiles whose cores meet at
# camera rows/columns 8 and 16 (fine 32 and 64), each grown by a 5-pixel margin. The tiles are not the same
# problems as the whole field (lambda_max, the covariance normalisation and s are per tile), so the supports
# differ at a few pixels: measured pixel-exact IoU 0.938 (0.937 with a 2-camera-pixel border removed);
# intensities (same mu) after a 25 nm blur correlate at 0.990, and sum to within 0.5 %. With the support
# step's normal operator in float32 (issue 16) CEL0 lands on slightly different critical points: IoU 0.907,
# sums within 3.4 %. A stitch off by one fine pixel behind every margin gives IoU 0.60, one that forgets the
# margin offset a Jaccard to the truth of 9 % (fault injection, issue 13); hence 0.88, 0.98 and 5 %.
def test_colorme_end_to_end_and_tiles_agree(sim):
    # whole-stack centring, as when the numbers above were measured (with blocks of 100 frames the IoU is
    # 0.85: each tile's support moves by a few more pixels, the stitching is the same)
    whole = colorme(sim.stack, optics=OPTICS, offset=100.0, block_frames=None)
    # the same mu for every tile, so that the intensities differ only through the supports and the stitching
    tiled = colorme(sim.stack, optics=OPTICS, offset=100.0, tile_size=20, mu=whole.mu, block_frames=None)
    assert len(whole.tiles) == 1 and len(tiled.tiles) == 9
    assert whole.parameters["mu"] is None and whole.tiles[0]["dp_satisfied"]
    for res in (whole, tiled):
        assert support_jaccard(res.support, sim.support, tolerance_px=TOL_PX).jaccard > 65.0
    # stitched intensity: positive on the support, zero off it, close to the truth in total
    assert whole.intensity.sum() == pytest.approx(sim.mean_intensity.sum(), rel=0.25)
    assert tiled.intensity.sum() == pytest.approx(sim.mean_intensity.sum(), rel=0.25)
    # the stitched result is the untiled one, pixel by pixel (no matching tolerance, which would hide a
    # one-pixel shift)
    both, either = whole.support & tiled.support, whole.support | tiled.support
    assert both.sum() / either.sum() > 0.88
    assert _blurred_correlation(whole.intensity, tiled.intensity) > 0.98
    assert tiled.intensity.sum() == pytest.approx(whole.intensity.sum(), rel=0.05)
    assert np.all(tiled.intensity[~tiled.support] == 0) and np.all(tiled.intensity >= 0)


def test_tile_layout_partitions_the_axis():
    for size, tile, margin in [(100, 64, 6), (256, 64, 5), (64, 64, 5), (65, 32, 4)]:
        tiles = tile_layout(size, tile, margin)
        cores = np.concatenate([np.arange(c0, c1) for _, _, c0, c1 in tiles])
        assert np.array_equal(cores, np.arange(size))
        for a, b, c0, c1 in tiles:
            assert b - a <= tile and a <= c0 and c1 <= b


def test_colorme_validation():
    with pytest.raises(InputError, match="constant in time"):
        colorme(np.full((10, 16, 16), 5.0), optics=OPTICS)
    with pytest.raises(InputError, match="NaN"):
        bad = np.random.default_rng(0).random((10, 16, 16))
        bad[3, 2, 2] = np.nan
        colorme(bad, optics=OPTICS)
    with pytest.raises(InputError, match="at least 2 frames"):
        colorme(np.ones((1, 16, 16)), optics=OPTICS)
    with pytest.raises(InputError, match="penalty"):
        colorme(np.random.default_rng(0).random((10, 16, 16)), optics=OPTICS, penalty="l0")
    with pytest.raises(InputError, match="Gaussian PSF"):
        colorme(np.ones((4, 16, 16)), optics=Optics(pixel_size_nm=100, upsample=2, psf_image=np.ones((5, 5))))


def test_cli_reconstruct_writes_the_contracted_files(tmp_path, capsys):
    sim_dir, out = tmp_path / "sim", tmp_path / "rec"
    assert main(["simulate", "fluct", str(sim_dir), "--size", "16", "--frames", "200", "--seed", "4",
                 "--n-structures", "1", "--no-preview"]) == 0
    common = [str(sim_dir / "stack.tif"), "--method", "colorme", "--penalty", "cel0", "--psf-fwhm", "258.21",
              "--upsample", "4", "--offset", "100", "--quiet"]
    args = ["reconstruct", *common, "-o", str(out), "--pixel-size", "100"]
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["background.tif", "intensity.tif", "preview.png", "run.json",
                                                     "support.tif"]
    run = json.loads((out / "run.json").read_text())
    for key in ("lambda", "mu", "noise_variance", "iterations", "seconds", "parameters"):
        assert key in run
    capsys.readouterr()
    assert main(["evaluate", str(out / "support.tif"), str(sim_dir / "support.tif"), "--tolerance-nm", "40",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["jaccard"] > 50
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    # a pixel size that contradicts the file overrides it, with a notice, and the run records both
    assert main(["reconstruct", *common, "-o", str(tmp_path / "x"), "--pixel-size", "80", "--quiet"]) == 0
    assert "--pixel-size 80 nm overrides the 100 nm recorded in" in capsys.readouterr().err
    run = json.loads((tmp_path / "x" / "run.json").read_text())
    assert run["optics"]["pixel_size_nm"] == 80 and run["input"]["pixel_size_nm_in_file"] == 100


@pytest.mark.parametrize(("option", "value", "span"), [
    ("lambda_ratio", 2.0, r"\(0, 1\]"), ("lambda_ratio", 0.0, r"\(0, 1\]"), ("lambda_ratio", float("nan"), r"\(0, 1\]"),
    ("threshold", 1.0, r"\[0, 1\)"), ("threshold", -0.1, r"\[0, 1\)"),
])
def test_lambda_ratio_and_threshold_ranges_are_refused_like_sparcom(option, value, span):
    stack = np.random.default_rng(0).random((10, 16, 16))
    with pytest.raises(InputError, match=rf"^{option} must be a number in {span}, got {value!r}$"):
        colorme(stack, optics=OPTICS, **{option: value})
