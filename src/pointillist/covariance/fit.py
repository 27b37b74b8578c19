"""The smooth covariance-fitting term of COL0RME, with the noise variance in closed form."""

from __future__ import annotations

import numpy as np
import torch

from ..operators import SeparableMatrices
from ..operators.covariance import CovarianceOperator, variance_operator
from .stats import CovarianceStats

__all__ = ["CovarianceFit", "VarianceFit"]


class CovarianceFit:
    """``F~(r) = min_{s >= 0} 1/2 |R_y - Psi diag(r) Psi^T - s I|_F^2`` on normalised data.

    Expanding the square with ``V = A^T R_y``, ``n = |psi_j|^2`` (column
    norms) and ``N`` camera pixels:

    ``F(r, s) = 1/2 |R_y|^2 - <r, V> - s tr(R_y) + 1/2 <r, A^T A r> + s <r, n> + 1/2 N s^2``

    so ``grad_r F = A^T A r - V + s n`` and the optimal
    ``s*(r) = max(0, (tr(R_y) - <r, n>) / N)``. ``F~`` is convex with
    gradient ``grad_r F(r, s*(r))`` (the minimiser in ``s`` is unique), whose
    Lipschitz constant is at most that of ``A^T A``. With ``fixed_s`` the
    noise variance is held (SPARCOM uses 0).

    The data are divided by ``scale = max(R_y)`` so that lambda is relative;
    ``s`` reported by ``noise_variance`` is back in data units.
    """

    def __init__(self, op: CovarianceOperator, stats: CovarianceStats, *, device=None, dtype=torch.float64,
                 fixed_s: float | None = None):
        self.op = op
        self.scale = stats.scale
        like = torch.zeros((), dtype=dtype, device=device)
        self.v = (stats.v / self.scale).to(dtype=dtype, device=device)
        self.trace = stats.trace / self.scale
        self.frob2 = None if stats.frob2 is None else stats.frob2 / self.scale**2
        self.norms = op.column_norms(like)
        self.n_pixels = op.n_camera_pixels
        self.fixed_s = None if fixed_s is None else fixed_s / self.scale
        self.lipschitz = op.lipschitz

    def s_star(self, r) -> float:
        if self.fixed_s is not None:
            return self.fixed_s
        return max(0.0, (self.trace - float(torch.sum(r * self.norms))) / self.n_pixels)

    def value(self, r, s=None) -> float:
        """``F(r, s)`` (``s`` optimal if omitted); without ``|R_y|^2`` the constant is left out."""
        return self.value_from(r, self.op.normal(r), s)

    def grad(self, r):
        return self.grad_from(r, self.op.normal(r))

    def linear_part(self, r):
        """``A^T A r``, the costly part of the value and the gradient (see ``fista``)."""
        return self.op.normal(r)

    def value_from(self, r, normal_r, s=None) -> float:
        """``value(r, s)`` given ``normal_r = A^T A r``."""
        s = self.s_star(r) if s is None else s
        const = 0.0 if self.frob2 is None else 0.5 * self.frob2
        quad = 0.5 * float(torch.sum(r * normal_r))
        return const - float(torch.sum(r * self.v)) - s * self.trace + quad + s * float(torch.sum(r * self.norms)) \
            + 0.5 * self.n_pixels * s * s

    def grad_from(self, r, normal_r):
        """``grad(r)`` given ``normal_r = A^T A r``."""
        return normal_r - self.v + self.s_star(r) * self.norms

    def aux(self, r) -> dict:
        return {"s": self.s_star(r)}

    def noise_variance(self, r) -> float:
        """``s*(r)`` in data units."""
        return self.s_star(r) * self.scale

    def rescale(self, factor: float) -> None:
        """Divide the data by ``factor`` (in place): ``r`` and ``s`` then live on a scale ``factor`` times smaller."""
        self.scale *= factor
        self.v = self.v / factor
        self.trace /= factor
        self.frob2 = None if self.frob2 is None else self.frob2 / factor**2
        self.fixed_s = None if self.fixed_s is None else self.fixed_s / factor

    def minus_grad_at_zero(self, *, exact: bool):
        """``c = A^T(R_y - s I)`` at ``r = 0``: with ``exact`` ``s = s*(0)``, else ``s = 0`` (reference code)."""
        return self.v - (self.s_star(torch.zeros_like(self.v)) * self.norms if exact else 0.0)


class VarianceFit:
    """``F~(r) = min_{s >= 0} 1/2 |v - A_0 r - s 1|^2``: the diagonal of the covariance only.

    ``v`` is the temporal variance of each camera pixel (``diag R_y``) and
    ``A_0 = variance_operator(Psi)`` (for ``q = 1`` the convolution with
    the squared PSF): the model of PnP-COL0RME's deconvolution setting,
    which drops the cross-covariances. ``s*(r) = max(0, mean(v - A_0 r))``,
    ``grad_r F = A_0^T (A_0 r + s - v)``, Lipschitz constant
    ``|G_r o G_r|_2^2 |G_c o G_c|_2^2`` (exact; eliminating ``s`` does not
    raise it). Same interface and normalisation (``scale = max v``) as
    ``CovarianceFit``.
    """

    def __init__(self, psi: SeparableMatrices, stats: CovarianceStats, *, device=None, dtype=torch.float64):
        self.op = variance_operator(psi)
        self.scale = stats.scale
        self.v = (stats.variance / self.scale).to(dtype=dtype, device=device)
        self.n_pixels = self.v.numel()
        self.lipschitz = float(np.linalg.norm(self.op.rows, 2) ** 2 * np.linalg.norm(self.op.cols, 2) ** 2)

    def _residual(self, r, s):
        return self.op(r) + s - self.v

    def s_star(self, r) -> float:
        return max(0.0, float(torch.mean(self.v - self.op(r))))

    def value(self, r, s=None) -> float:
        s = self.s_star(r) if s is None else s
        return 0.5 * float(torch.sum(self._residual(r, s) ** 2))

    def grad(self, r):
        return self.op.adjoint(self._residual(r, self.s_star(r)))

    def aux(self, r) -> dict:
        return {"s": self.s_star(r)}

    def noise_variance(self, r) -> float:
        return self.s_star(r) * self.scale

    def rescale(self, factor: float) -> None:
        """Divide the data by ``factor`` (in place), as ``CovarianceFit.rescale``."""
        self.scale *= factor
        self.v = self.v / factor
