"""Plug-and-play proximal gradient with a gradient-step denoiser, and its monitored objective."""

from __future__ import annotations

import math

import torch

from ..errors import InputError
from .base import History, SolverOptions, SolverResult

__all__ = ["pnp_proximal_gradient"]


def pnp_proximal_gradient(f, denoise, x0: torch.Tensor, *, step: float | None = None,
                          options: SolverOptions = SolverOptions(max_iter=300, tol=1e-4),
                          accelerate: bool = False, progress=None) -> SolverResult:
    """``x_{k+1} = D(x_k - step grad f(x_k))`` with ``D`` a proximal denoiser, the objective tracked.

    ``denoise(z)`` returns ``(D(z), psi_at)`` with ``psi_at = p(z) -
    1/2 |z - D(z)|^2`` evaluated by the caller from the denoiser's potential
    ``p`` (for a gradient-step denoiser ``D = prox_psi`` and
    ``psi(D(z)) = p(z) - 1/2 |z - D(z)|^2``). The iteration is proximal
    gradient on ``f + psi / step``, so the recorded objective is

    ``G(x_{k+1}) = f(x_{k+1}) + psi(x_{k+1}) / step``,

    which decreases when ``D`` is a proximal map of a weakly convex
    function with the right modulus and ``step < 1 / L_f`` (Hurault et
    al. 2022). The history holds ``G``, the relative change
    ``|x_{k+1} - x_k| / |x_0|`` (the stopping test: below ``options.tol``)
    ``f.aux`` scalars and ``prior`` (the term ``psi / step`` of ``G``). The step is fixed (default ``0.99 / L_f``, the
    theory's condition): ``psi / step`` is part of the objective, so a
    step search would change the problem being solved.

    With ``accelerate`` the step is taken from the extrapolated point
    ``y = x_k + (t_{k-1} - 1) / t_k (x_k - x_{k-1})`` (FISTA's momentum) and
    kept only if it lowers ``G`` below ``G(x_k)``; otherwise the momentum is
    reset and the plain step from ``x_k`` is taken instead (one more
    denoiser call). ``G`` therefore decreases as in the plain scheme and
    every rejected extrapolation falls back on a step the theory covers:
    the monotone accelerated proximal gradient of Li and Lin (2015) in its
    simplest form. The history records accepted iterates only;
    ``aux["restart"]`` is 1 where the extrapolation was rejected.

    Examples
    --------
    >>> class Quad:  # 1/2 |x - b|^2
    ...     lipschitz = 1.0
    ...     def __init__(self, b): self.b = b
    ...     def grad(self, x): return x - self.b
    ...     def value(self, x): return 0.5 * float(((x - self.b) ** 2).sum())
    >>> shrink = lambda z: (z / 2, 0.5 * float((z ** 2).sum()) / 2 - 0.5 * float(((z / 2) ** 2).sum()))
    >>> res = pnp_proximal_gradient(Quad(torch.tensor([2.0])), shrink, torch.tensor([1.0]), step=0.5)
    >>> round(float(res.x), 4), res.converged
    (0.6667, True)
    """
    step = 0.99 / f.lipschitz if step is None else float(step)
    if not step > 0:
        raise InputError(f"the step must be positive, got {step}")
    x = x0.clone()
    x_old = None
    g_x = None  # G at x: known once x is a denoiser output
    t = 1.0
    ref = torch.linalg.vector_norm(x0).item() or 1.0
    history = History()
    converged = False
    k = 0

    def forward_backward(point):
        x_new, psi_at = denoise(point - step * f.grad(point))
        return x_new, psi_at, f.value(x_new) + psi_at / step

    for k in range(1, options.max_iter + 1):
        restart = 0
        if accelerate and x_old is not None and g_x is not None and t > 1.0:
            t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
            y = x + ((t - 1) / t_new) * (x - x_old)
            x_new, psi_at, g_new = forward_backward(y)
            if g_new <= g_x:
                t = t_new
            else:  # the extrapolation did not lower G: the plain step, momentum reset
                restart, t = 1, 1.0
                x_new, psi_at, g_new = forward_backward(x)
        else:
            x_new, psi_at, g_new = forward_backward(x)
            if accelerate and g_x is not None:
                t = (1 + math.sqrt(1 + 4 * t * t)) / 2
        change = torch.linalg.vector_norm(x_new - x).item() / ref
        # the prior's share of G is kept: its float32 round-off bounds how monotone G can be seen to be
        aux = {**(f.aux(x_new) if hasattr(f, "aux") else {}), "prior": psi_at / step}
        if accelerate:
            aux["restart"] = restart
        history.append(g_new, change, aux)
        x_old, x, g_x = x, x_new, g_new
        if progress is not None:
            progress.update(1)
        if change < options.tol:
            converged = True
            break
    return SolverResult(x=x, history=history, n_iter=k, converged=converged)
