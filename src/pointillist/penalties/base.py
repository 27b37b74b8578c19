"""Penalties with proximal maps (torch). ``prox(z, step)`` solves
``argmin_x 1/2 |x - z|^2 + step * penalty(x)``."""

from __future__ import annotations

import math

import torch

from ..errors import InputError

__all__ = ["Penalty", "NonNegative", "check_lambda"]


def check_lambda(lam) -> float:
    lam = float(lam)
    if not lam >= 0:
        raise InputError(f"the regularisation parameter lambda must be non-negative, got {lam}")
    return lam


class Penalty:
    """Base class: ``value(x)`` and ``prox(z, step)``; ``nonneg`` adds the constraint x >= 0."""

    nonneg: bool = True

    def value(self, x: torch.Tensor) -> float:
        raise NotImplementedError

    def prox(self, z: torch.Tensor, step: float) -> torch.Tensor:
        raise NotImplementedError

    def _constraint_value(self, x) -> float:
        if self.nonneg and bool((x < 0).any()):
            return float("inf")
        return 0.0


class NonNegative(Penalty):
    """The indicator of ``x >= 0``, and of ``x = 0`` where ``mask`` is 0 (the prox is the projection).

    Parameters
    ----------
    mask : tensor, optional
        1 where ``x`` may be non-zero (a support), 0 elsewhere; shaped like ``x``.

    Examples
    --------
    >>> NonNegative().prox(torch.tensor([-1.0, 2.0]), 1.0)
    tensor([0., 2.])
    >>> NonNegative(mask=torch.tensor([1.0, 0.0])).prox(torch.tensor([3.0, 2.0]), 1.0)
    tensor([3., 0.])
    """

    def __init__(self, mask=None):
        self.mask = mask

    def value(self, x):
        if self.mask is not None and bool((x * (1 - self.mask)).abs().max() > 0):
            return math.inf
        return self._constraint_value(x)

    def prox(self, z, step):
        return z.clamp_min(0) if self.mask is None else z.clamp_min(0) * self.mask
