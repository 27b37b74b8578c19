"""What the baselines share: their result, option checks and band-limited resampling onto the fine grid."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...errors import InputError, real_number  # noqa: F401  (re-exported)
from ...result import Result

__all__ = ["BaselineResult", "real_number", "trig_interpolation_matrix", "to_fine_grid"]


@dataclass(kw_only=True)
class BaselineResult(Result):
    """What every baseline returns: the core fields of :class:`~pointillist.result.Result` and the following.

    Attributes
    ----------
    image : ndarray (qH, qW)
        The reconstruction on pointillist's fine grid (``optics.upsample``
        times the camera grid), written as ``intensity.tif``. Only SPARCOM
        and LSPARCOM estimate a physical quantity (the emitters' variance,
        up to the data normalisation); SOFI and SRRF images are not linear
        in the intensity.
    support : bool ndarray (qH, qW) or None
        For the sparse methods (SPARCOM, LSPARCOM): ``image > threshold * max``.
    parameters : dict
        Every setting used (JSON-friendly).
    extra : dict
        Method-specific arrays (native-grid images, parameter maps).
    """

    image: np.ndarray
    support: np.ndarray | None = None
    extra: dict = field(default_factory=dict, repr=False)

    def summary(self) -> dict:
        """JSON-friendly scalars for ``run.json``."""
        out = {"seconds": self.seconds, "parameters": self.parameters}
        if self.support is not None:
            out["support_pixels"] = int(self.support.sum())
        if self.history.get("objective"):
            out["iterations"] = len(self.history["objective"])
        return out


def trig_interpolation_matrix(n: int, start: float, step: float, points) -> np.ndarray:
    """Weights ``W`` (len(points) x n) of band-limited (trigonometric) interpolation.

    Samples ``f_k`` sit at ``start + k * step``; ``W @ f`` evaluates at
    ``points`` the trigonometric polynomial through the even extension
    ``f_0 .. f_{n-1}, f_{n-2} .. f_1`` (period ``2 (n - 1)``, as the DCT-I),
    which is continuous where the period wraps, so the image's two ends are
    not joined by a jump. Kernel for the even period ``N``:
    ``sin(pi u) / (N tan(pi u / N))`` (``u`` in samples), the Nyquist term
    split evenly.

    Parameters
    ----------
    n : int
        Number of samples on the axis (at least 1; one sample gives a
        constant).
    start : float
        Position of sample 0, in the unit of ``points`` (camera pixels where
        this package uses it).
    step : float
        Spacing of the samples, in the same unit.
    points : array_like (P,)
        Where to evaluate the interpolant, in the same unit.

    Returns
    -------
    ndarray (P, n) float64
        ``W``: ``W @ f`` is the interpolant of the samples ``f`` (n,) at
        ``points``.

    Examples
    --------
    >>> w = trig_interpolation_matrix(4, 0.0, 1.0, [0.0, 1.0, 2.0, 3.0])
    >>> bool(np.allclose(w, np.eye(4)))
    True
    >>> x = np.arange(16) * 0.5
    >>> f = np.exp(-((x - 3.7) ** 2) / 2)
    >>> w = trig_interpolation_matrix(16, 0.0, 0.5, [3.2, 3.45])
    >>> bool(np.abs(w @ f - np.exp(-((np.array([3.2, 3.45]) - 3.7) ** 2) / 2)).max() < 1e-4)
    True
    """
    if n < 1:
        raise InputError("cannot interpolate an empty axis")
    points = np.asarray(points, dtype=np.float64)
    if n == 1:
        return np.ones((points.size, 1))
    length = 2 * (n - 1)
    idx = np.arange(length)
    src = np.where(idx < n, idx, length - idx)
    u = (points[:, None] - start) / step - idx[None, :]
    wrapped = np.mod(u + length / 2, length) - length / 2  # u modulo the period, in [-N/2, N/2)
    with np.errstate(invalid="ignore", divide="ignore"):
        kern = np.sin(np.pi * wrapped) / (length * np.tan(np.pi * wrapped / length))
    kern = np.where(np.isclose(wrapped, 0.0, atol=1e-12), 1.0, kern)
    out = np.zeros((points.size, n))
    np.add.at(out.T, src, kern.T)
    return out


def to_fine_grid(image: np.ndarray, *, start: float, step: float, upsample: int) -> np.ndarray:
    """Band-limited resampling of ``image`` (samples at ``start + k * step`` camera pixels on both axes)
    onto the fine grid of ``upsample`` pixels per camera pixel (centres ``(j + 0.5) / upsample``).

    Camera pixel ``i`` covers ``[i, i + 1)``, so a camera-grid image has
    ``start = 0.5, step = 1`` and the virtual-pixel grid of SOFI has
    ``start = 0.5, step = 0.5``.

    Parameters
    ----------
    image : array_like (M, N)
        Samples on a regular grid with the same ``start`` and ``step`` on
        both axes.
    start : float
        Position of sample 0 in camera pixels (0.5: the centre of camera
        pixel 0).
    step : float
        Sample spacing in camera pixels (1: the camera grid; 0.5: SOFI's
        virtual pixels).
    upsample : int
        q, fine pixels per camera pixel (at least 1).

    Returns
    -------
    ndarray (q h, q w) float64
        The image on the fine grid. ``h = ceil(start + (M - 1) step + step / 2)``
        camera pixels (the outer edge of the last sample), ``w`` likewise
        from ``N``: ``(q M, q N)`` for a camera-grid image.

    Raises
    ------
    InputError
        When ``image`` is not 2-D or ``upsample`` is below 1.

    Examples
    --------
    >>> img = np.add.outer(np.arange(6.0), np.arange(5.0))
    >>> to_fine_grid(img, start=0.5, step=1.0, upsample=1).round(6).tolist() == img.tolist()
    True
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise InputError(f"expected a 2-D image, got shape {image.shape}")
    q = int(upsample)
    if q < 1:
        raise InputError(f"upsample must be a positive integer, got {upsample}")
    # the camera extent covered by the samples (the pixel edges of the last ones)
    h = int(math.ceil(start + (image.shape[0] - 1) * step + step / 2 - 1e-9))
    w = int(math.ceil(start + (image.shape[1] - 1) * step + step / 2 - 1e-9))
    rows = trig_interpolation_matrix(image.shape[0], start, step, (np.arange(h * q) + 0.5) / q)
    cols = trig_interpolation_matrix(image.shape[1], start, step, (np.arange(w * q) + 0.5) / q)
    return rows @ image @ cols.T
