"""Fourier ring correlation (FRC) between two independent reconstructions of the same field.

Split the frames into two halves (e.g. even and odd frames), reconstruct
each, and correlate their spectra ring by ring:

``FRC(k) = sum_ring F1 conj(F2) / sqrt(sum_ring |F1|^2 sum_ring |F2|^2)``.

The resolution is ``1 / k`` at the first crossing of the fixed threshold
1/7 (Nieuwenhuizen et al. 2013, Banterle et al. 2013), after a light
smoothing of the curve. Images are multiplied by a Tukey window first, so
that the square's edges do not add correlated high frequencies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["FRCResult", "fourier_ring_correlation", "FRC_THRESHOLD"]

FRC_THRESHOLD = 1.0 / 7.0


@dataclass
class FRCResult:
    """FRC curve and resolution.

    Attributes
    ----------
    frequency : ndarray
        Ring centres in cycles per nm.
    curve : ndarray
        FRC per ring (smoothed over 3 rings).
    resolution_nm : float
        ``1 / frequency`` where the curve first drops below the threshold;
        ``nan`` when it never does (resolution at or below 2 pixels: not measurable on this grid).
    """

    frequency: np.ndarray
    curve: np.ndarray
    resolution_nm: float
    threshold: float = FRC_THRESHOLD


def _tukey(n: int, alpha: float = 0.25) -> np.ndarray:
    x = (np.arange(n) + 0.5) / n
    w = np.ones(n)
    edge = alpha / 2
    lo, hi = x < edge, x > 1 - edge
    w[lo] = 0.5 * (1 - np.cos(np.pi * x[lo] / edge))
    w[hi] = 0.5 * (1 - np.cos(np.pi * (1 - x[hi]) / edge))
    return w


def fourier_ring_correlation(image1, image2, *, pixel_size_nm: float, threshold: float = FRC_THRESHOLD) -> FRCResult:
    """FRC of two images of the same field (e.g. reconstructions of the even and the odd frames).

    Non-square images are reduced to their central square (rings must be
    circles in frequency); constant images are refused.

    Parameters
    ----------
    image1, image2 : array_like, 2-D
        Two independent reconstructions of the same field, same shape, at
        least 16 x 16 pixels.
    pixel_size_nm : float
        Pixel size of the images in nm.
    threshold : float, default 1/7
        FRC level whose first crossing gives the resolution.

    Returns
    -------
    FRCResult
        The smoothed curve, its frequencies and the resolution in nm.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(64, 64))
    >>> res = fourier_ring_correlation(a, a, pixel_size_nm=10.0)
    >>> bool(np.allclose(res.curve, 1.0)), math.isnan(res.resolution_nm)
    (True, True)
    """
    a, b = np.asarray(image1), np.asarray(image2)
    for arr in (a, b):
        if arr.dtype.kind not in "biuf":
            raise InputError(f"FRC needs real-valued images, got dtype {arr.dtype}")
    a, b = a.astype(np.float64), b.astype(np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise InputError(f"FRC needs two 2-D images of the same shape, got {a.shape} and {b.shape}")
    if min(a.shape) < 16:
        raise InputError(f"FRC needs images of at least 16 x 16 pixels, got {a.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise InputError("FRC: the images contain NaN or infinite values")
    number = (int, float, np.integer, np.floating)
    if isinstance(pixel_size_nm, bool) or not isinstance(pixel_size_nm, number) or not 0 < pixel_size_nm < math.inf:
        raise InputError(f"pixel_size_nm must be a positive number, got {pixel_size_nm!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, number) or not 0 < threshold < 1:
        raise InputError(f"threshold must be a number in (0, 1), got {threshold!r}")
    n = min(a.shape)
    # the central square, so that rings are circles in frequency
    r0, c0 = (a.shape[0] - n) // 2, (a.shape[1] - n) // 2
    a, b = a[r0 : r0 + n, c0 : c0 + n], b[r0 : r0 + n, c0 : c0 + n]
    for arr, name in ((a, "image1"), (b, "image2")):
        if not np.any(arr != arr.flat[0]):
            raise InputError(f"FRC: {name} is constant, so it has no spectrum to correlate")
    win = np.outer(_tukey(n), _tukey(n))
    fa = np.fft.fftshift(np.fft.fft2((a - a.mean()) * win))
    fb = np.fft.fftshift(np.fft.fft2((b - b.mean()) * win))
    k = np.arange(n) - n // 2
    ring = np.rint(np.hypot(*np.meshgrid(k, k, indexing="ij"))).astype(int)
    n_rings = n // 2
    keep = ring < n_rings
    idx = ring[keep]
    num = np.bincount(idx, (fa * np.conj(fb)).real[keep], minlength=n_rings)
    da = np.bincount(idx, (np.abs(fa) ** 2)[keep], minlength=n_rings)
    db = np.bincount(idx, (np.abs(fb) ** 2)[keep], minlength=n_rings)
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = num / np.sqrt(da * db)
    curve = np.nan_to_num(curve, nan=0.0)
    curve[0] = 1.0  # the mean was removed: ring 0 (one pixel) says nothing, and would drag ring 1's smoothing
    smooth = np.convolve(np.pad(curve, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    freq = np.arange(n_rings) / (n * pixel_size_nm)
    below = np.flatnonzero(smooth[1:] < threshold)
    resolution = math.nan
    if below.size:
        i = below[0] + 1
        # linear interpolation of the crossing between rings i - 1 and i
        f0, f1, c0, c1 = freq[i - 1], freq[i], smooth[i - 1], smooth[i]
        f = f0 + (c0 - threshold) / (c0 - c1) * (f1 - f0) if c0 != c1 else f1
        resolution = 1.0 / f if f > 0 else math.inf
    return FRCResult(frequency=freq, curve=smooth, resolution_nm=float(resolution), threshold=threshold)
