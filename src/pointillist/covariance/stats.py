"""Covariance statistics of a stack in one streaming pass, for one field or for every tile of it at once.

For the COL0RME fit the frames enter only through

* ``V = diag(Psi^T R_y Psi) = 1/(T-1) sum_t (G_r^T dY_t G_c)^2`` (elementwise
  square of the back-projected centred frame ``dY_t = Y_t - Ybar``),
* ``trace(R_y) = 1/(T-1) sum_t |dY_t|^2``,
* ``|R_y|_F^2``, which only shifts the objective by a constant,

with ``R_y`` the sample covariance (``T - 1`` normalisation, as MATLAB's
``cov``). Each chunk of frames is reduced to its :class:`Moments` (count,
mean and sums of squared deviations about that mean), and chunks are merged
with the pairwise update of Chan, Golub and LeVeque: no large camera offset
is ever squared, memory does not grow with ``T``, and the partial sums of
disjoint frame ranges (tasks on a cluster) merge in a fixed order to the
same bytes as one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from .._device import resolve_device
from ..errors import InputError
from ..operators import SeparableMatrices

__all__ = ["CovarianceStats", "Moments", "covariance_statistics", "window_moments", "check_frames_and_block",
           "MAX_FROBENIUS_PIXELS"]

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


@dataclass(frozen=True)
class Moments:
    """Count, mean and sums of squared deviations of some frames of one window: what chunks and tasks return.

    ``m2`` and ``m2_b`` sum the squared deviations of the frames and of
    their back-projections ``G_r^T dY G_c``; ``cross`` (optional) the outer
    products of the flattened deviations. With ``blocked``, every chunk was
    centred on its own mean (a block of the covariance) and merging adds the
    sums; otherwise merging adds the between-chunk term, so the sums are
    about the mean of all the frames merged. ``blocks`` counts the centring
    blocks (the degrees of freedom are ``n - blocks``).
    """

    n: int
    blocks: int
    blocked: bool
    mean: torch.Tensor
    m2: torch.Tensor
    m2_b: torch.Tensor
    cross: torch.Tensor | None = None

    @classmethod
    def of_frames(cls, frames: torch.Tensor, gr: torch.Tensor, gc: torch.Tensor, *, blocked: bool,
                  cross: bool = False) -> Moments:
        """The moments of ``frames`` (``n x H x W`` float64), centred on their own mean."""
        n = frames.shape[0]
        mean = frames.mean(dim=0)
        d = frames - mean
        b = gr.T @ d @ gc
        outer = None
        if cross:
            flat = d.reshape(n, -1)
            outer = flat.T @ flat
        return cls(n=n, blocks=1, blocked=blocked, mean=mean, m2=(d * d).sum(dim=0), m2_b=(b * b).sum(dim=0),
                   cross=outer)

    def merge(self, other: Moments, gr: torch.Tensor, gc: torch.Tensor) -> Moments:
        """The moments of the frames of ``self`` followed by those of ``other`` (same window)."""
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        m2, m2_b, cross = self.m2 + other.m2, self.m2_b + other.m2_b, None
        if self.cross is not None and other.cross is not None:
            cross = self.cross + other.cross
        if not self.blocked:
            w = self.n * other.n / n
            m2 = m2 + delta * delta * w
            db = gr.T @ delta @ gc
            m2_b = m2_b + db * db * w
            if cross is not None:
                flat = delta.reshape(-1)
                cross = cross + torch.outer(flat, flat) * w
        return replace(self, n=n, blocks=self.blocks + other.blocks, mean=mean, m2=m2, m2_b=m2_b, cross=cross)

    def statistics(self) -> CovarianceStats:
        """The :class:`CovarianceStats` of all the frames merged."""
        dof = self.n - self.blocks if self.blocked else self.n - 1
        variance = self.m2 / dof
        frob2 = None if self.cross is None else float(((self.cross / dof) ** 2).sum())
        return CovarianceStats(v=self.m2_b / dof, trace=float(variance.sum()), frob2=frob2, variance=variance,
                               mean=self.mean, n_frames=self.n)

    def to(self, device) -> Moments:
        """The same moments on ``device`` (tasks return them on the CPU)."""
        move = {k: getattr(self, k).to(device) for k in ("mean", "m2", "m2_b")}
        return replace(self, cross=None if self.cross is None else self.cross.to(device), **move)


def window_moments(stack, windows, operators, *, start: int = 0, stop: int | None = None, step: int = 64,
                   blocked: bool = False, cross: bool = False, device=None, progress=None) -> list[Moments]:
    """Moments of frames ``start:stop`` of several windows of ``stack``, each chunk of frames read once.

    Parameters
    ----------
    stack : array (T, H, W) or Acquisition
        Read as ``stack[a:b]`` (an Acquisition gives calibrated frames).
    windows : list of (r0, r1, c0, c1)
        Regions of the frame, one per set of moments.
    operators : list of SeparableMatrices
        The imaging operator of each window (its back-projection ``G_r^T dY G_c``).
    start, stop : int
        The frames; with ``blocked``, ``start`` is the first frame of a block.
    step : int
        Frames per chunk; with ``blocked``, the block length (each chunk centred on its own mean).
    blocked : bool
        Centre each chunk on its own mean (see :func:`covariance_statistics`).
    cross : bool
        Also accumulate the outer products (``|R_y|_F^2``; small windows only).
    device : str or torch.device, optional
    progress : tqdm-like, optional
        Updated with the number of frames of each chunk.

    Returns
    -------
    list of Moments
        One per window, on ``device``.

    Examples
    --------
    >>> from pointillist.optics import Optics
    >>> from pointillist.operators import imaging_operator
    >>> psi = imaging_operator(Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=2), (4, 4))
    >>> y = np.random.default_rng(0).normal(size=(50, 4, 8))
    >>> left, right = window_moments(y, [(0, 4, 0, 4), (0, 4, 4, 8)], [psi, psi], step=16)
    >>> bool(np.allclose(right.statistics().variance.numpy(), y[:, :, 4:].var(axis=0, ddof=1)))
    True
    """
    dev = resolve_device(device)
    stop = stack.shape[0] if stop is None else stop
    f64 = torch.float64
    mats = [(torch.as_tensor(op.rows, dtype=f64, device=dev), torch.as_tensor(op.cols, dtype=f64, device=dev))
            for op in operators]
    out: list[Moments | None] = [None] * len(windows)
    for a in range(start, stop, step):
        frames = torch.as_tensor(np.asarray(stack[a : min(a + step, stop)], dtype=np.float64), device=dev)
        for i, ((r0, r1, c0, c1), (gr, gc)) in enumerate(zip(windows, mats)):
            # contiguous, so that a window's arithmetic does not depend on the region it was cut from
            part = Moments.of_frames(frames[:, r0:r1, c0:c1].contiguous(), gr, gc, blocked=blocked, cross=cross)
            out[i] = part if out[i] is None else out[i].merge(part, gr, gc)
        if progress is not None:
            progress.update(frames.shape[0])
    return out


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
    check_frames_and_block(t_total, block)
    if frobenius is None:
        frobenius = h * w <= MAX_FROBENIUS_PIXELS
    blocked = block is not None and block < t_total
    (moments,) = window_moments(stack, [(0, h, 0, w)], [psi], step=int(block) if blocked else chunk,
                                blocked=blocked, cross=frobenius, device=device, progress=progress)
    return moments.statistics()


def check_frames_and_block(n_frames: int, block) -> None:
    """The covariance needs 2 frames; a block is a whole number of frames >= 2 (or None)."""
    if n_frames < 2:
        raise InputError(f"the covariance needs at least 2 frames, the stack has {n_frames}")
    if block is not None and (int(block) != block or block < 2):
        raise InputError(f"block must be a whole number of frames >= 2 (or None for the whole stack), got {block}")
