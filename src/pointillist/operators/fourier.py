"""SPARCOM's periodic, band-limited imaging model, whose covariance normal operator is a circular convolution.

SPARCOM (Solomon et al. 2018, 2019) writes the camera frames in the Fourier
domain, ``A = H F_p``: the PSF spectrum times the lowest camera frequencies
of the fine grid. The real-valued form used here keeps the blur of
``gaussian_psi_matrix`` (a Gaussian integrated over each camera pixel) but
makes it periodic on the fine grid and removes every frequency at or above
the camera's Nyquist frequency before the camera samples it:

``Phi[m, j] = e((q m - j) mod L)``, ``e`` = the pixel-integrated Gaussian
kernel, periodised and low-passed to ``|k| < M / 2`` (``L = q M``).

Because ``e * e`` then has no frequency at a multiple of ``M`` other than
0, sampling every q-th fine pixel loses nothing and
``Phi^T Phi = (1/q) (e * e~)`` is circulant (``e~`` the reversed kernel);
so is its elementwise square ``M = (Phi^T Phi)^(o2)``, and SPARCOM's
normal operator ``r -> M_r R M_c^T`` is ``IFFT2(S . FFT2(R))`` with ``S``
the eigenvalues of ``M_r (x) M_c`` (exact, no boundary approximation).
The price is the periodic boundary: ``sparcom`` pads the frames with
constant (zero-variance) pixels so that the ends of the field do not meet.
The Gaussian's energy at and above the camera Nyquist frequency is about
``exp(-2 pi^2 sigma^2 / 4)`` of its peak (2.5e-3 for sigma = 1.1 camera
pixels), so the model differs little from the binning model of COL0RME.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from ..optics import Optics
from ..optics import gaussian_pixel_weights
from .covariance import CovarianceOperator
from .imaging import SeparableMatrices

__all__ = ["fourier_psi_matrix", "fourier_imaging_operator", "CirculantCovarianceOperator"]


def _band_limited_kernel(n: int, factor: int, sigma_fine_px: float) -> np.ndarray:
    """``e`` on the periodic fine axis of ``L = factor n`` pixels, indexed by ``(q m - j) mod L``."""
    length = n * factor
    offsets = np.arange(length)
    offsets = np.where(offsets >= length - length // 2, offsets - length, offsets)  # wrap to [-L/2, L/2)
    # light of a source at fine offset -n' (centre at -n' + 0.5) falling in the camera pixel [0, q)
    e = gaussian_pixel_weights(-offsets + 0.5, np.array([0.0, float(factor)]), sigma_fine_px)[:, 0]
    spec = np.fft.fft(e)
    k = np.fft.fftfreq(length, d=1.0 / length)
    spec[np.abs(k) * 2 >= n] = 0.0  # strictly below the camera Nyquist frequency: no aliasing at all
    return np.fft.ifft(spec).real


def fourier_psi_matrix(n: int, factor: int, sigma_fine_px: float) -> np.ndarray:
    """The ``n x (factor n)`` matrix ``Phi`` of the periodic band-limited model along one axis.

    Examples
    --------
    >>> phi = fourier_psi_matrix(8, 4, 4.0)
    >>> phi.shape
    (8, 32)
    >>> from pointillist.operators import gaussian_psi_matrix
    >>> bool(np.abs(phi[:, 16] - gaussian_psi_matrix(8, 4, 4.0)[:, 16]).max() < 0.01)
    True
    """
    if int(n) < 2 or int(factor) < 1:
        raise InputError(f"need at least 2 camera pixels and a factor >= 1, got {n} and {factor}")
    if not sigma_fine_px > 0:
        raise InputError(f"PSF sigma must be positive, got {sigma_fine_px}")
    e = _band_limited_kernel(int(n), int(factor), float(sigma_fine_px))
    length = n * factor
    m = np.arange(n)[:, None]
    j = np.arange(length)[None, :]
    return e[(factor * m - j) % length]


def fourier_imaging_operator(optics: Optics, shape) -> SeparableMatrices:
    """``Phi_r (x) Phi_c``: fine grid ``(q H, q W)`` to camera frames ``shape = (H, W)``, periodic and band-limited.

    Examples
    --------
    >>> op = fourier_imaging_operator(Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4), (6, 8))
    >>> op.in_shape, op.out_shape
    ((24, 32), (6, 8))
    """
    optics._require_gaussian()
    h, w = (int(v) for v in shape)
    q, s = optics.upsample, optics.sigma_fine_px
    return SeparableMatrices(fourier_psi_matrix(h, q, s), fourier_psi_matrix(w, q, s))


def _circulant_eigenvalues(m: np.ndarray) -> np.ndarray:
    """Eigenvalues of a symmetric circulant matrix, in FFT order (the DFT of its first column)."""
    return np.fft.fft(m[:, 0]).real


class CirculantCovarianceOperator(CovarianceOperator):
    """``r -> Phi diag(r) Phi^T`` for the periodic model: the normal operator by FFT.

    Same forward and adjoint as ``CovarianceOperator`` (so the data term and
    the adjoint tests are shared); ``normal`` is the circular convolution
    ``IFFT2(S . FFT2(r))`` and ``lipschitz = max(S)``, exact.

    Examples
    --------
    >>> optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
    >>> A = CirculantCovarianceOperator(fourier_imaging_operator(optics, (8, 8)))
    >>> r = torch.rand(32, 32, dtype=torch.float64)
    >>> bool(torch.allclose(A.normal(r), CovarianceOperator.normal(A, r)))
    True
    """

    def __init__(self, psi: SeparableMatrices):
        super().__init__(psi)
        for name, m in (("rows", self.m_rows), ("cols", self.m_cols)):
            # the FFT form holds only if M is circulant: fourier_imaging_operator's matrices are
            if not np.allclose(np.roll(np.roll(m, 1, axis=0), 1, axis=1), m, atol=1e-12 * np.abs(m).max()):
                raise InputError(f"the {name} factor of Psi^T Psi is not circulant: use fourier_imaging_operator")
        self.spectrum = np.outer(_circulant_eigenvalues(self.m_rows), _circulant_eigenvalues(self.m_cols))

    @property
    def lipschitz(self) -> float:
        return float(self.spectrum.max())

    def normal(self, r):
        s = self._tensor("spectrum", self.spectrum, r)
        return torch.fft.ifft2(torch.fft.fft2(r) * s).real
