"""Lateral drift: estimate it from the localizations themselves (RCC) or from fiducial markers, and remove it.

Both estimators return a :class:`DriftResult`, one ``(x, y)`` drift per
frame with zero mean over the frames, so that correcting keeps the
reconstruction where it was on average; :func:`correct_drift` subtracts it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..io.render import render_localizations
from ..localizations import Localizations
from ._checks import check_locs, count, positive

__all__ = ["DriftResult", "drift_rcc", "drift_fiducials", "correct_drift", "SEGMENT_FRAMES", "FIDUCIAL_RADIUS_NM"]

#: frames per block of drift_rcc (each block needs hundreds of localizations)
SEGMENT_FRAMES = 200
#: capture radius of drift_fiducials around each bead
FIDUCIAL_RADIUS_NM = 300.0


@dataclass(frozen=True)
class DriftResult:
    """Drift per frame, to be subtracted from the positions.

    Attributes
    ----------
    frames : ndarray of int
        ``0 .. n_frames - 1``.
    x_nm, y_nm : ndarray of float
        Drift of each frame in nm (zero mean over the frames).
    segment_frames : ndarray of float, optional
        RCC only: centre frame of each block of frames.
    segment_x_nm, segment_y_nm : ndarray of float, optional
        RCC only: drift solved at the block centres (same offset as ``x_nm``).
    """

    frames: np.ndarray
    x_nm: np.ndarray
    y_nm: np.ndarray
    segment_frames: np.ndarray | None = None
    segment_x_nm: np.ndarray | None = None
    segment_y_nm: np.ndarray | None = None

    def apply(self, locs: Localizations) -> Localizations:
        """Same as ``correct_drift(locs, self)``."""
        return correct_drift(locs, self)


def correct_drift(locs: Localizations, drift: DriftResult) -> Localizations:
    """Subtract the drift of each localization's frame from its position.

    Parameters
    ----------
    locs : Localizations
        Table to correct; it is not modified.
    drift : DriftResult
        Must cover every frame of ``locs``.

    Returns
    -------
    Localizations
        A new table, every other column unchanged.

    Examples
    --------
    >>> locs = Localizations(frame=[0, 1], x_nm=[10.0, 20.0], y_nm=[5.0, 5.0])
    >>> drift = DriftResult(frames=np.arange(2), x_nm=np.array([-5.0, 5.0]), y_nm=np.zeros(2))
    >>> correct_drift(locs, drift).x_nm.tolist()
    [15.0, 15.0]
    """
    check_locs(locs)
    if not isinstance(drift, DriftResult):
        raise InputError(f"drift must be a DriftResult (from drift_rcc or drift_fiducials), got {type(drift).__name__}")
    if len(locs) and locs.n_frames > drift.frames.size:
        raise InputError(
            f"drift covers frames 0..{drift.frames.size - 1} but locs has frames up to {locs.n_frames - 1}; "
            "estimate the drift on the same localizations"
        )
    return Localizations(
        frame=locs.frame,
        x_nm=locs.x_nm - drift.x_nm[locs.frame],
        y_nm=locs.y_nm - drift.y_nm[locs.frame],
        photons=locs.photons,
        background=locs.background,
        uncertainty_nm=locs.uncertainty_nm,
    )


def _subpixel(c_minus: float, c0: float, c_plus: float) -> float:
    """Offset of the peak from the centre sample: 3-point Gaussian fit, parabolic when a value is not positive."""
    if min(c_minus, c0, c_plus) > 0:
        c_minus, c0, c_plus = math.log(c_minus), math.log(c0), math.log(c_plus)
    denom = c_minus - 2.0 * c0 + c_plus
    # a flat top (denom >= 0) has no better estimate than the sample itself
    return 0.0 if denom >= 0 else 0.5 * (c_minus - c_plus) / denom


def _peak(corr: np.ndarray, allowed: np.ndarray) -> tuple[float, float]:
    """Sub-pixel (row, col) shift of the maximum of a circular correlation, within ``allowed`` shifts."""
    n0, n1 = corr.shape
    i, j = np.unravel_index(np.argmax(np.where(allowed, corr, -np.inf)), corr.shape)
    di = _subpixel(corr[(i - 1) % n0, j], corr[i, j], corr[(i + 1) % n0, j])
    dj = _subpixel(corr[i, (j - 1) % n1], corr[i, j], corr[i, (j + 1) % n1])
    # indices past the middle are negative shifts (circular correlation)
    si = i - n0 if i > n0 // 2 else i
    sj = j - n1 if j > n1 // 2 else j
    return si + di, sj + dj


def _solve_pairs(pairs: np.ndarray, shifts: np.ndarray, n: int, max_residual: float) -> np.ndarray:
    """Least-squares drift of ``n`` blocks from pairwise shifts ``d[j] - d[i]``; drops outliers while solvable."""
    design = np.zeros((len(pairs), n))
    design[np.arange(len(pairs)), pairs[:, 1]] = 1.0
    design[np.arange(len(pairs)), pairs[:, 0]] = -1.0
    design = design[:, 1:]  # block 0 is the reference (d = 0): the system is otherwise singular
    keep = np.ones(len(pairs), bool)
    while True:
        d, *_ = np.linalg.lstsq(design[keep], shifts[keep], rcond=None)
        residual = np.full(len(pairs), -np.inf)
        residual[keep] = np.hypot(*(design[keep] @ d - shifts[keep]).T)
        # the worst pair first: one bad correlation inflates every residual it touches
        for worst in np.argsort(residual)[::-1]:
            if residual[worst] <= max_residual:
                return np.vstack([np.zeros((1, 2)), d])
            trial = keep.copy()
            trial[worst] = False
            if np.linalg.matrix_rank(design[trial]) == n - 1:
                keep = trial
                break
        else:
            return np.vstack([np.zeros((1, 2)), d])


def _per_frame(centres: np.ndarray, values: np.ndarray, n_frames: int) -> np.ndarray:
    """Cubic (or lower with few blocks) spline through block values, evaluated at every frame."""
    from scipy.interpolate import make_interp_spline

    k = min(3, centres.size - 1)
    return make_interp_spline(centres, values, k=k, axis=0)(np.arange(n_frames), extrapolate=True)


def drift_rcc(
    locs: Localizations,
    *,
    segment_frames: int = SEGMENT_FRAMES,
    pixel_size_nm: float = 20.0,
    smoothing_nm: float | None = None,
    max_drift_nm: float | None = None,
    max_residual_nm: float | None = None,
) -> DriftResult:
    """Drift by redundant cross-correlation (RCC, Wang et al. 2014).

    The frames are cut into blocks of ``segment_frames``; each block is
    rendered as a histogram image, every pair of blocks is cross-correlated
    (FFT) and the peak located to sub-pixel precision (3-point Gaussian fit).
    The drift of the blocks is the least-squares solution of the pairwise
    shifts; pairs whose residual exceeds ``max_residual_nm`` are dropped one
    at a time (worst first, while the system stays solvable) and the system
    is solved again. A cubic spline through the block centres gives one
    value per frame.

    Parameters
    ----------
    locs : Localizations
        All localizations of the acquisition (frames 0-based).
    segment_frames : int, default 200
        Frames per block; each block must hold enough localizations to show
        the structure (hundreds at least).
    pixel_size_nm : float, default 20
        Pixel of the rendered blocks. The precision is a fraction of it.
    smoothing_nm : float, optional
        Gaussian blur of the block images (applied in Fourier space), which
        smooths the correlation peak for the sub-pixel fit; one pixel if None.
    max_drift_nm : float, optional
        Largest drift between two blocks; peaks farther from zero shift are
        ignored. Whole image if None.
    max_residual_nm : float, optional
        Residual above which a pair is dropped; ``2 * pixel_size_nm`` if None.

    Returns
    -------
    DriftResult
        Drift per frame (zero mean) and per block.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> sites = rng.uniform(0, 3000, size=(200, 2))
    >>> frame = np.repeat(np.arange(400), 20)
    >>> xy = sites[rng.integers(0, 200, frame.size)] + rng.normal(0, 10, (frame.size, 2))
    >>> xy[:, 0] += 0.25 * frame  # 100 nm of drift along x over 400 frames
    >>> locs = Localizations(frame=frame, x_nm=xy[:, 0], y_nm=xy[:, 1])
    >>> drift = drift_rcc(locs, segment_frames=100)
    >>> round(float(drift.x_nm[-1] - drift.x_nm[0]) / 10) * 10, abs(float(drift.y_nm[-1] - drift.y_nm[0])) < 5
    (100, True)
    """
    import scipy.fft

    check_locs(locs, minimum=2)
    segment_frames = count("segment_frames", segment_frames, low=1)
    pixel = positive("pixel_size_nm", pixel_size_nm)
    smoothing = pixel if smoothing_nm is None else positive("smoothing_nm", smoothing_nm)
    max_residual = 2.0 * pixel if max_residual_nm is None else positive("max_residual_nm", max_residual_nm)
    n_frames = locs.n_frames
    n_blocks = math.ceil(n_frames / segment_frames)
    if n_blocks < 2:
        raise InputError(
            f"segment_frames={segment_frames} leaves one block for {n_frames} frames; "
            "choose segment_frames at most half the number of frames"
        )
    block = locs.frame // segment_frames
    empty = np.setdiff1d(np.arange(n_blocks), block)
    if empty.size:
        raise InputError(
            f"blocks {empty.tolist()} of {segment_frames} frames have no localizations; increase segment_frames"
        )

    # the grid starts at the lowest position so that every localization is drawn
    x0, y0 = locs.x_nm.min(), locs.y_nm.min()
    shape = tuple(scipy.fft.next_fast_len(int((v.max() - v.min()) / pixel) + 2) for v in (locs.y_nm, locs.x_nm))
    shifted = Localizations(frame=locs.frame, x_nm=locs.x_nm - x0, y_nm=locs.y_nm - y0)
    spectra = np.stack([
        scipy.fft.rfft2(render_localizations(shifted.select(block == b), shape=shape, pixel_size_nm=pixel))
        for b in range(n_blocks)
    ])
    ky = scipy.fft.fftfreq(shape[0])[:, None]
    kx = scipy.fft.rfftfreq(shape[1])[None, :]
    # both images blurred by sigma: the product of their spectra by the squared Gaussian transfer function
    sigma_px = smoothing / pixel
    spectra *= np.exp(-2.0 * (math.pi * sigma_px) ** 2 * (kx**2 + ky**2))

    rows = np.arange(shape[0])
    cols = np.arange(shape[1])
    dist_r = np.minimum(rows, shape[0] - rows)[:, None]
    dist_c = np.minimum(cols, shape[1] - cols)[None, :]
    limit = math.inf if max_drift_nm is None else positive("max_drift_nm", max_drift_nm) / pixel
    allowed = np.hypot(dist_r, dist_c) <= limit

    pairs, shifts = [], []
    for i in range(n_blocks - 1):
        # correlation peaks at the shift that carries block i onto block j: d[j] - d[i]
        corr = scipy.fft.irfft2(np.conj(spectra[i]) * spectra[i + 1 :], s=shape, axes=(-2, -1))
        for offset, c in enumerate(corr):
            si, sj = _peak(c, allowed)
            pairs.append((i, i + 1 + offset))
            shifts.append((sj * pixel, si * pixel))
    d = _solve_pairs(np.array(pairs), np.array(shifts), n_blocks, max_residual)

    starts = np.arange(n_blocks) * segment_frames
    ends = np.minimum(starts + segment_frames, n_frames)
    centres = (starts + ends - 1) / 2.0
    per_frame = _per_frame(centres, d, n_frames)
    offset = per_frame.mean(axis=0)
    per_frame -= offset
    d = d - offset
    return DriftResult(
        frames=np.arange(n_frames),
        x_nm=per_frame[:, 0],
        y_nm=per_frame[:, 1],
        segment_frames=centres,
        segment_x_nm=d[:, 0],
        segment_y_nm=d[:, 1],
    )


def drift_fiducials(locs: Localizations, fiducials_xy_nm, *, radius_nm: float = FIDUCIAL_RADIUS_NM) -> DriftResult:
    """Drift from fiducial markers (beads) that are seen in most frames.

    Each fiducial collects the localizations within ``radius_nm`` of its
    given position; their displacement from the fiducial's mean position is
    averaged per frame (over the localizations of a fiducial, then over the
    fiducials present in that frame). Frames where no fiducial was seen are
    filled by linear interpolation (the nearest value past the ends).

    Parameters
    ----------
    locs : Localizations
        All localizations, fiducials included.
    fiducials_xy_nm : array_like, shape (n, 2)
        Approximate ``(x, y)`` of each fiducial in nm.
    radius_nm : float, default 300
        Capture radius; it must exceed the drift range and stay below the
        distance to any other structure.

    Returns
    -------
    DriftResult
        Drift per frame (zero mean).

    Examples
    --------
    >>> frame = np.arange(4)
    >>> locs = Localizations(frame=frame, x_nm=1000.0 + 10 * frame, y_nm=np.full(4, 500.0))
    >>> drift_fiducials(locs, [[1000.0, 500.0]], radius_nm=100.0).x_nm.tolist()
    [-15.0, -5.0, 5.0, 15.0]
    """
    from scipy.spatial import cKDTree

    check_locs(locs, minimum=1)
    radius = positive("radius_nm", radius_nm)
    fiducials = np.asarray(fiducials_xy_nm, dtype=np.float64)
    if fiducials.ndim != 2 or fiducials.shape[1] != 2 or not len(fiducials) or not np.all(np.isfinite(fiducials)):
        raise InputError(f"fiducials_xy_nm must be finite (x, y) pairs, shape (n, 2), got shape {fiducials.shape}")
    n_frames = locs.n_frames
    tree = cKDTree(locs.xy_nm)
    total = np.zeros((n_frames, 2))
    seen = np.zeros(n_frames)
    for k, members in enumerate(tree.query_ball_point(fiducials, radius)):
        if not members:
            raise InputError(
                f"fiducial {k} at {fiducials[k].tolist()} nm has no localization within radius_nm={radius:g}; "
                "check its position or increase radius_nm"
            )
        members = np.asarray(members)
        frame = locs.frame[members]
        xy = locs.xy_nm[members]
        counts = np.bincount(frame, minlength=n_frames)
        mean = np.stack([np.bincount(frame, xy[:, a], minlength=n_frames) for a in range(2)], axis=1)
        present = counts > 0
        mean[present] /= counts[present, None]
        total[present] += mean[present] - mean[present].mean(axis=0)
        seen[present] += 1
    have = seen > 0
    track = total[have] / seen[have, None]
    frames = np.arange(n_frames)
    drift = np.stack([np.interp(frames, frames[have], track[:, a]) for a in range(2)], axis=1)
    drift -= drift.mean(axis=0)
    return DriftResult(frames=frames, x_nm=drift[:, 0], y_nm=drift[:, 1])
