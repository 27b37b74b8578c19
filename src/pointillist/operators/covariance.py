"""The covariance operator of COL0RME, without M^2 x M^2 matrices.

Model: the covariance of the frames is ``R_y = Psi diag(r) Psi^T + s I``
with ``r >= 0`` the per-fine-pixel variance of the emitters. For a separable
imaging operator ``Psi = G_r (x) G_c`` (``X -> G_r X G_c^T``):

* forward ``A r = Psi diag(r) Psi^T`` (an ``HW x HW`` matrix, built only
  on small cases and in tests);
* adjoint ``A^T C = diag(Psi^T C Psi)``: ``(A^T C)_j = psi_j^T C psi_j``;
* normal operator ``A^T A r = M_r R M_c^T`` with ``M = (G^T G)``
  squared elementwise, because ``(psi_i^T psi_j)^2`` factorises over the
  two axes: an ``O(L^3)`` product on the ``L x L`` image ``R`` of ``r``,
  which uses every spatial lag of the covariance exactly;
* column norms ``|a_j| = |psi_j|^2 = (sum_m G_r[m, j1]^2)(sum_m G_c[m, j2]^2)``;
* Lipschitz constant of ``r -> A^T A r``: ``lambda_max(M_r) lambda_max(M_c)``
  (eigenvalues of a Kronecker product multiply), exact.

The data enter the least-squares fit only through ``V = A^T R_y``,
``trace(R_y)`` and ``|R_y|_F^2`` (see ``pointillist.covariance``).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from .base import LinearOperator
from .imaging import SeparableMatrices

__all__ = ["CovarianceOperator", "variance_operator"]


class CovarianceOperator(LinearOperator):
    """``r -> Psi diag(r) Psi^T`` for a separable ``Psi``, with its adjoint and fast normal operator.

    Parameters
    ----------
    psi : SeparableMatrices
        The imaging operator ``X -> G_r X G_c^T`` (``imaging_operator`` of a
        Gaussian PSF).
    normal_dtype : torch.dtype, optional
        Compute the normal operator's two products in this dtype and return
        the input's (``torch.float32``: 2.7x faster than float64 on a CPU,
        relative error ~1e-7, far below the solvers' tolerances); None: in
        the input's dtype.

    Examples
    --------
    >>> from pointillist.optics import Optics
    >>> from pointillist.operators import imaging_operator
    >>> A = CovarianceOperator(imaging_operator(Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=2), (3, 4)))
    >>> A.in_shape, A.out_shape
    ((6, 8), (12, 12))
    """

    def __init__(self, psi: SeparableMatrices, *, normal_dtype: torch.dtype | None = None):
        super().__init__()
        self.normal_dtype = normal_dtype
        if not isinstance(psi, SeparableMatrices):
            raise InputError("the covariance operator needs a separable (Gaussian) PSF; measured PSF images are not supported")
        self.psi = psi
        gr, gc = psi.rows, psi.cols
        self.in_shape = psi.in_shape
        n_pix = gr.shape[0] * gc.shape[0]
        self.out_shape = (n_pix, n_pix)
        self.m_rows = (gr.T @ gr) ** 2
        self.m_cols = (gc.T @ gc) ** 2
        self.norms = np.outer((gr**2).sum(axis=0), (gc**2).sum(axis=0))
        self.n_camera_pixels = n_pix

    @property
    def lipschitz(self) -> float:
        """Largest eigenvalue of ``A^T A`` (exact, from the two factors)."""
        if "lipschitz" not in self._cache:
            self._cache["lipschitz"] = float(np.linalg.eigvalsh(self.m_rows)[-1] * np.linalg.eigvalsh(self.m_cols)[-1])
        return self._cache["lipschitz"]

    def norm(self, **kwargs) -> float:
        return float(np.sqrt(self.lipschitz))

    def _psi_columns(self, like):
        """``Psi`` as an explicit ``(H W) x (L_r L_c)`` matrix (small problems only)."""
        gr = self._tensor("rows", self.psi.rows, like)
        gc = self._tensor("cols", self.psi.cols, like)
        return torch.kron(gr, gc)

    def _forward(self, r):
        p = self._psi_columns(r)
        flat = r.reshape(*r.shape[:-2], -1)
        return (p * flat.unsqueeze(-2)) @ p.T

    def _adjoint(self, c):
        gr = self._tensor("rows", self.psi.rows, c)
        gc = self._tensor("cols", self.psi.cols, c)
        h, w = gr.shape[0], gc.shape[0]
        lr, lc = self.in_shape
        # psi_j^T C psi_j with psi_j = G_r[:, j1] (x) G_c[:, j2], contracted axis by axis
        c4 = c.reshape(*c.shape[:-2], h, w, h, w)
        t = torch.einsum("...abcd,ai,cj->...bidj", c4, gr, gr)  # rows contracted: (w, lr, w, lr)
        t = torch.diagonal(t, dim1=-3, dim2=-1)  # i == j on the row axis -> (..., w, w, lr)
        t = torch.einsum("...bdi,bk,dl->...ikl", t, gc, gc)
        out = torch.diagonal(t, dim1=-2, dim2=-1)  # k == l -> (..., lr, lc)
        return out.reshape(*c.shape[:-2], lr, lc)

    def normal(self, r):
        """``A^T A r = M_r R M_c^T`` in ``O(L^3)``."""
        if self.normal_dtype is not None and self.normal_dtype != r.dtype:
            low = r.to(self.normal_dtype)
            return self.normal(low).to(r.dtype)
        mr = self._tensor("m_rows", self.m_rows, r)
        mc = self._tensor("m_cols", self.m_cols, r)
        return mr @ r @ mc.T

    def column_norms(self, like) -> torch.Tensor:
        """``|a_j| = |psi_j|^2`` as an ``L_r x L_c`` tensor."""
        return self._tensor("norms", self.norms, like)


def variance_operator(psi: SeparableMatrices) -> SeparableMatrices:
    """The lag-0 part of the covariance model: ``r -> diag(Psi diag(r) Psi^T)``.

    ``(A_0 r)(m) = sum_j Psi[m, j]^2 r(j)``: the pixel variances that
    emitter variances ``r`` produce. For a separable ``Psi = G_r (x) G_c``
    the elementwise square is separable too, ``(G_r o G_r) (x) (G_c o G_c)``;
    for ``q = 1`` it is the convolution with the squared (pixel-integrated)
    PSF, the forward model of PnP-COL0RME's deconvolution setting.

    Examples
    --------
    >>> from pointillist.optics import Optics
    >>> from pointillist.operators import imaging_operator
    >>> psi = imaging_operator(Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=1), (8, 8))
    >>> r = torch.zeros(8, 8, dtype=torch.float64); r[4, 4] = 1.0
    >>> bool(torch.allclose(variance_operator(psi)(r), torch.diagonal(CovarianceOperator(psi)(r)).reshape(8, 8)))
    True
    """
    if not isinstance(psi, SeparableMatrices):
        raise InputError("the variance operator needs a separable (Gaussian) PSF; "
                         "measured PSF images are not supported")
    return SeparableMatrices(psi.rows**2, psi.cols**2)
