"""Covariance statistics of a stack in one streaming pass.

For the COL0RME fit the frames enter only through

* ``V = diag(Psi^T R_y Psi) = 1/(T-1) sum_t (G_r^T dY_t G_c)^2`` (elementwise
  square of the back-projected centred frame ``dY_t = Y_t - Ybar``),
* ``trace(R_y) = 1/(T-1) sum_t |dY_t|^2``,
* ``|R_y|_F^2``, which only shifts the objective by a constant,

with ``R_y`` the sample covariance (``T - 1`` normalisation, as MATLAB's
``cov``). The pass accumulates sums of the frames minus a pilot mean (the
mean of the first chunk), so the final centring is exact and does not lose
precision to a large camera offset, and memory does not grow with ``T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._device import resolve_device
from ..errors import InputError
from ..operators import SeparableMatrices

__all__ = ["CovarianceStats", "covariance_statistics", "MAX_FROBENIUS_PIXELS"]

#: |R_y|_F^2 is accumulated as an (HW x HW) matrix only up to this many camera pixels.
MAX_FROBENIUS_PIXELS = 4096


@dataclass(frozen=True)
class CovarianceStats:
    """Sufficient statistics of a stack for the covariance fit (data units).

    Attributes
    ----------
    v : tensor (L_r, L_c)
        ``diag(Psi^T R_y Psi)`` (float64, on the device of the pass, as the other maps).
    trace : float
        ``trace(R_y)``.
    frob2 : float or None
        ``|R_y|_F^2`` (None when the field is too large to accumulate it).
    variance : tensor (H, W)
        Per-pixel temporal variance (the diagonal of ``R_y``).
    mean : tensor (H, W)
        Temporal mean frame.
    n_frames : int
    """

    v: torch.Tensor
    trace: float
    frob2: float | None
    variance: torch.Tensor
    mean: torch.Tensor
    n_frames: int

    @property
    def scale(self) -> float:
        """``max(R_y)`` = the largest pixel variance, used to normalise the fit."""
        return float(self.variance.max())


def covariance_statistics(stack, psi: SeparableMatrices, *, chunk: int = 64, device=None,
                          frobenius: bool | None = None, block: int | None = None,
                          progress=None) -> CovarianceStats:
    """One pass over ``stack`` (``T x H x W``, any real dtype, memory-mapped or not; an Acquisition).

    The frames are read as ``stack[a:b]``; an
    :class:`~pointillist.acquisition.Acquisition` gives them calibrated,
    so the statistics are in photons. The maps stay on ``device``.

    With ``block``, each run of ``block`` consecutive frames is centred on
    its own mean and the covariances are pooled (``sum (y - mean_block)^2 /
    (T - number of blocks)``): a slow change of the mean (bleaching, focus
    or illumination drift) then no longer adds a spurious correlation
    between all pixels, while fluctuations much faster than ``block``
    frames are kept. ``block=None`` (or ``block >= T``) centres on the
    mean of the whole stack. The ``mean`` returned is always the mean of
    the whole stack.

    Examples
    --------
    >>> from pointillist.optics import Optics
    >>> from pointillist.operators import imaging_operator
    >>> psi = imaging_operator(Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=2), (4, 4))
    >>> y = np.random.default_rng(0).normal(size=(50, 4, 4))
    >>> st = covariance_statistics(y, psi)
    >>> bool(np.isclose(st.trace, y.var(axis=0, ddof=1).sum()))
    True
    """
    t_total, h, w = stack.shape
    if (h, w) != psi.out_shape:
        raise InputError(f"stack frames are {h} x {w} but the imaging operator expects {psi.out_shape}")
    if t_total < 2:
        raise InputError(f"the covariance needs at least 2 frames, the stack has {t_total}")
    if block is not None and (int(block) != block or block < 2):
        raise InputError(f"block must be a whole number of frames >= 2 (or None for the whole stack), got {block}")
    dev = resolve_device(device)
    n_pix = h * w
    if frobenius is None:
        frobenius = n_pix <= MAX_FROBENIUS_PIXELS
    blocked = block is not None and block < t_total
    step = int(block) if blocked else chunk
    f64 = torch.float64
    gr = torch.as_tensor(psi.rows, dtype=f64, device=dev)
    gc = torch.as_tensor(psi.cols, dtype=f64, device=dev)
    pilot = None
    sum_ref = torch.zeros((h, w), dtype=f64, device=dev)  # blocks: sum of each block's mean times its length
    dof = 0
    sum_d = torch.zeros((h, w), dtype=f64, device=dev)
    sum_d2 = torch.zeros((h, w), dtype=f64, device=dev)
    sum_b = torch.zeros(psi.in_shape, dtype=f64, device=dev)
    sum_b2 = torch.zeros(psi.in_shape, dtype=f64, device=dev)
    outer = torch.zeros((n_pix, n_pix), dtype=f64, device=dev) if frobenius else None
    for start in range(0, t_total, step):
        frames = torch.as_tensor(np.asarray(stack[start : start + step], dtype=np.float64), device=dev)
        if blocked:
            # each block about its own mean; a last block of one frame then adds to the mean only
            ref = frames.mean(dim=0)
            sum_ref += ref * frames.shape[0]
            dof += frames.shape[0] - 1
        else:
            if pilot is None:
                pilot = frames.mean(dim=0)
            ref = pilot
        d = frames - ref
        sum_d += d.sum(dim=0)
        sum_d2 += (d * d).sum(dim=0)
        b = gr.T @ d @ gc
        sum_b += b.sum(dim=0)
        sum_b2 += (b * b).sum(dim=0)
        if outer is not None:
            flat = d.reshape(d.shape[0], -1)
            outer.addmm_(flat.T, flat)
        if progress is not None:
            progress.update(frames.shape[0])
    t = float(t_total)
    if not blocked:
        dof = t_total - 1
    # the sums of d vanish block by block when blocked: the corrections below then only remove rounding
    mean_d = sum_d / t
    variance = (sum_d2 - t * mean_d**2) / dof
    mean_b = sum_b / t
    v = (sum_b2 - t * mean_b**2) / dof
    frob2 = None
    if outer is not None:
        m = mean_d.reshape(-1)
        outer.sub_(t * torch.outer(m, m)).div_(dof)
        frob2 = float((outer * outer).sum())
    mean = sum_ref / t + mean_d if blocked else pilot + mean_d
    return CovarianceStats(v=v, trace=float(variance.sum()), frob2=frob2, variance=variance, mean=mean,
                           n_frames=t_total)
