"""The axial operator of multi-angle TIRF: a depth profile in every pixel seen under K angles."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from .base import LinearOperator

__all__ = ["DepthMixing"]


class DepthMixing(LinearOperator):
    """``u (J, *lateral) -> A u (K, *lateral)``: each pixel's depth profile mixed by a ``K x J`` matrix.

    With ``A`` from :func:`pointillist.tirf.depth_bin_matrix`, ``(A u)[k]`` is
    the image that angle k records of the density ``u`` on J depth bins (no
    lateral blur: the COL0RME intensities are already deconvolved).

    Parameters
    ----------
    matrix : array_like (K, J)
    lateral_shape : tuple of int
        The shape of one depth slice (the fine grid, or the flat list of support pixels).

    Examples
    --------
    >>> op = DepthMixing(np.array([[1.0, 0.5], [1.0, 0.1]]), (3,))
    >>> u = torch.zeros(2, 3, dtype=torch.float64); u[1, 2] = 2.0
    >>> op(u)[:, 2].tolist()
    [1.0, 0.2]
    """

    def __init__(self, matrix, lateral_shape):
        super().__init__()
        self.matrix = np.asarray(matrix, dtype=np.float64)
        if self.matrix.ndim != 2 or 0 in self.matrix.shape or not np.all(np.isfinite(self.matrix)):
            raise InputError(f"the depth matrix must be a finite 2-D (angles x depth bins) array, got shape "
                             f"{self.matrix.shape}")
        self.lateral_shape = tuple(int(n) for n in lateral_shape)
        k, j = self.matrix.shape
        self.in_shape = (j, *self.lateral_shape)
        self.out_shape = (k, *self.lateral_shape)

    def _mix(self, x, m):
        axis = x.ndim - 1 - len(self.lateral_shape)
        return torch.movedim(torch.movedim(x, axis, -1) @ m.T, -1, axis)

    def _forward(self, x):
        return self._mix(x, self._tensor("matrix", self.matrix, x))

    def _adjoint(self, y):
        return self._mix(y, self._tensor("matrix", self.matrix, y).T)
