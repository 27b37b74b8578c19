"""Render localization tables as images on a pixel grid."""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from ..localizations import Localizations

__all__ = ["render_localizations"]

# A Gaussian is drawn over +-_TRUNCATE sigma (plus one pixel); the mass
# left outside is below 1.2e-6 per localization.
_TRUNCATE = 5.0
# Localizations per batch in the Gaussian renderer (bounds temporary memory).
_BATCH_VALUES = 4_000_000


def _check_shape(shape, name: str = "shape") -> tuple[int, int]:
    try:
        rows, cols = (int(n) for n in shape)
        ok = (rows, cols) == tuple(shape) and rows > 0 and cols > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"{name} must be two positive integers (rows, columns), got {shape!r}")
    return rows, cols


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name} must be a positive number, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{name} must be a positive number, got {value}")
    return value


def _pixel_profiles(centres: np.ndarray, first: np.ndarray, width: int, pixel: float, sigma: float) -> np.ndarray:
    """Gaussian mass in pixels ``first .. first + width - 1`` for each centre (one row each)."""
    # Imported here: scipy.special adds 0.2 s to ``import pointillist.io``.
    from scipy.special import erf

    edges = (first[:, None] + np.arange(width + 1)) * pixel
    cdf = erf((edges - centres[:, None]) / (math.sqrt(2.0) * sigma))
    return 0.5 * np.diff(cdf, axis=1)


def render_localizations(
    locs: Localizations,
    *,
    shape: tuple[int, int],
    pixel_size_nm: float,
    method: str = "histogram",
    sigma_nm: float | None = None,
    weights: str = "count",
    frames=None,
) -> np.ndarray:
    """Draw localizations on a ``shape`` grid of ``pixel_size_nm`` pixels.

    Pixel (row i, column j) covers ``x in [j p, (j+1) p)`` and
    ``y in [i p, (i+1) p)`` with ``p = pixel_size_nm``; ``x`` is the column.

    Parameters
    ----------
    locs : Localizations
        Positions in nm.
    shape : (int, int)
        Output ``(rows, columns)``.
    pixel_size_nm : float
        Output pixel size.
    method : {"histogram", "gaussian"}, default "histogram"
        ``"histogram"`` adds each localization to the pixel that contains
        it; positions outside the image are dropped. ``"gaussian"`` adds a
        normalised Gaussian of standard deviation ``sigma_nm`` integrated
        over each pixel (exact erf differences, truncated at 5 sigma), so a
        localization far from the border contributes exactly its weight;
        the part falling outside the image is lost.
    sigma_nm : float, optional
        Gaussian standard deviation; required by ``"gaussian"`` and refused
        by ``"histogram"``.
    weights : {"count", "photons"}, default "count"
        Add 1 per localization, or its photon count.
    frames : int or sequence of int, optional
        Only the localizations in these (0-based) frames; all if None.

    Returns
    -------
    ndarray of float64, shape ``shape``

    Examples
    --------
    >>> locs = Localizations(frame=[0, 0, 1], x_nm=[50.0, 100.0, 250.0], y_nm=[50.0, 50.0, 150.0])
    >>> render_localizations(locs, shape=(2, 3), pixel_size_nm=100.0)
    array([[1., 1., 0.],
           [0., 0., 1.]])
    >>> image = render_localizations(locs, shape=(2, 3), pixel_size_nm=100.0, frames=[1])
    >>> image.sum()
    np.float64(1.0)
    >>> blurred = render_localizations(locs, shape=(30, 40), pixel_size_nm=10.0, method="gaussian", sigma_nm=8.0)
    >>> round(float(blurred.sum()), 6)
    3.0
    """
    if not isinstance(locs, Localizations):
        raise InputError(f"locs must be a Localizations table, got {type(locs).__name__}")
    rows, cols = _check_shape(shape)
    pixel = _positive(pixel_size_nm, "pixel_size_nm")
    if method not in ("histogram", "gaussian"):
        raise InputError(f"method must be 'histogram' or 'gaussian', got {method!r}")
    if method == "gaussian":
        if sigma_nm is None:
            raise InputError("method='gaussian' needs sigma_nm, the Gaussian standard deviation in nm")
        sigma = _positive(sigma_nm, "sigma_nm")
    elif sigma_nm is not None:
        raise InputError("sigma_nm is only used by method='gaussian'; drop it or choose method='gaussian'")
    if weights not in ("count", "photons"):
        raise InputError(f"weights must be 'count' or 'photons', got {weights!r}")

    if frames is not None:
        wanted = np.atleast_1d(np.asarray(frames))
        if wanted.dtype.kind not in "iu" and wanted.size:
            raise InputError(f"frames must be an int or a sequence of ints, got {frames!r}")
        locs = locs.select(np.isin(locs.frame, wanted))
    w = locs.photons if weights == "photons" else np.ones(len(locs))

    if method == "histogram":
        # floor (not truncation toward zero) so that x in [-p, 0) is outside.
        j = np.floor(locs.x_nm / pixel)
        i = np.floor(locs.y_nm / pixel)
        inside = (i >= 0) & (i < rows) & (j >= 0) & (j < cols)
        flat = i[inside].astype(np.int64) * cols + j[inside].astype(np.int64)
        return np.bincount(flat, weights=w[inside], minlength=rows * cols).reshape(rows, cols).astype(np.float64)

    # Gaussian: each localization is the outer product of two 1-D pixel
    # profiles over a small window, scattered into the image with bincount.
    half = int(math.ceil(_TRUNCATE * sigma / pixel)) + 1
    width = 2 * half + 1
    reach = half * pixel
    keep = (
        (locs.x_nm > -reach)
        & (locs.x_nm < cols * pixel + reach)
        & (locs.y_nm > -reach)
        & (locs.y_nm < rows * pixel + reach)
    )
    x, y, w = locs.x_nm[keep], locs.y_nm[keep], w[keep]
    image = np.zeros(rows * cols)
    batch = max(1, _BATCH_VALUES // (width * width))
    offsets = np.arange(width)
    for start in range(0, x.size, batch):
        sl = slice(start, start + batch)
        j0 = np.floor(x[sl] / pixel).astype(np.int64) - half
        i0 = np.floor(y[sl] / pixel).astype(np.int64) - half
        px = _pixel_profiles(x[sl], j0, width, pixel, sigma)
        py = _pixel_profiles(y[sl], i0, width, pixel, sigma) * w[sl, None]
        jj = j0[:, None] + offsets
        ii = i0[:, None] + offsets
        # Zero the window parts outside the image and clip their indices,
        # cheaper than selecting the valid entries with a boolean mask.
        px[(jj < 0) | (jj >= cols)] = 0.0
        py[(ii < 0) | (ii >= rows)] = 0.0
        np.clip(jj, 0, cols - 1, out=jj)
        np.clip(ii, 0, rows - 1, out=ii)
        flat = (ii * cols)[:, :, None] + jj[:, None, :]
        values = py[:, :, None] * px[:, None, :]
        image += np.bincount(flat.ravel(), weights=values.ravel(), minlength=rows * cols)
    return image.reshape(rows, cols)
