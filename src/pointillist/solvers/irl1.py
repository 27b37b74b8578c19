"""Iteratively reweighted l1 for CEL0 (Ochs et al. 2015; the COL0RME and SMLM-CEL0 codes)."""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from ..penalties import WeightedL1
from .base import History, SolverOptions, SolverResult, relative_change
from .fista import fista

__all__ = ["irl1"]


class _FixedWeightedL1(WeightedL1):
    """``WeightedL1`` for the inner FISTA solves: the same prox, with less memory traffic.

    The threshold ``step * weights`` is formed once per step size (the
    weights are fixed for a whole inner solve), and the non-negative prox
    is computed in the storage of its argument, the temporary that
    ``fista`` hands it; both change nothing in the arithmetic of
    ``WeightedL1.prox``.
    """

    def __init__(self, weights: torch.Tensor, *, nonneg: bool = True):
        super().__init__(weights, nonneg=nonneg)
        self._step = self._threshold = None

    def prox(self, z, step):
        if step != self._step:
            self._step, self._threshold = step, step * self.weights
        t = self._threshold
        if self.nonneg and t.shape == z.shape and t.dtype == z.dtype:
            return torch.sub(z, t, out=z).clamp_min_(0)
        return super().prox(z, step) if self.nonneg else torch.sign(z) * (z.abs() - t).clamp_min_(0)


def irl1(f, penalty, x0: torch.Tensor, *, outer_iter: int = 50, tol: float = 1e-5,
         inner: SolverOptions = SolverOptions(max_iter=2000, tol=1e-5), progress=None) -> SolverResult:
    """Minimise ``f + penalty`` (a CEL0 penalty) by IRL1.

    Each outer step solves the weighted-l1 problem with weights
    ``penalty.irl1_weights(x)`` (FISTA, warm start); it converges to a
    critical point of ``f + CEL0``; with ``inner.record_objective`` the
    history holds ``f + CEL0`` and the relative change once per outer step.
    Stops when the iterate and the
    auxiliary scalars change by less than ``tol`` between outer steps, or
    when the first forward-backward step of an inner solve moves ``x`` by
    less than ``tol`` (``x`` is then a fixed point of its own reweighted
    problem, i.e. a critical point of ``f + CEL0`` to that precision).

    Examples
    --------
    >>> from pointillist.penalties import CEL0
    >>> class Quad:
    ...     lipschitz = 1.0
    ...     def grad(self, x): return x - torch.tensor([3.0, 0.2])
    ...     def value(self, x): return 0.5 * float(((x - torch.tensor([3.0, 0.2])) ** 2).sum())
    >>> irl1(Quad(), CEL0(0.5, norms=torch.ones(2)), torch.zeros(2)).x
    tensor([3., 0.])
    """
    x = x0.clone()
    history = History()
    aux_old = f.aux(x) if hasattr(f, "aux") else {}
    converged = False
    k = 0
    # The history holds the objective f + CEL0 once per outer step: recording it at every inner
    # iteration cost as much as a gradient, and measured the weighted-l1 problem, not this one.
    quiet = replace(inner, record_objective=False)
    for k in range(1, outer_iter + 1):
        weighted = _FixedWeightedL1(penalty.irl1_weights(x), nonneg=penalty.nonneg)
        res = fista(f, weighted, x, options=quiet, progress=progress)
        change = relative_change(res.x, x)
        aux = f.aux(res.x) if hasattr(f, "aux") else {}
        objective = f.value(res.x) + penalty.value(res.x) if inner.record_objective else math.nan
        history.append(objective, change, aux)
        aux_change = max((relative_change(aux[key], aux_old[key]) for key in aux), default=0.0)
        x, aux_old = res.x, aux
        # Stop when the outer change is small, or when the first forward-backward step of the
        # inner solve, taken from the previous outer iterate at its own weights, moved it by less
        # than tol: that iterate is then a fixed point of its reweighted problem, i.e. a critical
        # point of f + CEL0 to that precision (an inner solve that merely stops early says nothing).
        stationary = bool(res.history.rel_change) and res.history.rel_change[0] < tol
        if k > 1 and ((change < tol and aux_change < tol) or stationary):
            converged = True
            break
    return SolverResult(x=x, history=history, n_iter=k, converged=converged)
