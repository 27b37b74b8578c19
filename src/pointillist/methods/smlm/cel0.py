"""CEL0 deconvolution of each frame on the fine grid (Gazagnes et al. 2017), batched in torch.

Per frame ``y``: ``min_{x >= 0} 1/2 |Psi x - y|^2 + Phi_CEL0(x)`` with
``Psi = bin_q o blur`` and column norms ``|a_i|`` that depend on the
sub-pixel phase of fine pixel ``i`` (and on the borders). Solved by IRL1
(outer reweighting, inner FISTA with warm starts) for a whole batch of
frames at once: the problems are independent, so one stacked problem with
a block-diagonal operator is the same thing, solved with one set of
matrix products.

Scaling: each frame is background-subtracted and divided by its maximum
before the solve (as the SMLM-CEL0 reference script, where lambda = 3.5e-2
for its toy frame); the solution is multiplied back, so ``x`` is in photons.
An absolute ``lam`` therefore refers to max-normalised frames; or give
``lambda_ratio``, a fraction of each frame's ``lambda_max`` (the smallest
lambda for which ``x = 0`` solves the first IRL1 step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...errors import InputError
from ...localizations import Localizations
from ...operators import SeparableMatrices, imaging_operator
from ...optics import Optics
from ...penalties import CEL0
from ...solvers import SolverOptions, irl1

__all__ = ["CEL0Options", "DEFAULT_CEL0_LAMBDA", "cel0_frames", "cel0_lambda_max", "column_norms",
           "spike_localizations"]

# lambda on max-normalised frames; calibrated on simulated tubes at 15 dB with
# the ground-truth selection of benchmarks/cel0_lambda.py (docs/benchmarks.md,
# "CEL0 per frame").
DEFAULT_CEL0_LAMBDA = 5e-3


@dataclass(frozen=True)
class CEL0Options:
    """IRL1 controls for per-frame CEL0.

    ``background``: "fit" estimates a constant non-negative background per
    frame jointly with the spikes (minimised out in closed form, as the
    noise variance in COL0RME), a number subtracts that many photons, None
    assumes none.
    ``l0_threshold``: after IRL1, zero the components below
    ``sqrt(2 lam) / |a_i|`` (Soubies et al. 2015: from a CEL0 minimiser to
    an l2-l0 one).
    """

    outer_iter: int = 20
    inner_iter: int = 500
    tol: float = 1e-4
    background: object = "fit"
    l0_threshold: bool = False


def column_norms(psi: SeparableMatrices) -> torch.Tensor:
    """``|a_i|`` for every fine pixel of a separable ``Psi = G_r (.) G_c^T`` (outer product of norms).

    Parameters
    ----------
    psi : SeparableMatrices
        Imaging operator: ``psi.rows`` (H, qH) and ``psi.cols`` (W, qW).

    Returns
    -------
    torch.Tensor (qH, qW) float64
        The norm of each column of Psi, the camera image of a unit spike in
        that fine pixel.
    """
    rows = torch.as_tensor(np.linalg.norm(psi.rows, axis=0))
    cols = torch.as_tensor(np.linalg.norm(psi.cols, axis=0))
    return torch.outer(rows, cols)


class _FramesFit:
    """``1/2 |Psi x + b - y|^2`` summed over a batch of frames ``y`` (B, H, W).

    With ``fit_background`` the constant background ``b >= 0`` of each frame
    is minimised out in closed form (``b = max(0, mean(y - Psi x))``); the
    gradient in ``x`` of the resulting function is ``Psi^T (Psi x + b - y)``
    and its Lipschitz constant is still at most ``|Psi|^2`` (the partial
    minimisation is a projection of the residual). Without it ``b = 0``.
    """

    def __init__(self, psi: SeparableMatrices, y: torch.Tensor, *, fit_background: bool):
        self.psi, self.y, self.fit_background = psi, y, fit_background
        self.lipschitz = float(np.linalg.norm(psi.rows, 2) ** 2 * np.linalg.norm(psi.cols, 2) ** 2)
        # Psi^T r = A^T r B as in SeparableMatrices.adjoint, the (B, qH, qW)
        # product written into one buffer reused by every call: a fresh
        # allocation per FISTA iteration costs a tenth of the product itself.
        self._rows_t = torch.as_tensor(psi.rows, dtype=y.dtype, device=y.device).T
        self._cols = torch.as_tensor(psi.cols, dtype=y.dtype, device=y.device)
        self._grad = None

    def residual(self, x):
        r = self.psi(x) - self.y
        if self.fit_background:
            r = r + self.background(x, r)[:, None, None]
        return r

    def background(self, x, r=None):
        if not self.fit_background:
            return torch.zeros(len(x), dtype=x.dtype, device=x.device)
        r = self.psi(x) - self.y if r is None else r
        return (-r.mean(dim=(1, 2))).clamp_min(0)

    def grad(self, x):
        """``Psi^T (Psi x + b - y)``, in a buffer that the next call overwrites."""
        r = self.residual(x)
        if self._grad is None or self._grad.shape != x.shape or self._grad.dtype != r.dtype:
            self._grad = torch.empty(x.shape, dtype=r.dtype, device=r.device)
        return torch.matmul(self._rows_t @ r, self._cols, out=self._grad)

    def value(self, x):
        return 0.5 * float((self.residual(x) ** 2).sum())


def _operator(optics: Optics, shape) -> SeparableMatrices:
    if not optics.is_gaussian:
        raise InputError("CEL0 per frame needs a Gaussian PSF (give --psf-fwhm); measured PSFs are not supported yet")
    return imaging_operator(optics, shape)


def _scaled_frames(frames: torch.Tensor, background) -> tuple[torch.Tensor, torch.Tensor]:
    if background not in ("fit", None):
        frames = frames - float(background)
    scale = frames.amax(dim=(1, 2)).clamp_min(torch.finfo(frames.dtype).tiny)
    return frames / scale[:, None, None], scale


def cel0_lambda_max(y: torch.Tensor, psi: SeparableMatrices, norms: torch.Tensor) -> torch.Tensor:
    """Per frame, ``max_i (Psi^T y)_i^2 / (2 |a_i|^2)`` over positive correlations: above it x = 0.

    Parameters
    ----------
    y : torch.Tensor (B, H, W)
        Frames (in ``cel0_frames``: max-normalised, background removed, the
        residual at ``x = 0``).
    psi : SeparableMatrices
        Imaging operator, fine grid (qH, qW) to camera grid (H, W).
    norms : torch.Tensor (qH, qW)
        Column norms ``|a_i|`` (``column_norms(psi)``).

    Returns
    -------
    torch.Tensor (B,)
        lambda_max of each frame, on the scale of ``y`` squared.
    """
    corr = psi.adjoint(y).clamp_min(0)
    return ((corr / norms.to(corr)) ** 2 / 2).flatten(1).amax(dim=1)


def cel0_frames(frames, *, optics: Optics, lam=None, lambda_ratio: float | None = None,
                options: CEL0Options = CEL0Options(), device="cpu", dtype=torch.float32) -> np.ndarray:
    """CEL0 solutions of a batch of frames: ``(B, H, W)`` photons to ``(B, qH, qW)`` photons.

    Parameters
    ----------
    frames : array_like, (B, H, W)
        Frames in photons.
    optics : Optics
        Gaussian PSF, pixel size and upsampling factor q.
    lam : float or array of shape (B,), optional
        Absolute lambda on max-normalised frames (default
        ``DEFAULT_CEL0_LAMBDA`` when ``lambda_ratio`` is not given).
    lambda_ratio : float, optional
        Lambda as a fraction of each frame's ``lambda_max`` instead.
    options : CEL0Options
    device, dtype
        Where and in which precision to solve.

    Returns
    -------
    ndarray (B, qH, qW)
        Spike amplitudes in photons per fine pixel (background excluded),
        in ``dtype`` (float32 by default).

    Raises
    ------
    InputError
        For frames that are not 3-D, both ``lam`` and ``lambda_ratio``, a
        non-positive lambda, a bad ``options.background`` or a PSF that is
        not Gaussian.

    Examples
    --------
    >>> optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
    >>> psi = imaging_operator(optics, (8, 8))
    >>> x = torch.zeros(1, 32, 32, dtype=torch.float64); x[0, 12, 18] = 1000.0
    >>> sol = cel0_frames(psi(x).numpy(), optics=optics, lam=0.05, options=CEL0Options(background=None))
    >>> [int(v) for v in np.unravel_index(sol[0].argmax(), sol[0].shape)]
    [12, 18]
    """
    frames = torch.as_tensor(np.asarray(frames), dtype=dtype, device=device)
    if frames.ndim != 3:
        raise InputError(f"frames must be (frames, rows, columns), got shape {tuple(frames.shape)}")
    if lam is not None and lambda_ratio is not None:
        raise InputError("give lam or lambda_ratio, not both")
    psi = _operator(optics, frames.shape[1:])
    norms = column_norms(psi).to(device=device, dtype=dtype)
    if not (options.background in ("fit", None) or isinstance(options.background, (int, float))):
        raise InputError(f"background must be 'fit', None or a number of photons, got {options.background!r}")
    y, scale = _scaled_frames(frames, options.background)
    fit = _FramesFit(psi, y, fit_background=options.background == "fit")
    x0 = torch.zeros((len(y), *psi.in_shape), dtype=dtype, device=device)
    if lambda_ratio is not None:
        if not lambda_ratio > 0:
            raise InputError(f"lambda_ratio must be positive, got {lambda_ratio}")
        y0 = y - fit.background(x0)[:, None, None]  # the residual at x = 0
        lam_b = lambda_ratio * cel0_lambda_max(y0, psi, norms)
    else:
        lam = np.asarray(DEFAULT_CEL0_LAMBDA if lam is None else lam, dtype=np.float64)
        if lam.ndim > 1 or (lam.ndim == 1 and lam.size != len(y)):
            raise InputError(f"lam must be one number or one per frame ({len(y)}), got shape {lam.shape}")
        lam_b = torch.as_tensor(np.broadcast_to(lam, (len(y),)).copy(), dtype=dtype, device=device)
        if not bool((lam_b > 0).all()):
            raise InputError(f"lambda must be positive, got {lam}")
    penalty = CEL0(lam_b[:, None, None], norms=norms, nonneg=True)
    inner = SolverOptions(max_iter=options.inner_iter, tol=options.tol, restart=True, record_objective=False)
    x = irl1(fit, penalty, x0, outer_iter=options.outer_iter, tol=options.tol, inner=inner).x
    if options.l0_threshold:
        x = torch.where(x * norms >= torch.sqrt(2 * lam_b)[:, None, None], x, torch.zeros_like(x))
    return (x * scale[:, None, None]).cpu().numpy()


def spike_localizations(images, *, pixel_size_nm: float, protocol: str = "maxima", threshold: float = 0.0,
                        first_frame: int = 0):
    """Localizations from fine-grid spike images, by one of the two protocols of the benchmark.

    ``"maxima"``: local maxima above ``threshold`` refined by the 3x3
    centroid (ZeroCostDL4Mic / DeepCEL0 notebook localiser). ``"pixels"``:
    every pixel above ``threshold`` is one molecule at its centre (the
    DeepCEL0 paper's scoring of binarised outputs, and the CEL0 reading
    "every non-zero fine pixel is a molecule").

    Parameters
    ----------
    images : array_like (B, qH, qW) or (qH, qW)
        Spike images on the fine grid (photons for CEL0, the raw output for
        the networks).
    pixel_size_nm : float
        Fine pixel size in nm (``optics.fine_pixel_nm``).
    protocol : {"maxima", "pixels"}
        How spikes become molecules (above).
    threshold : float
        Keep values strictly above it, in the unit of ``images``.
    first_frame : int
        0-based frame index of ``images[0]``.

    Returns
    -------
    Localizations
        ``x_nm = (col + 0.5) * pixel_size_nm`` (``y_nm`` likewise from the
        row; sub-pixel for ``"maxima"``), 0-based frames, ``photons`` the sum
        of the 3x3 neighbourhood ("maxima") or the pixel value ("pixels"),
        in the unit of ``images``.

    Examples
    --------
    >>> img = np.zeros((1, 4, 4)); img[0, 1, 1] = 2.0; img[0, 1, 2] = 1.0
    >>> maxima = spike_localizations(img, pixel_size_nm=25)
    >>> pixels = spike_localizations(img, pixel_size_nm=25, protocol="pixels")
    >>> len(maxima), len(pixels)
    (1, 2)
    """
    from ...detection import grid_to_localizations

    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    if protocol == "maxima":
        return grid_to_localizations(images, pixel_size_nm=pixel_size_nm, threshold=threshold, first_frame=first_frame)
    if protocol == "pixels":
        f, r, c = np.nonzero(images > threshold)
        return Localizations.from_pixels(f + first_frame, r.astype(float), c.astype(float), pixel_size_nm=pixel_size_nm,
                                         photons=images[f, r, c])
    raise InputError(f"protocol must be 'maxima' or 'pixels', got {protocol!r}")
