"""Imaging operators: blur on the fine grid, binning, and Psi = bin_q o blur.

Boundary convention
-------------------
The fine grid covers exactly the camera field of view and everything
outside it is zero: the blur is a *linear* (zero-padded) convolution whose
output is cropped to the input size, so light that falls outside the field
of view is lost and emitters outside it are not modelled. There is no
wrap-around.

Gaussian PSF
------------
The fine-grid blur kernel is the Gaussian integrated over each fine pixel,
``h[u] = Phi((u + 1/2) / s) - Phi((u - 1/2) / s)`` (``s`` = sigma in fine
pixels), applied separably; binning sums q x q blocks. For a source at the
centre of fine pixel ``j`` the sum over the block of camera pixel ``m``
telescopes to ``Phi((q(m+1) - j - 1/2)/s) - Phi((q m - j - 1/2)/s)``, the
Gaussian integrated over the camera pixel, so ``Psi = G (.) G^T`` with that
``G`` (size N x qN) exactly. The matrix form is what the operators use.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from ..optics import Optics, gaussian_pixel_weights
from .base import Composition, LinearOperator

__all__ = [
    "Binning",
    "Convolution",
    "SeparableMatrices",
    "gaussian_psi_matrix",
    "gaussian_blur_matrix",
    "imaging_operator",
    "fine_blur_operator",
]


def _shape2(shape, name="shape") -> tuple[int, int]:
    try:
        h, w = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be (rows, columns), got {shape!r}") from None
    if h < 1 or w < 1:
        raise InputError(f"{name} must be positive, got {(h, w)}")
    return h, w


class Binning(LinearOperator):
    """Sum over non-overlapping ``factor x factor`` blocks (flux preserving).

    The adjoint replicates each coarse value into its block.

    Examples
    --------
    >>> op = Binning(fine_shape=(4, 4), factor=2)
    >>> op(torch.arange(16.0).reshape(4, 4))
    tensor([[10., 18.],
            [42., 50.]])
    """

    def __init__(self, *, fine_shape, factor: int):
        super().__init__()
        h, w = _shape2(fine_shape, "fine_shape")
        if int(factor) < 1 or h % factor or w % factor:
            raise InputError(f"fine_shape {fine_shape} must be a multiple of the binning factor {factor}")
        self.factor = int(factor)
        self.in_shape = (h, w)
        self.out_shape = (h // self.factor, w // self.factor)

    def _forward(self, x):
        q = self.factor
        h, w = self.out_shape
        return x.reshape(*x.shape[:-2], h, q, w, q).sum(dim=(-3, -1))

    def _adjoint(self, y):
        q = self.factor
        return y.repeat_interleave(q, dim=-2).repeat_interleave(q, dim=-1)


class Convolution(LinearOperator):
    """Linear 2-D convolution with a kernel, zero boundary, output cropped to the input size.

    The kernel's centre is pixel ``(K0 // 2, K1 // 2)``: a unit impulse at
    pixel ``p`` of the input gives the kernel with its centre on ``p``.
    Computed with FFTs of size ``N + K - 1`` (no wrap-around).

    Examples
    --------
    >>> op = Convolution(np.array([[0, 0, 0], [0, 1.0, 2.0], [0, 0, 0]]), shape=(3, 3))
    >>> x = torch.zeros(3, 3, dtype=torch.float64); x[1, 1] = 1
    >>> op(x)[1].round(decimals=12).tolist()
    [0.0, 1.0, 2.0]
    """

    def __init__(self, kernel, *, shape):
        super().__init__()
        kernel = np.asarray(kernel, dtype=np.float64)
        if kernel.ndim != 2:
            raise InputError(f"convolution kernel must be 2-D, got shape {kernel.shape}")
        self.in_shape = self.out_shape = _shape2(shape)
        self.kernel = kernel
        self.center = (kernel.shape[0] // 2, kernel.shape[1] // 2)
        self._fft_shape = tuple(n + k - 1 for n, k in zip(self.in_shape, kernel.shape))

    def _spectrum(self, like, flipped: bool):
        key = ("spectrum", flipped, like.device, like.dtype)
        if key not in self._cache:
            k = self.kernel[::-1, ::-1].copy() if flipped else self.kernel
            kt = torch.as_tensor(k, dtype=like.dtype, device=like.device)
            self._cache[key] = torch.fft.rfft2(kt, s=self._fft_shape)
        return self._cache[key]

    def _apply(self, x, flipped: bool):
        full = torch.fft.irfft2(torch.fft.rfft2(x, s=self._fft_shape) * self._spectrum(x, flipped), s=self._fft_shape)
        k0, k1 = self.kernel.shape
        c0, c1 = self.center
        # forward reads the full convolution from the kernel centre; the adjoint
        # (correlation = convolution with the flipped kernel) from K - 1 - centre.
        o0, o1 = (k0 - 1 - c0, k1 - 1 - c1) if flipped else (c0, c1)
        h, w = self.in_shape
        return full[..., o0 : o0 + h, o1 : o1 + w]

    def _forward(self, x):
        return self._apply(x, flipped=False)

    def _adjoint(self, y):
        return self._apply(y, flipped=True)


class SeparableMatrices(LinearOperator):
    """``X -> A X B^T`` for matrices ``A`` (rows) and ``B`` (columns); adjoint ``Y -> A^T Y B``.

    Examples
    --------
    >>> op = SeparableMatrices(np.eye(2), np.ones((1, 3)))
    >>> op.in_shape, op.out_shape
    ((2, 3), (2, 1))
    """

    def __init__(self, rows: np.ndarray, cols: np.ndarray):
        super().__init__()
        self.rows = np.asarray(rows, dtype=np.float64)
        self.cols = np.asarray(cols, dtype=np.float64)
        if self.rows.ndim != 2 or self.cols.ndim != 2:
            raise InputError("SeparableMatrices needs two 2-D matrices")
        self.in_shape = (self.rows.shape[1], self.cols.shape[1])
        self.out_shape = (self.rows.shape[0], self.cols.shape[0])

    def _forward(self, x):
        a = self._tensor("rows", self.rows, x)
        b = self._tensor("cols", self.cols, x)
        return a @ x @ b.T

    def _adjoint(self, y):
        a = self._tensor("rows", self.rows, y)
        b = self._tensor("cols", self.cols, y)
        return a.T @ y @ b


def gaussian_psi_matrix(n: int, factor: int, sigma_fine_px: float) -> np.ndarray:
    """The ``n x (factor n)`` matrix G of the Gaussian imaging operator along one axis.

    ``G[m, j]`` is the fraction of the light of a source at the centre of
    fine pixel ``j`` that falls in camera pixel ``m`` (erf differences).

    Examples
    --------
    >>> G = gaussian_psi_matrix(8, 4, 4.0)
    >>> G.shape, round(float(G[:, 16].sum()), 6)
    ((8, 32), 0.999928)
    """
    if not sigma_fine_px > 0:
        raise InputError(f"PSF sigma must be positive, got {sigma_fine_px}")
    centers = np.arange(n * factor) + 0.5
    edges = np.arange(n + 1, dtype=np.float64) * factor
    return gaussian_pixel_weights(centers, edges, sigma_fine_px).T.copy()


def gaussian_blur_matrix(n: int, sigma_px: float) -> np.ndarray:
    """``n x n`` matrix of the pixel-integrated Gaussian blur with zero boundary."""
    return gaussian_psi_matrix(n, 1, sigma_px)


def imaging_operator(optics: Optics, shape) -> LinearOperator:
    """Psi = bin_q o blur, from the fine grid ``(q H, q W)`` to camera frames ``shape = (H, W)``.

    Gaussian PSFs give the separable matrix form; a measured PSF image gives
    ``Binning @ Convolution``. See the module docstring for the boundary
    convention.

    Examples
    --------
    >>> from pointillist.optics import Optics
    >>> psi = imaging_operator(Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4), (16, 12))
    >>> psi.in_shape, psi.out_shape
    ((64, 48), (16, 12))
    """
    h, w = _shape2(shape, "camera shape")
    q = optics.upsample
    if optics.is_gaussian:
        s = optics.sigma_fine_px
        return SeparableMatrices(gaussian_psi_matrix(h, q, s), gaussian_psi_matrix(w, q, s))
    return Binning(fine_shape=(h * q, w * q), factor=q) @ Convolution(optics.psf_image, shape=(h * q, w * q))


def fine_blur_operator(optics: Optics, fine_shape) -> LinearOperator:
    """The blur alone on the fine grid (no binning), same boundary convention."""
    h, w = _shape2(fine_shape, "fine_shape")
    if optics.is_gaussian:
        s = optics.sigma_fine_px
        return SeparableMatrices(gaussian_blur_matrix(h, s), gaussian_blur_matrix(w, s))
    return Convolution(optics.psf_image, shape=(h, w))
