"""COL0RME's intensity step: the discrepancy principle meets a target computed here, not read back from the code."""

import numpy as np
import pytest
import torch

from pointillist.methods.colorme.intensity import estimate_intensity
from pointillist.operators import imaging_operator
from pointillist.optics import Optics

OPTICS = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4)
CAMERA = (12, 12)


def _mean_image(noise_variance, n_frames, ramp, seed=0):
    """Temporal mean of a 12 x 12 stack: three filaments, a background, noise of variance s / T."""
    psi = imaging_operator(OPTICS, CAMERA)
    truth = np.zeros((48, 48))
    truth[10, 5:40] = 30.0
    truth[12:44, 30] = 20.0
    truth[np.arange(20, 44), np.arange(4, 28)] = 25.0
    rows = np.arange(CAMERA[0])[:, None] * np.ones(CAMERA)
    background = 8.0 + ramp * rows
    noise = np.random.default_rng(seed).normal(0.0, np.sqrt(noise_variance / n_frames), CAMERA)
    return psi, psi(torch.as_tensor(truth)).numpy() + background + noise, truth > 0


def _residual2(psi, ybar, res):
    """``|Psi x + b - ybar|^2`` of the returned intensity and background."""
    return float(np.sum((psi(torch.as_tensor(res.intensity)).numpy() + res.background - ybar) ** 2))


# SPEC 1.4: the discrepancy principle picks mu with |Psi x_mu + b_mu - ybar|^2 = nu^2 |n|^2, the noise energy of
# one frame (N s, the reference code's nu^2 = T) or of the mean image (N s / T), N camera pixels. The
# search stops within 1e-3 of the target or on a 1e-3-decade bracket, and its warm-started solves are
# themselves inexact (FISTA stopped on a 1e-6 relative change): over s in {1, 2, 4, 8, 16} (code) and
# {10, 40, 100} (statistical) the returned residual of the old bisection was 0.001 to 1.0 % off the target,
# hence 2 %; the regula falsi that replaced it meets 0.2 % (the next test).
# A target off by 2 % or more (the known fault: 20 %) fails.
@pytest.mark.parametrize("dp_mode,noise_variance,n_frames,ramp", [("code", 4.0, 200, 0.3),
                                                                  ("statistical", 40.0, 20, 0.0)])
def test_discrepancy_principle_residual_equals_the_noise_energy(dp_mode, noise_variance, n_frames, ramp):
    psi, ybar, support = _mean_image(noise_variance, n_frames, ramp)
    target = ybar.size * noise_variance / (1 if dp_mode == "code" else n_frames)
    res = estimate_intensity(psi, ybar, support, noise_variance=noise_variance, n_frames=n_frames, dp_mode=dp_mode)
    assert res.dp_satisfied
    assert res.dp_target == pytest.approx(target, rel=1e-12)
    r2 = _residual2(psi, ybar, res)
    assert res.residual_norm2 == pytest.approx(r2, rel=1e-9)  # the reported residual is that of the result
    assert r2 == pytest.approx(target, rel=0.02)
    # the chosen mu is the root: fresh solves 10 % either side of it fall either side of the target (measured
    # 0.876 / 1.136 of it in the code case, 0.969 / 1.037 in the statistical one; a fresh solve at mu: 0.998, 1.000)
    below = estimate_intensity(psi, ybar, support, noise_variance=noise_variance, n_frames=n_frames, mu=res.mu / 1.1)
    above = estimate_intensity(psi, ybar, support, noise_variance=noise_variance, n_frames=n_frames, mu=res.mu * 1.1)
    assert _residual2(psi, ybar, below) < target < _residual2(psi, ybar, above)
    assert np.all(res.intensity >= 0) and np.all(res.intensity[~support] == 0) and np.all(res.background >= 0)


def test_discrepancy_principle_meets_its_own_tolerance():
    psi, ybar, support = _mean_image(1.0, 200, 0.3)
    res = estimate_intensity(psi, ybar, support, noise_variance=1.0, n_frames=200)
    assert _residual2(psi, ybar, res) == pytest.approx(ybar.size * 1.0, rel=2e-3)


def test_a_target_out_of_reach_returns_the_nearest_bound_flagged():
    psi, ybar, support = _mean_image(1.0, 200, 0.3)
    # a noise energy larger than any residual: mu at the upper bound; a tiny one: at the lower bound
    high = estimate_intensity(psi, ybar, support, noise_variance=1e9, n_frames=200, mu_bounds=(1e-4, 1e2))
    low = estimate_intensity(psi, ybar, support, noise_variance=1e-12, n_frames=200, mu_bounds=(1e-4, 1e2))
    assert high.dp_satisfied is False and high.mu == pytest.approx(1e2)
    assert low.dp_satisfied is False and low.mu == pytest.approx(1e-4)
    assert high.residual_norm2 < high.dp_target and low.residual_norm2 > low.dp_target


def _dense_problem(psi, support, mu, beta):
    """The intensity objective as one bounded least-squares problem ``min |K z - d|^2, z >= 0`` (dense)."""
    from pointillist.penalties.tv import grad2d

    def gradient_matrix(shape):
        n = shape[0] * shape[1]
        cols = [grad2d(torch.eye(n, dtype=torch.float64)[i].reshape(shape)).reshape(-1) for i in range(n)]
        return torch.stack(cols, dim=1).numpy()

    lr, lc = psi.in_shape
    h, w = psi.out_shape
    p = np.kron(psi.rows, psi.cols)[:, support.reshape(-1)]
    dx = gradient_matrix((lr, lc))[:, support.reshape(-1)]
    db = gradient_matrix((h, w))
    top = np.hstack([p, np.eye(h * w)])
    mid = np.hstack([np.sqrt(mu) * dx, np.zeros((dx.shape[0], h * w))])
    low = np.hstack([np.zeros((db.shape[0], p.shape[1])), np.sqrt(beta) * db])
    return np.vstack([top, mid, low])


@pytest.mark.parametrize("negative", [False, True])
def test_one_solve_equals_bounded_least_squares(negative):
    # negative: a support pixel with no light, so the unconstrained minimiser leaves x >= 0 and the
    # projected FISTA fallback has to find the constrained one
    from scipy.optimize import lsq_linear

    from pointillist.methods.colorme.intensity import solve_intensity

    psi = imaging_operator(Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=2), (6, 6))
    truth = np.zeros((12, 12))
    truth[4, 3:8] = 40.0
    truth[8, 8] = 25.0
    support = truth > 0
    if negative:
        support[2, 10] = True
    ybar = psi(torch.as_tensor(truth)).numpy() + 5.0 + np.random.default_rng(1).normal(0, 0.3, (6, 6))
    if negative:
        ybar[1, 5] -= 4.0
    mu, beta = 0.05, 2.0
    k = _dense_problem(psi, support, mu, beta)
    d = np.concatenate([ybar.reshape(-1), np.zeros(k.shape[0] - ybar.size)])
    ref = lsq_linear(k, d, bounds=(0, np.inf), tol=1e-14, lsmr_tol="auto").x
    x, b, res, _ = solve_intensity(psi, torch.as_tensor(ybar), torch.as_tensor(support), mu=mu, beta=beta)
    got = np.concatenate([x.numpy()[support], b.numpy().reshape(-1)])
    assert np.all(x.numpy()[~support] == 0)
    assert np.abs(got - ref).max() < 1e-3 * np.abs(ref).max()
    assert bool((ref < 1e-9 * ref.max()).any()) == negative  # the case really has an active constraint (or none)
