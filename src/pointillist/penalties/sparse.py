"""Sparsity penalties: l1, weighted l1 and CEL0 (continuous exact l0 relaxation)."""

from __future__ import annotations

import math

import torch

from ..errors import InputError
from .base import Penalty, check_lambda

__all__ = ["cel0_phi", "L1", "WeightedL1", "CEL0"]


class WeightedL1(Penalty):
    """``sum_i w_i |x_i|`` with non-negative weights (the inner problem of IRL1).

    Examples
    --------
    >>> WeightedL1(torch.tensor([0.0, 1.0])).prox(torch.tensor([0.5, 0.5]), 1.0)
    tensor([0.5000, 0.0000])
    """

    def __init__(self, weights: torch.Tensor, *, nonneg: bool = True):
        self.weights = weights
        self.nonneg = nonneg

    def value(self, x):
        return float((self.weights * x.abs()).sum()) + self._constraint_value(x)

    def prox(self, z, step):
        t = step * self.weights
        if self.nonneg:
            return (z - t).clamp_min(0)
        return torch.sign(z) * (z.abs() - t).clamp_min(0)


class L1(WeightedL1):
    """``lam * |x|_1`` (with ``nonneg``, ``lam * sum(x)`` on ``x >= 0``).

    Examples
    --------
    >>> L1(1.0).prox(torch.tensor([-3.0, 0.5, 2.0]), 1.0)
    tensor([0., 0., 1.])
    >>> L1(1.0, nonneg=False).prox(torch.tensor([-3.0, 0.5, 2.0]), 1.0)
    tensor([-2.,  0.,  1.])
    """

    def __init__(self, lam: float, *, nonneg: bool = True):
        self.lam = check_lambda(lam)
        super().__init__(self.lam, nonneg=nonneg)


def cel0_phi(x: torch.Tensor, lam, norms) -> torch.Tensor:
    """Elementwise CEL0 penalty ``phi_i(x_i)``, differentiable (a tensor, for losses).

    ``lam`` and ``norms`` broadcast against ``x`` (a float or a tensor of
    per-element or per-batch values).

    Examples
    --------
    >>> cel0_phi(torch.tensor([0.0, 0.5, 2.0]), 0.5, torch.tensor(1.0))
    tensor([0.0000, 0.3750, 0.5000])
    """
    lam = torch.as_tensor(lam, dtype=x.dtype, device=x.device)
    a = torch.as_tensor(norms, dtype=x.dtype, device=x.device)
    root = torch.sqrt(2 * lam)
    u = x.abs()
    inside = u * a <= root
    # lam - (a u - root)^2 / 2 rewritten so that phi(0) is exactly 0 in floating point
    quad = a * u * (root - 0.5 * a * u)
    return torch.where(inside, quad, lam + torch.zeros_like(u))


class CEL0(Penalty):
    """The CEL0 penalty ``sum_i phi_i(x_i)`` with column norms ``a_i``.

    ``phi_i(u) = lam - (a_i^2 / 2) (|u| - sqrt(2 lam) / a_i)^2`` for
    ``|u| <= sqrt(2 lam) / a_i`` and ``lam`` beyond: the continuous exact
    relaxation of ``lam |x|_0`` for a least-squares term whose operator has
    columns of norm ``a_i`` (Soubies et al. 2015).

    The proximal map is closed form (firm thresholding when
    ``step a_i^2 < 1``, hard thresholding otherwise); with ``nonneg`` it is
    followed by ``max(0, .)``, exact because ``phi`` is even and
    non-decreasing in ``|u|``.

    Examples
    --------
    >>> p = CEL0(0.5, norms=torch.tensor([1.0]))
    >>> p.value(torch.tensor([0.0])), p.value(torch.tensor([2.0]))
    (0.0, 0.5)
    >>> p.prox(torch.tensor([0.5, 3.0]), 0.5)
    tensor([0., 3.])
    """

    def __init__(self, lam, *, norms: torch.Tensor, nonneg: bool = True):
        # A tensor lam (broadcasting against x) solves a batch of problems at once,
        # e.g. one lambda per frame or per candidate value.
        if isinstance(lam, torch.Tensor) and lam.numel() > 1:
            if not bool((lam >= 0).all()):
                raise InputError("the regularisation parameter lambda must be non-negative")
            self.lam = lam
        else:
            self.lam = check_lambda(lam)
        self.norms = norms
        self.nonneg = nonneg

    def _root(self, like):
        """``sqrt(2 lam)`` as a float or a tensor on ``like``'s device."""
        if isinstance(self.lam, torch.Tensor):
            return torch.sqrt(2 * self.lam.to(dtype=like.dtype, device=like.device))
        return math.sqrt(2 * self.lam)

    def value(self, x):
        return float(cel0_phi(x, self.lam, self.norms).sum()) + self._constraint_value(x)

    def prox(self, z, step):
        a = self.norms.expand_as(z) if self.norms.dim() else self.norms * torch.ones_like(z)
        root = self._root(z)
        u = z.abs()
        ga2 = step * a**2
        firm = torch.minimum(u, (u - root * a * step).clamp_min(0) / (1 - ga2).clamp_min(1e-300))
        hard = torch.where(u > root * math.sqrt(step), u, torch.zeros_like(u))
        mag = torch.where(ga2 < 1, firm, hard)
        out = torch.sign(z) * mag
        return out.clamp_min(0) if self.nonneg else out

    def irl1_weights(self, x):
        """``phi_i'(|x_i|) = (sqrt(2 lam) a_i - a_i^2 |x_i|)_+``: the IRL1 weights at ``x``."""
        a = self.norms
        return (self._root(x) * a - a**2 * x.abs()).clamp_min(0)
