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
    """The forward-backward loop shared by FISTA (``accelerate``) and plain proximal gradient.

    The arithmetic is that of the textbook update (``z - step * grad``, the
    restart test ``<z - x_new, x_new - x> > 0``, ``x_new + beta (x_new - x)``)
    operation for operation, so results do not depend on how it is
    organised; but ``x_new - x`` is formed once, and the loop's own
    temporaries (the gradient step, the difference, the momentum point) are
    written into buffers recycled from earlier iterations: on large batches
    the allocation and memory traffic of these element-wise passes cost as
    much as the operator itself. Tensors returned by ``f`` and ``g`` are
    never written to, except the argument handed to ``g.prox``, a temporary.

    A smooth term whose costly part is linear (``f.linear_part(x)``, with
    ``f.grad_from(x, lx)`` and ``f.value_from(x, lx)`` completing the
    gradient and the value from it) is evaluated at the iterates only: the
    linear part at the momentum point is the same combination of those at
    ``x_new`` and ``x`` as the point itself, so recording the objective
    costs no second operator application per iteration.
    """
    x = x0.clone()
    z = x.clone()
    t = 1.0
    history = History()
    aux_old = _aux(f, x)
    converged = False
    k = 0
    spare = []  # buffers the loop allocated that nothing uses any more
    mine = []  # buffers the loop allocated that x or z may still use

    def buffer(like):
        for i, b in enumerate(spare):
            if _same_layout(b, like):
                return spare.pop(i)
        return None

    linear = hasattr(f, "linear_part")
    lx = lz = f.linear_part(x) if linear else None
    for k in range(1, options.max_iter + 1):
        grad = f.grad_from(z, lz) if linear else f.grad(z)
        if _same_layout(grad, z):
            v = torch.mul(grad, step, out=buffer(z))
            torch.sub(z, v, out=v)
        else:  # mixed dtypes or shapes: let torch promote as in the plain expression
            v = z - step * grad
        x_new = g.prox(v, step)
        d = torch.sub(x_new, x, out=buffer(x_new))
        mine += [v, d]
        diff = torch.linalg.vector_norm(d).item()
        ref = torch.linalg.vector_norm(x).item() or torch.linalg.vector_norm(x_new).item()
        change = diff / ref if ref > 0 else 0.0  # relative_change(x_new, x)
        if accelerate and options.restart:
            e = torch.sub(z, x_new, out=buffer(z))
            restart = e.mul_(d).sum().item() > 0
            spare.append(e)
        lx_new = f.linear_part(x_new) if linear else None
        if not accelerate:
            z_new, lz = x_new, lx_new
        elif options.restart and restart:
            t = 1.0
            z_new, lz = x_new, lx_new
        else:
            t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
            a = (t - 1) / t_new
            z_new = d.mul_(a).add_(x_new)
            lz = torch.sub(lx_new, lx).mul_(a).add_(lx_new) if linear else None
            t = t_new
        # Recycle the loop's buffers that neither x_new nor z_new uses (compared
        # by storage: a prox may return its argument or a view of it).
        live = {_storage(x_new), _storage(z_new)}
        kept = []
        for b in mine:
            if _storage(b) in live:
                kept.append(b)
            elif all(_storage(b) != _storage(s) for s in spare):
                spare.append(b)
        mine = kept
        aux = _aux(f, x_new)
        if options.record_objective:
            obj = (f.value_from(x_new, lx_new) if linear else f.value(x_new)) + g.value(x_new)
        else:
            obj = math.nan
        history.append(obj, change, aux)
        aux_change = max((relative_change(aux[key], aux_old[key]) for key in aux), default=0.0)
        x, z, aux_old, lx = x_new, z_new, aux, lx_new
        if progress is not None:
            progress.update(1)
        if k > 1 and change < options.tol and aux_change < options.tol:
            converged = True
            break
    return SolverResult(x=x, history=history, n_iter=k, converged=converged)


def _same_layout(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.device == b.device


def _storage(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()
