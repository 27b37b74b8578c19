"""Preconditioned conjugate gradient for a symmetric positive definite linear operator."""

from __future__ import annotations

import math

import torch

from .base import History, SolverResult

__all__ = ["conjugate_gradient"]


def conjugate_gradient(apply, rhs: torch.Tensor, x0: torch.Tensor, *, precondition=None, tol: float = 1e-8,
                       max_iter: int = 2000) -> SolverResult:
    """Solve ``A x = rhs`` for a symmetric positive definite ``A`` given as ``apply(x) = A x``.

    Hestenes and Stiefel's iteration with an optional preconditioner
    ``precondition(r) ~ A^{-1} r`` (symmetric positive definite, e.g. the
    inverse diagonal); stops when ``|rhs - A x| <= tol |rhs|``. The history
    holds the relative residual as ``rel_change``.

    Parameters
    ----------
    apply : callable
        ``x -> A x`` for tensors shaped like ``rhs``.
    rhs : torch.Tensor
    x0 : torch.Tensor
        Starting point (a warm start from a nearby problem saves iterations).
    precondition : callable, optional
    tol : float
        Relative residual at which to stop.
    max_iter : int
        Iteration cap (``converged`` is False when reached).

    Returns
    -------
    SolverResult

    Examples
    --------
    >>> a = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    >>> res = conjugate_gradient(lambda x: a @ x, torch.tensor([1.0, 2.0], dtype=torch.float64),
    ...                          torch.zeros(2, dtype=torch.float64))
    >>> [round(v, 6) for v in res.x.tolist()], res.n_iter
    ([0.090909, 0.636364], 2)
    """
    history = History()
    x = x0.clone()
    r = rhs - apply(x)
    norm_rhs = float(torch.linalg.vector_norm(rhs)) or 1.0
    res = float(torch.linalg.vector_norm(r)) / norm_rhs
    z = precondition(r) if precondition is not None else r
    p = z.clone()
    rz = float(torch.sum(r * z))
    k = 0
    while res > tol and k < max_iter:
        ap = apply(p)
        curvature = float(torch.sum(p * ap))
        if not curvature > 0:  # p = 0 (exact solution) or A not positive definite
            break
        alpha = rz / curvature
        x.add_(p, alpha=alpha)
        r.sub_(ap, alpha=alpha)
        k += 1
        res = float(torch.linalg.vector_norm(r)) / norm_rhs
        history.append(math.nan, res, {})
        z = precondition(r) if precondition is not None else r
        rz_new = float(torch.sum(r * z))
        p = z + (rz_new / rz) * p
        rz = rz_new
    return SolverResult(x=x, history=history, n_iter=k, converged=res <= tol)
