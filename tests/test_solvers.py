"""Solvers on problems whose answer is known: FISTA (lasso), IRL1 (CEL0), PnP proximal gradient (exact prox)."""

import math

import numpy as np
import pytest
import torch

from pointillist.penalties import CEL0, L1
from pointillist.solvers import SolverOptions, fista, irl1, pnp_proximal_gradient, proximal_gradient


class LeastSquares:
    """``f(x) = 1/2 |A x - y|^2`` with the smooth-term interface the solvers use."""

    def __init__(self, a, y):
        self.a, self.y = a, y
        self.lipschitz = float(torch.linalg.matrix_norm(a, 2) ** 2)

    def value(self, x):
        return 0.5 * float(torch.sum((self.a @ x - self.y) ** 2))

    def grad(self, x):
        return self.a.T @ (self.a @ x - self.y)


def _matrix(m, n, singular_values, seed):
    """``U diag(s) V^T`` with random orthonormal ``U`` (m x n) and ``V`` (n x n)."""
    gen = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(m, n, generator=gen, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    return u @ torch.diag(torch.as_tensor(singular_values, dtype=torch.float64)) @ v.T


def _lasso_with_known_minimiser(nonneg, lam=0.1, seed=0):
    """``A`` (40 x 20, condition number 30), ``y`` and the unique minimiser ``x*`` of ``1/2|Ax-y|^2 + lam|x|_1``.

    ``y`` is built from the optimality condition: with ``g = A^T (A x* - y)``,
    ``g_i = -lam sign(x*_i)`` on the support and ``|g_i| <= lam / 2`` off it
    (with ``nonneg``: ``g_i >= -lam / 2`` off it), so ``y = A x* - A (A^T A)^-1 g``.
    """
    a = _matrix(40, 20, np.geomspace(1.0, 1.0 / 30, 20), seed)
    rng = np.random.default_rng(seed)
    x = np.zeros(20)
    on = rng.choice(20, 7, replace=False)
    x[on] = rng.uniform(0.5, 2.0, 7) * (1 if nonneg else rng.choice([-1, 1], 7))
    g = rng.uniform(-0.5, 0.5, 20) * lam if not nonneg else rng.uniform(0.5, 2.0, 20) * lam - 0.5 * lam
    g[on] = -lam * np.sign(x[on])
    x_star, g = torch.as_tensor(x), torch.as_tensor(g)
    y = a @ x_star - a @ torch.linalg.solve(a.T @ a, g)
    return LeastSquares(a, y), x_star


@pytest.mark.parametrize("nonneg", [True, False])
def test_fista_reaches_the_known_lasso_minimiser_at_the_accelerated_rate(nonneg):
    lam = 0.1
    f, x_star = _lasso_with_known_minimiser(nonneg, lam)
    g = L1(lam, nonneg=nonneg)
    f_star = f.value(x_star) + lam * float(x_star.abs().sum())
    x0 = torch.zeros(20, dtype=torch.float64)

    res = fista(f, g, x0, options=SolverOptions(max_iter=20000, tol=1e-13))
    assert res.converged
    torch.testing.assert_close(res.x, x_star, atol=1e-9, rtol=0)
    assert res.history.objective[-1] == pytest.approx(f_star, rel=1e-12)

    # Beck-Teboulle (2009, thm 4.4) without restart: F(x_k) - F* <= 2 L |x0 - x*|^2 / (k + 1)^2 at every k;
    # plain forward-backward only guarantees L |x0 - x*|^2 / (2 k) and is slower here (condition number 900)
    bound = 2 * f.lipschitz * float(torch.sum((x0 - x_star) ** 2))
    k = np.arange(1, 301)
    plain_fista = fista(f, g, x0, options=SolverOptions(max_iter=300, tol=0.0, restart=False))
    gap = np.array(plain_fista.history.objective) - f_star
    assert np.all(gap >= -1e-12) and np.all(gap <= bound / (k + 1) ** 2)
    pg = proximal_gradient(f, g, x0, step=1.0 / f.lipschitz, options=SolverOptions(max_iter=300, tol=0.0))
    pg_gap = np.array(pg.history.objective) - f_star
    assert np.all(np.diff(pg_gap) <= 1e-15)  # forward-backward with step 1/L is monotone
    assert gap[-1] < 0.1 * pg_gap[-1]


def _cel0_objective(f, x, lam, norms):
    """``f(x) + sum_i phi_i(x_i)`` with phi written from the SPEC (not the code's)."""
    root = math.sqrt(2 * lam)
    u, a = x.abs(), norms
    phi = torch.where(u <= root / a, lam - 0.5 * a**2 * (u - root / a) ** 2, torch.full_like(u, lam))
    return f.value(x) + float(phi.sum())


def test_irl1_finds_the_l0_solution_for_orthogonal_columns():
    # A = c Q with orthonormal columns: CEL0 is exact and separable, the minimiser is the l0 one,
    # x_i = v_i if v_i > sqrt(2 lam) / c else 0 (v the least-squares coefficients), and IRL1 started at 0
    # reaches it (the first weighted-l1 step already selects the right support).
    c, lam = 2.0, 0.5
    q = _matrix(30, 12, np.ones(12), seed=1)
    theta = math.sqrt(2 * lam) / c
    v = torch.tensor([3.0, 1.5, 0.9, 0.3, 0.1, 0.0, -0.2, -1.0, 2.2, 0.7, 0.35, 4.0], dtype=torch.float64) * theta
    y = c * q @ v
    f = LeastSquares(c * q, y)
    res = irl1(f, CEL0(lam, norms=torch.full((12,), c, dtype=torch.float64)), torch.zeros(12, dtype=torch.float64),
               inner=SolverOptions(max_iter=5000, tol=1e-12), tol=1e-12)
    assert res.converged
    expected = torch.where(v > theta, v, torch.zeros_like(v))
    torch.testing.assert_close(res.x, expected, atol=1e-9, rtol=0)


def _blur_problem(seed=2):
    """A 1-D blur and 2x down-sampling (40 -> 20), sparse positive spikes, noise: CEL0's SMLM setting."""
    grid = np.arange(40) / 2.0
    centres = np.arange(20) + 0.25
    a = torch.as_tensor(np.exp(-0.5 * ((centres[:, None] - grid[None, :]) / 1.1) ** 2))
    rng = np.random.default_rng(seed)
    x = np.zeros(40)
    x[[5, 8, 21, 30, 31]] = [3.0, 2.0, 4.0, 2.5, 1.5]
    y = a @ torch.as_tensor(x) + torch.as_tensor(rng.normal(0, 0.05, 20))
    return LeastSquares(a, y), torch.linalg.vector_norm(a, dim=0)


def test_irl1_decreases_the_cel0_objective_and_stops_at_a_critical_point():
    f, norms = _blur_problem()
    lam = 0.05
    penalty = CEL0(lam, norms=norms)
    inner = SolverOptions(max_iter=20000, tol=1e-12)
    # one outer step at a time from the previous iterate (weights at x_k, FISTA warm-started at x_k)
    x = torch.zeros(40, dtype=torch.float64)
    values = [_cel0_objective(f, x, lam, norms)]
    for _ in range(12):
        x = irl1(f, penalty, x, outer_iter=1, inner=inner).x
        values.append(_cel0_objective(f, x, lam, norms))
    values = np.array(values)
    # majorise-minimise: every step decreases F up to the inner solver's accuracy, and really moves
    assert np.all(np.diff(values) <= 1e-9 * abs(values[0])), np.diff(values)
    assert values[-1] < 0.5 * values[0]

    res = irl1(f, penalty, torch.zeros(40, dtype=torch.float64), outer_iter=200, tol=1e-10, inner=inner)
    assert res.converged
    # the history is f + CEL0 (not the inner weighted-l1 objective), one entry per outer step, non-increasing
    hist = np.array(res.history.objective)
    assert len(hist) == res.n_iter and len(res.history.rel_change) == res.n_iter
    assert hist[-1] == pytest.approx(_cel0_objective(f, res.x, lam, norms), rel=1e-12)
    assert np.all(np.diff(hist) <= 1e-9 * abs(hist[0]))
    assert _cel0_objective(f, res.x, lam, norms) <= values[-1] + 1e-9
    # critical point of f + CEL0 on x >= 0 with phi'(u) = (sqrt(2 lam) a - a^2 u)_+:
    # grad f + phi'(x) = 0 where x > 0, and grad f + phi'(0) >= 0 where x = 0
    grad = f.grad(res.x)
    dphi = (math.sqrt(2 * lam) * norms - norms**2 * res.x).clamp_min(0)
    on = res.x > 0
    assert 3 <= int(on.sum()) < 20
    assert float((grad + dphi)[on].abs().max()) < 1e-6
    assert float((grad + dphi)[~on].min()) > -1e-6


def test_pnp_proximal_gradient_with_the_exact_prox_of_a_quadratic_reaches_the_closed_form_minimiser():
    # prior (1/2) x^T Q x, Q symmetric positive definite: the "denoiser" D = (I + step Q)^-1 is the exact prox
    # of psi = (step/2) x^T Q x, so PnP-PGD is proximal gradient on f + psi / step and converges to
    # x* = (A^T A + Q)^-1 A^T y, with G = f + (1/2) x^T Q x the true objective along the iterates
    a = _matrix(30, 15, np.geomspace(1.0, 0.05, 15), seed=3)
    y = torch.randn(30, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    f = LeastSquares(a, y)
    b = torch.randn(15, 15, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    q = 0.02 * (b @ b.T) / 15 + 0.01 * torch.eye(15, dtype=torch.float64)
    step = 0.99 / f.lipschitz
    solve = torch.linalg.inv(torch.eye(15, dtype=torch.float64) + step * q)

    def denoise(z):
        d = solve @ z
        return d, 0.5 * step * float(d @ q @ d)

    x0 = torch.ones(15, dtype=torch.float64)
    res = pnp_proximal_gradient(f, denoise, x0, step=step, options=SolverOptions(max_iter=20000, tol=1e-12))
    x_star = torch.linalg.solve(a.T @ a + q, a.T @ y)
    assert res.converged
    torch.testing.assert_close(res.x, x_star, atol=1e-8, rtol=0)
    g = np.array(res.history.objective)
    g_star = f.value(x_star) + 0.5 * float(x_star @ q @ x_star)
    assert g[-1] == pytest.approx(g_star, rel=1e-12)
    assert np.all(np.diff(g) <= 1e-12 * abs(g[0]))
    # G is the objective at the iterates, not a surrogate: recompute it at the returned point
    assert g[-1] == pytest.approx(f.value(res.x) + 0.5 * float(res.x @ q @ res.x), rel=1e-12)
    assert res.history.aux["prior"][-1] == pytest.approx(0.5 * float(res.x @ q @ res.x), rel=1e-9)


class _LinearQuad(LeastSquares):
    """The same least squares, evaluated from ``A^T A x`` as ``CovarianceFit`` is (``linear_part``)."""

    def linear_part(self, x):
        return self.a.T @ (self.a @ x)

    def grad_from(self, x, ax):
        return ax - self.a.T @ self.y

    def value_from(self, x, ax):
        return 0.5 * float(x @ ax) - float(x @ (self.a.T @ self.y)) + 0.5 * float(self.y @ self.y)


def test_fista_from_the_linear_part_follows_the_same_iterates():
    f, _ = _blur_problem()
    g = _LinearQuad(f.a, f.y)
    opts = SolverOptions(max_iter=300, tol=0.0, record_objective=True)
    plain = fista(f, L1(0.05), torch.zeros(40, dtype=torch.float64), options=opts)
    fast = fista(g, L1(0.05), torch.zeros(40, dtype=torch.float64), options=opts)
    torch.testing.assert_close(fast.x, plain.x, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.history.objective, plain.history.objective, rtol=1e-10)


@pytest.mark.parametrize("preconditioned", [False, True])
def test_conjugate_gradient_solves_an_ill_conditioned_spd_system(preconditioned):
    from pointillist.solvers import conjugate_gradient

    gen = torch.Generator().manual_seed(3)
    q, _ = torch.linalg.qr(torch.randn(60, 60, generator=gen, dtype=torch.float64))
    # eigenvalues over 4 decades and rows of very different scales: what the preconditioner is for
    scale = torch.logspace(0, 2, 60, dtype=torch.float64)
    a = scale[:, None] * (q @ torch.diag(torch.logspace(-2, 2, 60, dtype=torch.float64)) @ q.T) * scale[None, :]
    b = torch.randn(60, generator=gen, dtype=torch.float64)
    exact = torch.linalg.solve(a, b)
    diag = torch.diagonal(a)
    res = conjugate_gradient(lambda x: a @ x, b, torch.zeros(60, dtype=torch.float64), tol=1e-12, max_iter=5000,
                             precondition=(lambda r: r / diag) if preconditioned else None)
    assert res.converged
    assert float(torch.linalg.vector_norm(res.x - exact) / torch.linalg.vector_norm(exact)) < 1e-6
    assert res.history.rel_change[-1] <= 1e-12
    # a warm start at the solution stops at once
    again = conjugate_gradient(lambda x: a @ x, b, exact, tol=1e-8)
    assert again.n_iter <= 1
