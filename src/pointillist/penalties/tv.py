"""Isotropic total variation with Neumann boundary, and its proximal map."""

from __future__ import annotations

import torch

from .base import Penalty, check_lambda

__all__ = ["TV", "grad2d", "div2d"]


def grad2d(x: torch.Tensor) -> torch.Tensor:
    """Forward differences with Neumann boundary: ``(..., 2, H, W)`` (rows, columns)."""
    g = torch.zeros((*x.shape[:-2], 2, *x.shape[-2:]), dtype=x.dtype, device=x.device)
    g[..., 0, :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    g[..., 1, :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    return g


def div2d(p: torch.Tensor) -> torch.Tensor:
    """Discrete divergence, ``div = -grad^T`` (so ``<grad x, p> = -<x, div p>``)."""
    py, px = p[..., 0, :, :], p[..., 1, :, :]
    d = torch.zeros_like(py)
    d[..., :-1, :] += py[..., :-1, :]
    d[..., 1:, :] -= py[..., :-1, :]
    d[..., :, :-1] += px[..., :, :-1]
    d[..., :, 1:] -= px[..., :, :-1]
    return d


class TV(Penalty):
    """``lam * sum |grad x|_2`` (isotropic), optionally with ``x >= 0``.

    The prox is computed by the fast gradient projection on the dual (Beck
    and Teboulle 2009), which converges for the constrained problem too;
    ``inner_iter`` iterations, warm-started from the previous dual variable.

    Examples
    --------
    >>> x = torch.zeros(4, 4); x[:, 2:] = 1
    >>> TV(0.5).value(x)
    2.0
    """

    def __init__(self, lam: float, *, nonneg: bool = True, inner_iter: int = 50, inner_tol: float = 1e-6):
        self.lam = check_lambda(lam)
        self.nonneg = nonneg
        self.inner_iter = int(inner_iter)
        self.inner_tol = inner_tol
        self._dual = None

    def value(self, x):
        g = grad2d(x)
        return self.lam * float(torch.sqrt((g**2).sum(dim=-3)).sum()) + self._constraint_value(x)

    def _project_primal(self, x):
        return x.clamp_min(0) if self.nonneg else x

    def prox(self, z, step):
        t = step * self.lam
        if t == 0:
            return self._project_primal(z)
        p = self._dual if (self._dual is not None and self._dual.shape[-3:] == (2, *z.shape[-2:])) else None
        p = torch.zeros((*z.shape[:-2], 2, *z.shape[-2:]), dtype=z.dtype, device=z.device) if p is None else p
        q, s = p.clone(), 1.0
        x = self._project_primal(z + t * div2d(p))
        for _ in range(self.inner_iter):
            x_q = self._project_primal(z + t * div2d(q))
            p_new = q + grad2d(x_q) / (8.0 * t)
            norm = torch.sqrt((p_new**2).sum(dim=-3, keepdim=True)).clamp_min(1.0)
            p_new = p_new / norm
            s_new = (1 + (1 + 4 * s * s) ** 0.5) / 2
            q = p_new + ((s - 1) / s_new) * (p_new - p)
            x_new = self._project_primal(z + t * div2d(p_new))
            change = torch.linalg.vector_norm(x_new - x) / torch.linalg.vector_norm(x_new).clamp_min(1e-300)
            p, s, x = p_new, s_new, x_new
            if change < self.inner_tol:
                break
        self._dual = p
        return x
