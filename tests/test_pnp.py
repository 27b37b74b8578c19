"""PnP-COL0RME: variance model, PnP proximal gradient, support step in both settings, API and CLI."""

import json

import numpy as np
import pytest
import torch

from pointillist import InputError, Optics, pnp_colorme
from pointillist.cli.main import main
from pointillist.covariance import CovarianceFit, VarianceFit, covariance_statistics
from pointillist.denoisers import load_denoiser
from pointillist.metrics import support_jaccard
from pointillist.operators import imaging_operator
from pointillist.operators.covariance import CovarianceOperator, variance_operator
from pointillist.penalties import L1
from pointillist.simulate import simulate_fluctuation
from pointillist.solvers import SolverOptions, fista, pnp_proximal_gradient
from pointillist.methods.pnp import pnp_support

Q1 = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=1)
Q4 = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4)


@pytest.fixture(scope="module")
def denoiser():
    return load_denoiser().net


def _stats(optics, shape=(16, 16), frames=300, seed=0, snr_db=20.0, n_structures=2):
    sim = simulate_fluctuation(optics=optics, shape=shape, n_frames=frames, n_structures=n_structures, seed=seed,
                               snr_db=snr_db)
    psi = imaging_operator(optics, shape)
    return sim, psi, covariance_statistics(sim.stack.astype(np.float64), psi)


# --- the variance (diagonal) model -----------------------------------------------------------------------


def test_variance_operator_is_the_diagonal_of_the_covariance_model():
    psi = imaging_operator(Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=2), (5, 6))
    r = torch.rand(psi.in_shape, dtype=torch.float64)
    full = CovarianceOperator(psi)(r)
    torch.testing.assert_close(variance_operator(psi)(r), torch.diagonal(full).reshape(5, 6))


def test_variance_operator_q1_is_convolution_with_the_squared_psf():
    psi = imaging_operator(Q1, (15, 15))
    r = torch.zeros(15, 15, dtype=torch.float64)
    r[7, 7] = 1.0
    img = psi(r)
    torch.testing.assert_close(variance_operator(psi)(r), img**2)


def test_variance_fit_gradient_noise_variance_and_lipschitz():
    _, psi, stats = _stats(Q1, shape=(10, 10), frames=100)
    fit = VarianceFit(psi, stats)
    r = torch.rand(10, 10, dtype=torch.float64)
    d = torch.randn(10, 10, dtype=torch.float64)
    eps = 1e-6
    fd = (fit.value(r + eps * d) - fit.value(r - eps * d)) / (2 * eps)
    assert fd == pytest.approx(float(torch.sum(fit.grad(r) * d)), rel=1e-6)
    # s* minimises F(r, s) over s >= 0 (brute force)
    grid = np.linspace(0, 2, 4001)
    vals = [fit.value(0.01 * r, s) for s in grid]
    assert fit.s_star(0.01 * r) == pytest.approx(grid[int(np.argmin(vals))], abs=1e-3)
    # Lipschitz constant of the gradient = |A_0|^2 (power iteration on A_0^T A_0)
    x = torch.rand(10, 10, dtype=torch.float64)
    for _ in range(300):
        x = fit.op.adjoint(fit.op(x))
        x = x / torch.linalg.vector_norm(x)
    assert float(torch.linalg.vector_norm(fit.op.adjoint(fit.op(x)))) == pytest.approx(fit.lipschitz, rel=1e-6)


# --- PnP proximal gradient ------------------------------------------------------------------------------------


class _Quad:
    def __init__(self, a, b):
        self.a, self.b = a, b
        self.lipschitz = float(torch.linalg.matrix_norm(a, 2) ** 2)

    def value(self, x):
        return 0.5 * float(torch.sum((self.a @ x - self.b) ** 2))

    def grad(self, x):
        return self.a.T @ (self.a @ x - self.b)


def test_pnp_with_an_exact_prox_is_proximal_gradient_and_tracks_the_true_objective():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(20, 12, generator=gen, dtype=torch.float64)
    b = torch.randn(20, generator=gen, dtype=torch.float64)
    f, lam = _Quad(a, b), 2.0
    step = 0.9 / f.lipschitz

    def soft(z):
        # prox of psi = step * lam |x|_1, with psi(D(z)) from the Moreau identity the solver relies on
        d = torch.sign(z) * torch.clamp(z.abs() - step * lam, min=0)
        return d, step * lam * float(d.abs().sum())

    res = pnp_proximal_gradient(f, soft, torch.zeros(12, dtype=torch.float64) + 0.1, step=step,
                                options=SolverOptions(max_iter=5000, tol=1e-12))
    ref = fista(f, L1(lam, nonneg=False), torch.zeros(12, dtype=torch.float64),
                options=SolverOptions(max_iter=5000, tol=1e-14))
    torch.testing.assert_close(res.x, ref.x, atol=1e-8, rtol=0)
    g = np.array(res.history.objective)
    assert np.all(np.diff(g) <= 1e-12)
    assert g[-1] == pytest.approx(f.value(ref.x) + lam * float(ref.x.abs().sum()), rel=1e-10)
    assert res.history.rel_change[-1] < 1e-12
    # the monotone accelerated scheme: the same minimiser, G never rises, in fewer iterations
    fast = pnp_proximal_gradient(f, soft, torch.zeros(12, dtype=torch.float64) + 0.1, step=step,
                                 options=SolverOptions(max_iter=5000, tol=1e-12), accelerate=True)
    torch.testing.assert_close(fast.x, ref.x, atol=1e-8, rtol=0)
    assert np.all(np.diff(fast.history.objective) <= 1e-12)
    assert fast.n_iter < res.n_iter


# --- the support step -------------------------------------------------------------------------------------


def test_pnp_support_q1_diagonal_recovers_the_structure_and_g_decreases(denoiser):
    sim, psi, stats = _stats(Q1, shape=(24, 24), frames=500, seed=3)
    res = pnp_support(stats, psi, denoiser, covariance="diagonal", mu=0.7, sigma=10)
    assert res.converged and res.objective_decreasing
    assert len(res.history.objective) == res.n_iter
    truth = sim.support.astype(bool)
    ji = support_jaccard(res.support, truth, tolerance_px=1.0).jaccard
    assert ji > 88  # measured 95.8 (with a 1-pixel tolerance on the 100 nm grid this setting is easy)
    # the noise variance is estimated on the way (data units)
    assert res.noise_variance > 0


def _g_never_rises(history, rel=1e-6):
    """``G_{k+1} <= G_k`` up to ``rel`` of the terms that make up G (the network's potential is float32)."""
    g = np.asarray(history.objective)
    prior = np.asarray(history.aux["prior"])
    return bool(np.all(np.diff(g) <= rel * (np.abs(g[:-1]) + np.abs(prior[:-1]))))


# Measured on this stack (q = 4, one filament, 500 iterations): support Jaccard 66.7 % at 40 nm; the start of
# the iteration (30 non-negative least-squares steps) thresholded like the PnP support (10 % of its maximum)
# scores 23.2 %; G falls from 0.92 to 0.26 and every step lowers it (largest relative change -2.8e-4).
def test_pnp_support_q4_full_covariance_beats_its_start_and_g_decreases(denoiser):
    sim, psi, stats = _stats(Q4, shape=(12, 12), frames=300, seed=4, n_structures=1)
    res = pnp_support(stats, psi, denoiser, covariance="full", mu=0.7, sigma=10,
                      options=SolverOptions(max_iter=500, tol=1e-4))
    assert res.variance_map.shape == (48, 48) and res.support.shape == (48, 48)
    g = np.asarray(res.history.objective)
    assert _g_never_rises(res.history) and res.objective_decreasing
    assert g[-1] < 0.5 * g[0]
    truth = sim.support.astype(bool)
    ji = support_jaccard(res.support, truth, tolerance_px=40 / 25).jaccard
    assert ji > 58
    # a trivial baseline: the start estimate, thresholded the same way
    fit = CovarianceFit(CovarianceOperator(psi), stats)
    start = fista(fit, L1(0.0), torch.zeros(psi.in_shape, dtype=torch.float64),
                  options=SolverOptions(max_iter=30, tol=0.0, record_objective=False)).x.cpu().numpy()
    baseline = support_jaccard(start > 0.1 * start.max(), truth, tolerance_px=40 / 25).jaccard
    assert ji > baseline + 30


def test_pnp_support_validates_its_parameters(denoiser):
    _, psi, stats = _stats(Q1, shape=(8, 8), frames=20)
    for kw, msg in (({"mu": 0}, "mu"), ({"sigma": -1}, "sigma"), ({"threshold": 1.0}, "threshold"),
                    ({"covariance": "lags"}, "covariance"), ({"tau_factor": 2.5}, "tau_factor"),
                    ({"shifts": 0}, "shifts"), ({"shifts": 1.5}, "shifts")):
        with pytest.raises(InputError, match=msg):
            pnp_support(stats, psi, denoiser, **kw)


# --- API and CLI --------------------------------------------------------------------------------------------


def test_pnp_colorme_api_both_settings():
    sim = simulate_fluctuation(optics=Q4, shape=(12, 12), n_frames=200, n_structures=1, seed=5)
    res4 = pnp_colorme(sim.stack, optics=Q4, offset=100, max_iter=300)
    assert res4.parameters["covariance"] == "full" and res4.support.shape == (48, 48)
    assert res4.intensity.shape == (48, 48) and res4.background.shape == (12, 12)
    assert res4.lam is None and res4.penalty == "pnp"
    assert res4.history["support"]["objective"] and res4.parameters["objective_decreasing"]
    json.dumps(res4.summary())
    res1 = pnp_colorme(sim.stack, optics=Q1, offset=100, mu=1.0, sigma=5)
    assert res1.parameters["covariance"] == "diagonal" and res1.support.shape == (12, 12)
    assert res1.parameters["denoiser"]["mu"] == 1.0
    with pytest.raises(InputError, match="Gaussian PSF"):
        pnp_colorme(sim.stack, optics=Optics(pixel_size_nm=100.0, upsample=1, psf_image=np.ones((3, 3))))
    with pytest.raises(InputError, match="covariance"):
        pnp_colorme(sim.stack, optics=Q1, covariance="banded")


def test_pnp_colorme_tiles_records_every_tile_and_nonneg_is_not_monitored():
    sim = simulate_fluctuation(optics=Q1, shape=(40, 40), n_frames=150, n_structures=2, seed=7)
    res = pnp_colorme(sim.stack, optics=Q1, offset=100, tile_size=24)
    assert len(res.tiles) > 1 and len(res.history["tiles"]) == len(res.tiles)
    assert all(t["objective_decreasing"] for t in res.tiles)
    # tiled against untiled: measured pixel-exact IoU 0.845 between the supports, Jaccard to the truth 78.6 %
    # tiled and 90.5 % untiled (1-pixel tolerance). The tiles probably differ through their own normalisation
    # (r_0 peaks at 1 in every tile, so a dim tile is brightened before the denoiser sees it).
    whole = pnp_colorme(sim.stack, optics=Q1, offset=100)
    assert len(whole.tiles) == 1
    assert (whole.support & res.support).sum() / (whole.support | res.support).sum() > 0.75
    truth = sim.support.astype(bool)
    assert support_jaccard(whole.support, truth, tolerance_px=1.0).jaccard > 82
    assert support_jaccard(res.support, truth, tolerance_px=1.0).jaccard > 70
    summary = res.summary()
    assert len(summary["convergence"]) == len(res.tiles) and "intensity_mu" in summary and summary["denoiser_mu"] == 0.7
    assert "mu" not in summary
    clamped = pnp_colorme(sim.stack[:, :16, :16], optics=Q1, offset=100, nonneg=True)
    assert clamped.parameters["objective_decreasing"] is None
    assert clamped.variance_map.min() >= 0
    with pytest.raises(InputError, match="max_iter"):
        pnp_colorme(sim.stack, optics=Q1, max_iter=0)


def test_pnp_colorme_same_input_same_output():
    sim = simulate_fluctuation(optics=Q1, shape=(16, 16), n_frames=100, n_structures=1, seed=6)
    a = pnp_colorme(sim.stack, optics=Q1, offset=100)
    b = pnp_colorme(sim.stack, optics=Q1, offset=100)
    np.testing.assert_array_equal(a.variance_map, b.variance_map)


def test_cli_pnp_colorme_writes_colorme_files_and_convergence(tmp_path, capsys):
    assert main(["simulate", "fluct", str(tmp_path / "sim"), "--size", "16", "--frames", "150", "--seed", "2"]) == 0
    out = tmp_path / "pnp"
    args = ["reconstruct", str(tmp_path / "sim" / "stack.tif"), "-o", str(out), "--method", "pnp-colorme",
            "--mu", "0.7", "--sigma", "10", "--pixel-size", "100", "--psf-fwhm", "258.21", "--upsample", "1",
            "--offset", "100", "--quiet"]
    assert main(args) == 0
    for name in ("support.tif", "intensity.tif", "background.tif", "run.json", "preview.png", "convergence.png"):
        assert (out / name).is_file(), name
    info = json.loads((out / "run.json").read_text())
    assert info["method"] == "pnp-colorme" and info["parameters"]["denoiser"]["sigma"] == 10.0
    assert info["parameters"]["covariance"] == "diagonal"
    assert "G decreasing" in capsys.readouterr().out
    assert main(args) == 2  # no silent overwrite
    assert "overwrite" in capsys.readouterr().err


def test_cli_rejects_options_of_the_other_method(tmp_path, capsys):
    assert main(["simulate", "fluct", str(tmp_path / "sim"), "--size", "16", "--frames", "20", "--seed", "2"]) == 0
    base = ["reconstruct", str(tmp_path / "sim" / "stack.tif"), "-o", str(tmp_path / "o"), "--pixel-size", "100",
            "--psf-fwhm", "258.21", "--upsample", "1", "--quiet"]
    assert main(base + ["--method", "pnp-colorme", "--penalty", "l1"]) == 2
    assert "--penalty" in capsys.readouterr().err
    assert main(base + ["--method", "colorme", "--sigma", "10"]) == 2
    assert "--sigma" in capsys.readouterr().err


def test_cli_train_gs_denoiser(tmp_path, capsys):
    out = tmp_path / "den.pt"
    assert main(["train", "--method", "gs-denoiser", "-o", str(out), "--images", "4", "--val-images", "2",
                 "--image-size", "32", "--crop", "32", "--epochs", "1", "--batch-size", "2", "--quiet"]) == 0
    assert load_denoiser(out).record.data["n_train"] == 4
    assert "best validation loss" in capsys.readouterr().out
