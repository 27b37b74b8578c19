"""Penalties with proximal maps (torch). ``prox(z, step)`` solves
``argmin_x 1/2 |x - z|^2 + step * penalty(x)``."""

from __future__ import annotations

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
    """The indicator of ``x >= 0`` (the prox is the projection).

    Examples
    --------
    >>> NonNegative().prox(torch.tensor([-1.0, 2.0]), 1.0)
    tensor([0., 2.])
    """

    def value(self, x):
        return self._constraint_value(x)

    def prox(self, z, step):
        return z.clamp_min(0)
