"""Proximal maps against brute-force minimisation (one registry drives the separable cases)."""

import math

import numpy as np
import pytest
import torch

from pointillist.penalties import CEL0, L1, TV, NonNegative, WeightedL1, div2d, grad2d

GEN = torch.Generator().manual_seed(0)
N = 16
NORMS = torch.rand(N, dtype=torch.float64, generator=GEN) * 2 + 0.2

SEPARABLE = {
    "l1": lambda: L1(0.7),
    "l1-signed": lambda: L1(0.7, nonneg=False),
    "weighted-l1": lambda: WeightedL1(torch.rand(N, dtype=torch.float64, generator=GEN)),
    "cel0": lambda: CEL0(0.3, norms=NORMS),
    "cel0-signed": lambda: CEL0(0.3, norms=NORMS, nonneg=False),
    "nonneg": lambda: NonNegative(),
    "nonneg-on-support": lambda: NonNegative(mask=(torch.arange(N) % 3 != 0).to(torch.float64)),
}


@pytest.mark.parametrize("name", sorted(SEPARABLE))
@pytest.mark.parametrize("step", [0.05, 0.2])
def test_separable_prox_is_the_brute_force_minimiser(name, step):
    penalty = SEPARABLE[name]()
    z = torch.randn(N, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2
    x = penalty.prox(z, step)
    base = penalty.value(torch.zeros(N, dtype=torch.float64))
    for i in range(N):
        e = torch.zeros(N, dtype=torch.float64)
        e[i] = 1.0

        def obj(u):
            if penalty.nonneg and u < 0:
                return math.inf
            return 0.5 * (u - z[i].item()) ** 2 + step * (penalty.value(e * u) - base)

        coarse = np.linspace(-6, 6, 301)
        values = [obj(u) for u in coarse]
        u0 = coarse[int(np.argmin(values))]
        best = min(min(values), min(obj(u) for u in np.linspace(u0 - 0.04, u0 + 0.04, 81)))
        assert obj(x[i].item()) <= best + 1e-12, (name, i, x[i].item())


def test_cel0_penalty_formula_and_threshold():
    a = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    lam = 0.8
    p = CEL0(lam, norms=a)
    for u in [0.0, 0.3, 1.0, 5.0]:
        x = torch.full((3,), u, dtype=torch.float64)
        expected = 0.0
        for ai in a.tolist():
            t = math.sqrt(2 * lam) / ai
            expected += lam - 0.5 * ai**2 * (u - t) ** 2 if u <= t else lam
        assert p.value(x) == pytest.approx(expected)
    # IRL1 weights are the derivative of phi
    x = torch.tensor([0.2, 0.2, 0.2], dtype=torch.float64, requires_grad=True)
    root = math.sqrt(2 * lam)
    phi = (lam - 0.5 * a**2 * (x - root / a) ** 2).sum()
    (g,) = torch.autograd.grad(phi, x)
    inside = (0.2 * a < root)
    np.testing.assert_allclose(p.irl1_weights(x.detach())[inside].numpy(), g[inside].numpy())


def test_grad_and_div_are_adjoint():
    x = torch.randn(7, 9, dtype=torch.float64)
    p = torch.randn(2, 7, 9, dtype=torch.float64)
    assert torch.sum(grad2d(x) * p).item() == pytest.approx(-torch.sum(x * div2d(p)).item(), rel=1e-12)


@pytest.mark.parametrize("nonneg", [True, False])
def test_tv_prox_is_optimal(nonneg):
    z = torch.randn(6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    tv = TV(0.4, nonneg=nonneg, inner_iter=20000, inner_tol=1e-13)
    x = tv.prox(z, 1.0)

    def objective(v):
        return 0.5 * float(((v - z) ** 2).sum()) + tv.value(v)

    # convex problem: no feasible random perturbation may lower the objective
    base = objective(x)
    rng = torch.Generator().manual_seed(3)
    for scale in (1e-2, 1e-3):
        for _ in range(300):
            d = torch.randn(6, 6, dtype=torch.float64, generator=rng) * scale
            v = x + d
            if nonneg:
                v = v.clamp_min(0)
            assert objective(v) >= base - 1e-9
    if nonneg:
        assert float(x.min()) >= 0.0
    # and it really denoises: lower TV than the input
    assert tv.value(x) < tv.value(z if not nonneg else z.clamp_min(0))


# CEL0's hard-threshold regime (step * a^2 >= 1): phi is concave on [0, sqrt(2 lam) / a] and equal to lam
# beyond, so 1/2 (u - z)^2 + step * phi(u) is minimised at u = 0 or u = z, and z wins exactly when
# z^2 / 2 > step * lam, i.e. |z| > sqrt(2 step lam) (SPEC 3.2). Inputs are placed densely on both sides of
# that point (0.2 % to 10 % away), so a threshold moved by 1 % already leaves the prox off the minimiser
# by step * lam * ((z/t)^2 - 1) >= 4e-3 * step * lam, far above the brute-force error.
HARD_CASES = [  # (lam, step, a): step * a^2 = 1 exactly (both branches meet), 1.44, 4 and 25
    (0.3, 0.25, 2.0),
    (0.3, 0.36, 2.0),
    (0.05, 1.0, 2.0),
    (1.2, 0.04, 25.0),
]


def _cel0_phi(u, lam, a):
    """phi(u) written from the SPEC formula, independently of the code (NumPy, elementwise)."""
    root = math.sqrt(2 * lam)
    u = np.abs(u)
    return np.where(u <= root / a, lam - 0.5 * a**2 * (u - root / a) ** 2, lam)


def _brute_force_min(obj, z):
    """Minimiser and minimum of a 1-D objective: a dense grid (holding 0) over [-2|z|, 2|z|], then a finer one
    around its best point (spacing |z| / 2000, then |z| / 400000)."""
    span = 2 * abs(z)
    grid = np.linspace(-span, span, 8001)
    u0 = grid[int(np.argmin(obj(grid)))]
    fine = np.concatenate([grid, np.linspace(u0 - span / 4000, u0 + span / 4000, 401)])
    values = obj(fine)
    k = int(np.argmin(values))
    return fine[k], values[k]


@pytest.mark.parametrize("nonneg", [True, False])
@pytest.mark.parametrize("lam,step,a", HARD_CASES)
def test_cel0_prox_hard_threshold_regime_against_brute_force(lam, step, a, nonneg):
    assert step * a**2 >= 1
    t = math.sqrt(2 * step * lam)  # the hard threshold
    rel = np.concatenate([-np.geomspace(0.1, 0.002, 12), np.geomspace(0.002, 0.1, 12)])
    mags = t * (1 + rel)
    z = torch.tensor(np.concatenate([mags, -mags]), dtype=torch.float64)
    penalty = CEL0(lam, norms=torch.full_like(z, a), nonneg=nonneg)
    x = penalty.prox(z, step)
    for zi, xi in zip(z.tolist(), x.tolist()):

        def obj(u, zi=zi):
            u = np.asarray(u, dtype=float)
            value = 0.5 * (u - zi) ** 2 + step * _cel0_phi(u, lam, a)
            return np.where(u < 0, np.inf, value) if nonneg else value

        u_best, best = _brute_force_min(obj, zi)
        assert obj(xi) <= best + 1e-12 * max(1.0, abs(best)), (zi / t, xi, u_best)
        # the minimiser is unique here (z is never exactly on the threshold): 0 below, z above
        expected = zi if abs(zi) > t and (zi > 0 or not nonneg) else 0.0
        assert xi == pytest.approx(expected, abs=1e-12), (zi / t, xi)
        assert abs(xi - u_best) <= abs(zi) / 2000
