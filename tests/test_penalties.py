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
