"""FISTA with adaptive restart, for a smooth term plus a penalty with a prox."""

from __future__ import annotations

import math

import torch

from .base import History, SolverOptions, SolverResult, relative_change

__all__ = ["fista", "proximal_gradient"]


def _aux(f, x) -> dict:
    return f.aux(x) if hasattr(f, "aux") else {}


def fista(f, g, x0: torch.Tensor, *, step: float | None = None, options: SolverOptions = SolverOptions(),
          progress=None) -> SolverResult:
    """Minimise ``f(x) + g(x)``: ``f`` smooth (``grad``, ``value``, ``lipschitz``), ``g`` with ``prox``.

    Accelerated proximal gradient (Beck and Teboulle 2009) with step
    ``1 / f.lipschitz`` by default and, with ``options.restart``, the
    gradient restart of O'Donoghue and Candes: momentum is reset when
    ``<z - x_new, x_new - x> > 0``. ``f.aux(x)`` (optional) returns scalars
    such as a closed-form noise variance; they are recorded and must also
    stop changing before the solver stops.

    Examples
    --------
    >>> from pointillist.penalties import L1
    >>> class Quad:  # 1/2 |x - b|^2
    ...     lipschitz = 1.0
    ...     def __init__(self, b): self.b = b
    ...     def grad(self, x): return x - self.b
    ...     def value(self, x): return 0.5 * float(((x - self.b) ** 2).sum())
    >>> res = fista(Quad(torch.tensor([3.0, 0.2])), L1(1.0), torch.zeros(2))
    >>> res.x
    tensor([2., 0.])
    """
    step = 1.0 / f.lipschitz if step is None else float(step)
    return _iterate(f, g, x0, step=step, options=options, progress=progress, accelerate=True)


def proximal_gradient(f, g, x0: torch.Tensor, *, step: float | None = None, options: SolverOptions = SolverOptions(),
                      progress=None) -> SolverResult:
    """Plain forward-backward splitting ``x <- prox_{step g}(x - step grad f(x))`` (no momentum).

    The safe choice for non-convex penalties (CEL0) with ``step < 1/L``:
    the objective decreases monotonically.
    """
    step = 0.99 / f.lipschitz if step is None else float(step)
    return _iterate(f, g, x0, step=step, options=options, progress=progress, accelerate=False)


def _iterate(f, g, x0, *, step, options, progress, accelerate) -> SolverResult:
    """The forward-backward loop shared by FISTA (``accelerate``) and plain proximal gradient."""
    x = x0.clone()
    z = x.clone()
    t = 1.0
    history = History()
    aux_old = _aux(f, x)
    converged = False
    k = 0
    for k in range(1, options.max_iter + 1):
        x_new = g.prox(z - step * f.grad(z), step)
        if not accelerate:
            z = x_new
        elif options.restart and torch.sum((z - x_new) * (x_new - x)).item() > 0:
            t = 1.0
            z = x_new
        else:
            t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
            z = x_new + ((t - 1) / t_new) * (x_new - x)
            t = t_new
        change = relative_change(x_new, x)
        aux = _aux(f, x_new)
        obj = f.value(x_new) + g.value(x_new) if options.record_objective else math.nan
        history.append(obj, change, aux)
        aux_change = max((relative_change(aux[key], aux_old[key]) for key in aux), default=0.0)
        x, aux_old = x_new, aux
        if progress is not None:
            progress.update(1)
        if k > 1 and change < options.tol and aux_change < options.tol:
            converged = True
            break
    return SolverResult(x=x, history=history, n_iter=k, converged=converged)
