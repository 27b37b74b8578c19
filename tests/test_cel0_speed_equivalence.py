"""The faster FISTA / IRL1 / CEL0-per-frame code gives bit for bit the answers of the plain textbook loops.

CEL0 per frame is chaotic with respect to rounding (the inner FISTA often
stops at its iteration cap and momentum restarts are sign tests), so a
speed-up that reorders one sum changes the spikes visibly; these tests
therefore ask for identical bits against a straightforward implementation
kept here: the loops as they were before buffers were recycled.
"""

import math

import numpy as np
import pytest
import torch

from pointillist import Optics
from pointillist.methods.smlm.cel0 import CEL0Options, _FramesFit, _scaled_frames, cel0_frames, column_norms
from pointillist.operators import imaging_operator
from pointillist.penalties import CEL0, WeightedL1
from pointillist.simulate import simulate_smlm
from pointillist.solvers import SolverOptions, fista, proximal_gradient
from pointillist.solvers.base import relative_change

OPTICS = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)


def _reference_loop(f, g, x0, *, step, options, accelerate=True):
    """The forward-backward loop written plainly (no reuse of temporaries)."""
    x, z, t = x0.clone(), x0.clone(), 1.0
    for k in range(1, options.max_iter + 1):
        x_new = g.prox(z - step * f.grad(z), step)
        if not accelerate:
            z = x_new
        elif options.restart and torch.sum((z - x_new) * (x_new - x)).item() > 0:
            t, z = 1.0, x_new
        else:
            t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
            z = x_new + ((t - 1) / t_new) * (x_new - x)
            t = t_new
        change = relative_change(x_new, x)
        x = x_new
        if k > 1 and change < options.tol:
            return x, k, True
    return x, options.max_iter, False


def _reference_cel0(frames, *, lam, options, dtype):
    """``cel0_frames`` with the textbook IRL1 and FISTA loops and the operator's own adjoint."""
    frames = torch.as_tensor(frames, dtype=dtype)
    psi = imaging_operator(OPTICS, frames.shape[1:])
    norms = column_norms(psi).to(dtype)
    y, scale = _scaled_frames(frames, options.background)

    class Fit(_FramesFit):
        def grad(self, x):
            return self.psi.adjoint(self.residual(x))

    fit = Fit(psi, y, fit_background=options.background == "fit")
    penalty = CEL0(torch.full((len(y), 1, 1), lam, dtype=dtype), norms=norms, nonneg=True)
    inner = SolverOptions(max_iter=options.inner_iter, tol=options.tol, restart=True, record_objective=False)
    x = torch.zeros((len(y), *psi.in_shape), dtype=dtype)
    for k in range(1, options.outer_iter + 1):
        x_new, n_iter, converged = _reference_loop(fit, WeightedL1(penalty.irl1_weights(x)), x,
                                                    step=1.0 / fit.lipschitz, options=inner)
        change = relative_change(x_new, x)
        x = x_new
        if k > 1 and (change < options.tol or (converged and n_iter <= 2)):
            break
    return (x * scale[:, None, None]).numpy()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("background", ["fit", None])
def test_cel0_frames_equal_the_textbook_loops_bit_for_bit(dtype, background):
    sim = simulate_smlm(optics=OPTICS, shape=(16, 16), n_frames=3, density_per_um2=4.0, snr_db=15, seed=4)
    frames = np.asarray(sim.stack, dtype=np.float32) - (0 if background else 90)
    options = CEL0Options(background=background, inner_iter=150, outer_iter=6)
    fast = cel0_frames(frames, optics=OPTICS, lam=2e-3, options=options, dtype=dtype)
    plain = _reference_cel0(frames, lam=2e-3, options=options, dtype=dtype)
    assert (fast > 0).sum() > 0
    np.testing.assert_array_equal(fast, plain)


class _Quad:
    """``1/2 |A x - b|^2`` (a fresh tensor from every ``grad``)."""

    def __init__(self, seed=0):
        gen = torch.Generator().manual_seed(seed)
        self.a = torch.randn(30, 20, generator=gen, dtype=torch.float64)
        self.b = torch.randn(30, generator=gen, dtype=torch.float64)
        self.lipschitz = float(torch.linalg.matrix_norm(self.a, 2)) ** 2

    def grad(self, x):
        return self.a.T @ (self.a @ x - self.b)

    def value(self, x):
        return 0.5 * float(((self.a @ x - self.b) ** 2).sum())


class _Identity:
    """A prox that returns its argument itself (as TV with step 0 and no constraint)."""

    def prox(self, z, step):
        return z

    def value(self, x):
        return 0.0


class _ViewProx(WeightedL1):
    """A prox that works in place and returns a view of its argument."""

    def prox(self, z, step):
        return torch.sub(z, step * self.weights, out=z).clamp_min_(0).view(z.shape)


@pytest.mark.parametrize("restart", [True, False])
@pytest.mark.parametrize("penalty", [WeightedL1(torch.full((20,), 0.3, dtype=torch.float64)), _Identity(),
                                     _ViewProx(torch.full((20,), 0.3, dtype=torch.float64))])
def test_fista_recycling_buffers_equals_the_plain_loop(penalty, restart):
    f = _Quad()
    options = SolverOptions(max_iter=300, tol=1e-9, restart=restart, record_objective=False)
    res = fista(f, penalty, torch.zeros(20, dtype=torch.float64), options=options)
    x, n_iter, converged = _reference_loop(f, penalty, torch.zeros(20, dtype=torch.float64),
                                           step=1.0 / f.lipschitz, options=options)
    assert torch.equal(res.x, x) and res.n_iter == n_iter and res.converged == converged
    res = proximal_gradient(f, penalty, torch.zeros(20, dtype=torch.float64), options=options)
    x, n_iter, _ = _reference_loop(f, penalty, torch.zeros(20, dtype=torch.float64), step=0.99 / f.lipschitz,
                                   options=options, accelerate=False)
    assert torch.equal(res.x, x) and res.n_iter == n_iter
