"""From super-resolved grid images to localizations: local maxima and 3x3 centroids.

This is the localiser of the ZeroCostDL4Mic / DeepCEL0 notebooks (a
``k x k`` max-pool with stride 1 and "same" padding, keep pixels equal to the
pooled value and above a threshold, optional 3x3 centre-of-mass refinement),
with plateaus reduced to one peak.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..acquisition import check_array
from ..errors import InputError
from ..localizations import Localizations

__all__ = ["find_peaks", "grid_to_localizations"]

# Frames are processed in blocks so that a long stack does not need several
# full-size temporaries at once.
_FRAMES_PER_BLOCK = 64


def _check_stack(images, name: str, ndims: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(check_array(images, name, ndims=ndims))
    if arr.dtype.kind != "f" or arr.dtype.itemsize < 4:
        arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or infinite values; replace them (e.g. np.nan_to_num) first")
    return arr


def _check_options(threshold, footprint) -> tuple[float, int]:
    try:
        thr = float(threshold)
    except (TypeError, ValueError):
        raise InputError(f"threshold must be a number, got {threshold!r}") from None
    if not math.isfinite(thr):
        raise InputError(f"threshold must be finite, got {threshold!r}")
    if isinstance(footprint, (bool, np.bool_)) or not isinstance(footprint, (int, np.integer)):
        raise InputError(f"footprint must be an odd positive integer (e.g. 3), got {footprint!r}")
    if footprint < 1 or footprint % 2 == 0:
        raise InputError(f"footprint must be an odd positive integer (e.g. 3), got {footprint}")
    return thr, int(footprint)


def _first_of_plateaus(cand: np.ndarray, f, r, c, half: int) -> np.ndarray:
    """Indices (into f, r, c) of the first peak in raster order of each plateau.

    Two maxima within each other's footprint are necessarily equal (each is
    >= the other), so they belong to one plateau. They are chained by
    looking up, for every peak, the candidate mask at the forward offsets of
    the footprint (Chebyshev distance <= ``half``); for footprint 3 this is
    8-connected plateau labelling. ``f, r, c`` must be in raster order (as
    from ``np.nonzero(cand)``).
    """
    n = f.size
    everything = np.arange(n)
    if half == 0 or n < 2:
        return everything
    n_rows, n_cols = cand.shape[1:]
    flat = (f * n_rows + r) * n_cols + c
    src, dst = [], []
    for dr in range(half + 1):
        for dc in range(-half, half + 1):
            if dr == 0 and dc <= 0:
                continue
            tr, tc = r + dr, c + dc
            idx = np.flatnonzero((tr < n_rows) & (tc >= 0) & (tc < n_cols))
            idx = idx[cand[f[idx], tr[idx], tc[idx]]]
            if idx.size:
                src.append(idx)
                dst.append(np.searchsorted(flat, (f[idx] * n_rows + tr[idx]) * n_cols + tc[idx]))
    if not src:
        return everything
    src = np.concatenate(src)
    dst = np.concatenate(dst)
    graph = coo_matrix((np.ones(src.size), (src, dst)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    _, first = np.unique(labels, return_index=True)
    return np.sort(first)


def _peaks_in_stack(stack: np.ndarray, thr: float, footprint: int, refine: bool):
    """Peaks of a (frames, rows, cols) stack: frame, row, col (sub-pixel), value, 3x3 sum."""
    n_frames, n_rows, n_cols = stack.shape
    frames, rows, cols = [], [], []
    for start in range(0, n_frames, _FRAMES_PER_BLOCK):
        block = stack[start : start + _FRAMES_PER_BLOCK]
        # -inf outside the image: a border pixel is compared with its real
        # neighbours only, never with an invented zero.
        local_max = ndimage.maximum_filter(block, size=(1, footprint, footprint), mode="constant", cval=-np.inf)
        cand = (block == local_max) & (block > thr)
        f, r, c = (idx.astype(np.int64) for idx in np.nonzero(cand))
        keep = _first_of_plateaus(cand, f, r, c, footprint // 2)
        frames.append(f[keep] + start)
        rows.append(r[keep])
        cols.append(c[keep])
    f = np.concatenate(frames)
    r = np.concatenate(rows)
    c = np.concatenate(cols)

    values = stack[f, r, c].astype(np.float64)
    # 3x3 neighbourhood, clipped at the border (padding weighs 0) and with
    # negative values clamped to 0 so that they cannot push the centroid away.
    sum_w = np.zeros(f.size)
    sum_r = np.zeros(f.size)
    sum_c = np.zeros(f.size)
    for dr in (-1, 0, 1):
        rr = r + dr
        row_in = (rr >= 0) & (rr < n_rows)
        for dc in (-1, 0, 1):
            cc = c + dc
            inside = row_in & (cc >= 0) & (cc < n_cols)
            w = stack[f, np.clip(rr, 0, n_rows - 1), np.clip(cc, 0, n_cols - 1)].astype(np.float64)
            w = np.where(inside, np.maximum(w, 0.0), 0.0)
            sum_w += w
            sum_r += w * dr
            sum_c += w * dc
    row_pos = r.astype(np.float64)
    col_pos = c.astype(np.float64)
    if refine:
        ok = sum_w > 0
        row_pos[ok] += sum_r[ok] / sum_w[ok]
        col_pos[ok] += sum_c[ok] / sum_w[ok]
    return f, row_pos, col_pos, values, sum_w


def find_peaks(image, *, threshold: float, footprint: int = 3, refine: bool = True):
    """Local maxima of a 2-D image, optionally refined to sub-pixel positions.

    A pixel is a peak when it equals the maximum of its
    ``footprint x footprint`` neighbourhood (outside the image counts as
    ``-inf``) and is strictly above ``threshold``. Equal maxima within each
    other's footprint (a plateau) give one peak: the first pixel in raster
    order. With ``refine``, the position is the intensity-weighted centroid
    of the 3x3 neighbourhood of that pixel (clipped at the image border,
    negative values counted as 0; the pixel itself when all weights are 0).

    Parameters
    ----------
    image : array_like, 2-D
        Super-resolved grid image (rows, cols).
    threshold : float
        Peaks must be strictly above it.
    footprint : int, default 3
        Odd side of the neighbourhood in which a peak is the maximum.
    refine : bool, default True
        Sub-pixel refinement by the 3x3 centroid.

    Returns
    -------
    rows, cols : ndarray of float64
        Positions in pixel index units (an integer is a pixel centre), in
        raster order of the peak pixels.
    values : ndarray of float64
        Image value at each peak pixel.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((5, 5)); img[2, 2] = 3.0; img[2, 3] = 1.0
    >>> rows, cols, values = find_peaks(img, threshold=0.5)
    >>> rows.tolist(), cols.tolist(), values.tolist()
    ([2.0], [2.25], [3.0])
    """
    arr = _check_stack(image, "image", (2,))
    thr, footprint = _check_options(threshold, footprint)
    if arr.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    _, rows, cols, values, _ = _peaks_in_stack(arr[np.newaxis], thr, footprint, bool(refine))
    return rows, cols, values


def grid_to_localizations(
    images,
    *,
    pixel_size_nm: float,
    threshold: float,
    footprint: int = 3,
    refine: bool = True,
    first_frame: int = 0,
) -> Localizations:
    """Turn super-resolved grid images into a localization table (one row per peak).

    Peaks are found as in :func:`find_peaks`, all frames at once. Positions
    follow the pixel convention: ``x_nm = (col + 0.5) * pixel_size_nm`` with
    ``col`` the (sub-pixel) column, ``y_nm`` likewise from the row.
    ``photons`` is the sum of the 3x3 neighbourhood of the peak pixel
    (clipped at the border, negative values counted as 0), i.e. the
    intensity of the grid image, not a calibrated photon count unless the
    image is one.

    Parameters
    ----------
    images : array_like, 2-D or 3-D
        One image (rows, cols) or a stack (frames, rows, cols).
    pixel_size_nm : float
        Size of a grid pixel in nm (e.g. 25 for a 4x finer grid of 100 nm
        camera pixels).
    threshold, footprint, refine
        As in :func:`find_peaks`.
    first_frame : int, default 0
        Frame index (0-based) of the first image.

    Returns
    -------
    Localizations
        Rows sorted by frame, then raster order of the peak pixels.

    Examples
    --------
    >>> import numpy as np
    >>> stack = np.zeros((2, 4, 4)); stack[0, 1, 2] = 1.0; stack[1, 3, 0] = 2.0
    >>> locs = grid_to_localizations(stack, pixel_size_nm=25.0, threshold=0.5)
    >>> locs.frame.tolist(), locs.x_nm.tolist(), locs.y_nm.tolist(), locs.photons.tolist()
    ([0, 1], [62.5, 12.5], [37.5, 87.5], [1.0, 2.0])
    """
    arr = _check_stack(images, "images", (2, 3))
    thr, footprint = _check_options(threshold, footprint)
    if not (isinstance(pixel_size_nm, (int, float, np.integer, np.floating)) and pixel_size_nm > 0):
        raise InputError(f"pixel_size_nm must be a positive number, got {pixel_size_nm!r}")
    if isinstance(first_frame, (bool, np.bool_)) or not isinstance(first_frame, (int, np.integer)) or first_frame < 0:
        raise InputError(f"first_frame must be a non-negative integer (0-based), got {first_frame!r}")
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.size == 0:
        return Localizations.empty()
    f, rows, cols, _, photons = _peaks_in_stack(arr, thr, footprint, bool(refine))
    return Localizations.from_pixels(
        f + int(first_frame), rows, cols, pixel_size_nm=float(pixel_size_nm), photons=photons
    )
