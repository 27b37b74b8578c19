"""Detection and image-quality scores used by the COL0RME and DeepCEL0 papers.

Detection ratios are in percent (0-100); a ratio whose denominator is zero
is defined as 100. Image scores follow the papers' definitions exactly and
never rescale the estimate.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from .common import check_tolerance, ratio_percent
from .matching import MatchResult, match_points

__all__ = [
    "jaccard",
    "specificity",
    "snr_db",
    "psnr",
    "nmse",
    "correlation",
    "support_jaccard",
    "binary_detections",
]


def _count(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        if not (isinstance(value, (float, np.floating)) and float(value).is_integer()):
            raise InputError(f"{name} must be a non-negative integer count, got {value!r}")
    value = int(value)
    if value < 0:
        raise InputError(f"{name} must be a non-negative integer count, got {value}")
    return value


def jaccard(tp: int, fp: int, fn: int) -> float:
    """Jaccard index ``TP / (TP + FP + FN)`` in percent (100 when all counts are 0).

    Parameters
    ----------
    tp, fp, fn : int
        Matched pairs, unmatched predictions, unmatched true emitters.

    Returns
    -------
    float
        The index in percent.

    Examples
    --------
    >>> jaccard(3, 1, 2)
    50.0
    """
    tp, fp, fn = _count(tp, "tp"), _count(fp, "fp"), _count(fn, "fn")
    return ratio_percent(tp, tp + fp + fn)


def specificity(tp: int, fp: int, fn: int, n_pixels: int) -> float:
    """Specificity ``TN / (TN + FP)`` in percent, with negatives counted on the fine grid.

    Following the DeepCEL0 paper, true negatives are the super-resolved grid
    pixels that are neither a detection nor a true molecule:
    ``TN = n_pixels - TP - FP - FN``, where ``n_pixels`` is the number of
    fine pixels per frame times the number of frames. Returns 100 when
    ``TN + FP == 0``.

    Parameters
    ----------
    tp, fp, fn : int
        Summed matching counts.
    n_pixels : int
        Fine pixels per frame times frames.

    Returns
    -------
    float
        Percent, 0 to 100.

    Examples
    --------
    >>> specificity(3, 1, 2, 15)  # TN = 9
    90.0
    """
    tp, fp, fn = _count(tp, "tp"), _count(fp, "fp"), _count(fn, "fn")
    n_pixels = _count(n_pixels, "n_pixels")
    tn = n_pixels - tp - fp - fn
    if tn < 0:
        raise InputError(
            f"n_pixels={n_pixels} is smaller than TP + FP + FN = {tp + fp + fn}; "
            "pass the number of fine pixels per frame times the number of frames"
        )
    return ratio_percent(tn, tn + fp)


def _pair(a, b, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise InputError(f"{names[0]} has shape {a.shape} but {names[1]} has shape {b.shape}; they must match")
    if a.size == 0:
        raise InputError(f"{names[0]} and {names[1]} are empty")
    for arr, name in zip((a, b), names):
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{name} contains NaN or infinite values")
    return a, b


def snr_db(clean, noisy) -> float:
    """Signal-to-noise ratio ``10 log10(|clean|^2 / |clean - noisy|^2)`` in dB (DeepCEL0).

    Parameters
    ----------
    clean, noisy : array_like
        Arrays of the same shape (a frame or a stack, summed over all of it).

    Returns
    -------
    float
        SNR in dB; ``inf`` when ``noisy == clean``, ``-inf`` when ``clean`` is zero.

    Examples
    --------
    >>> round(snr_db([1.0, 1.0, 1.0, 1.0], [1.1, 0.9, 1.1, 0.9]), 9)
    20.0
    """
    clean, noisy = _pair(clean, noisy, ("clean", "noisy"))
    signal = float(np.sum(clean**2))
    noise = float(np.sum((clean - noisy) ** 2))
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def psnr(reference, estimate, *, data_range: float | None = None) -> float:
    """Peak SNR ``10 log10(peak^2 / mean((reference - estimate)^2))`` in dB (COL0RME).

    ``peak`` is ``max(reference)`` unless ``data_range`` is given. Absolute
    intensities are compared: the estimate is not rescaled. Returns ``inf``
    for identical images.

    Parameters
    ----------
    reference, estimate : array_like
        Images of the same shape (crop borders beforehand if needed).
    data_range : float, optional
        Peak value to use instead of ``max(reference)``.

    Returns
    -------
    float
        PSNR in dB.

    Examples
    --------
    >>> round(psnr([[0.0, 2.0], [0.0, 0.0]], [[0.1, 2.1], [0.1, 0.1]]), 6)  # 10 log10(4 / 0.01)
    26.0206
    """
    reference, estimate = _pair(reference, estimate, ("reference", "estimate"))
    if data_range is None:
        peak = float(reference.max())
        if peak <= 0:
            raise InputError(f"max(reference) is {peak}, not a usable peak; pass data_range explicitly")
    else:
        peak = float(data_range)
        if not (math.isfinite(peak) and peak > 0):
            raise InputError(f"data_range must be a positive number, got {data_range!r}")
    mse = float(np.mean((reference - estimate) ** 2))
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(peak**2 / mse)


def nmse(reference, estimate) -> float:
    """Normalised squared error ``|reference - estimate|^2 / |reference|^2``.

    Parameters
    ----------
    reference, estimate : array_like
        Arrays of the same shape; ``reference`` not all zeros.

    Returns
    -------
    float
        0 for a perfect estimate (not in percent).

    Examples
    --------
    >>> nmse([3.0, 4.0], [3.0, 3.0])
    0.04
    """
    reference, estimate = _pair(reference, estimate, ("reference", "estimate"))
    energy = float(np.sum(reference**2))
    if energy == 0:
        raise InputError("reference is all zeros, so the normalised error is undefined")
    return float(np.sum((reference - estimate) ** 2)) / energy


def correlation(reference, estimate) -> float:
    """Normalised (Pearson) correlation of two images, in [-1, 1]: blind to the estimate's scale and offset.

    The fair score for methods whose output is not in the truth's units
    (SOFI, SRRF); a constant image has no correlation (error).

    Parameters
    ----------
    reference, estimate : array_like
        Images of the same shape, neither constant.

    Returns
    -------
    float
        Pearson correlation coefficient.

    Examples
    --------
    >>> round(correlation([0.0, 1.0, 2.0], [10.0, 12.0, 14.0]), 12), round(correlation([0, 1, 2], [2, 1, 0]), 12)
    (1.0, -1.0)
    """
    reference, estimate = _pair(reference, estimate, ("reference", "estimate"))
    for arr, name in ((reference, "reference"), (estimate, "estimate")):
        if np.all(arr == arr.flat[0]):
            raise InputError(f"{name} is constant, so its correlation is undefined")
    a, b = reference - reference.mean(), estimate - estimate.mean()
    # unit max first: the sums of squares neither overflow (1e200) nor underflow (1e-200)
    a, b = a / np.abs(a).max(), b / np.abs(b).max()
    return float(np.clip(np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b)), -1.0, 1.0))


def _mask(mask, name: str) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise InputError(f"{name} must be a 2-D fine-grid image, got {arr.ndim}-D")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or infinite values")
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{name} must be boolean or numeric, got dtype {arr.dtype}")
    return arr != 0


def support_jaccard(
    pred_mask,
    true_mask,
    *,
    tolerance_px: float,
    crop: int = 0,
    pixel_size_nm: float | None = None,
) -> MatchResult:
    """Match the support pixels of two fine-grid images one-to-one within a tolerance.

    Every nonzero pixel is one "molecule" at its pixel centre; predicted and
    true support pixels are paired with :func:`match_points` (maximum number
    of pairs within ``tolerance_px``, then minimum total distance). A
    tolerance of 1.6 px (40 nm on a 25 nm grid, as in the COL0RME reference
    code) accepts diagonal neighbours (distance 1.41 px); 1.0 px accepts only
    edge neighbours.

    Parameters
    ----------
    pred_mask, true_mask : array_like, 2-D
        Images of the same shape; nonzero pixels form the support (for a GT
        intensity image, pixels with nonzero mean intensity).
    tolerance_px : float
        Largest distance between matched pixel centres, in fine pixels.
    crop : int, default 0
        Border pixels removed from every side of both images before scoring
        (COL0RME scores after removing a border).
    pixel_size_nm : float, optional
        Fine pixel size. If given, ``distances_nm`` (and ``rmse_nm``) are in
        nm; if omitted they are in fine pixels.

    Returns
    -------
    MatchResult
        ``pred_index`` and ``true_index`` index the support pixels of the
        cropped images in raster order (the order of ``np.nonzero``).

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((5, 5), bool); truth[2, 2] = True
    >>> pred = np.zeros((5, 5), bool); pred[3, 3] = True
    >>> support_jaccard(pred, truth, tolerance_px=1.6).tp
    1
    >>> support_jaccard(pred, truth, tolerance_px=1.0).tp
    0
    """
    pred = _mask(pred_mask, "pred_mask")
    true = _mask(true_mask, "true_mask")
    if pred.shape != true.shape:
        raise InputError(f"pred_mask has shape {pred.shape} but true_mask has shape {true.shape}; they must match")
    tol = check_tolerance(tolerance_px, "tolerance_px")
    if isinstance(crop, (bool, np.bool_)) or not isinstance(crop, (int, np.integer)) or crop < 0:
        raise InputError(f"crop must be a non-negative integer number of pixels, got {crop!r}")
    if 2 * crop >= min(pred.shape):
        raise InputError(f"crop={crop} removes the whole {pred.shape} image; use a smaller crop")
    if crop:
        pred = pred[crop:-crop, crop:-crop]
        true = true[crop:-crop, crop:-crop]
    scale = 1.0
    if pixel_size_nm is not None:
        scale = float(pixel_size_nm)
        if not (math.isfinite(scale) and scale > 0):
            raise InputError(f"pixel_size_nm must be a positive number, got {pixel_size_nm!r}")
    pred_xy = np.argwhere(pred)[:, ::-1].astype(np.float64)
    true_xy = np.argwhere(true)[:, ::-1].astype(np.float64)
    pi, ti, d = match_points(pred_xy, true_xy, tol)
    tp = int(pi.size)
    return MatchResult(
        tp=tp,
        fp=len(pred_xy) - tp,
        fn=len(true_xy) - tp,
        pred_index=pi,
        true_index=ti,
        distances_nm=d * scale,
    )


def binary_detections(image, *, threshold: float = 0.0):
    """Every pixel above ``threshold`` is one detection at its pixel centre (DeepCEL0 protocol).

    This is the "binarised output" protocol under which the DeepCEL0 paper
    scores Deep-STORM: each positive fine pixel counts as one molecule.

    Parameters
    ----------
    image : array_like, 2-D or 3-D
        One fine-grid image ``(rows, cols)`` or a stack ``(frames, rows, cols)``.
    threshold : float, default 0.0
        Pixels strictly above it are detections.

    Returns
    -------
    tuple of ndarray of int64
        ``(rows, cols)`` for a 2-D image, ``(frames, rows, cols)`` for a
        stack, in raster order; integer indices are pixel centres, so
        ``Localizations.from_pixels(frames, rows, cols, pixel_size_nm=p)``
        turns them into a table.

    Examples
    --------
    >>> rows, cols = binary_detections([[0.0, 0.5], [-1.0, 2.0]])
    >>> rows.tolist(), cols.tolist()
    ([0, 1], [1, 1])
    """
    arr = np.asarray(image)
    if arr.ndim not in (2, 3):
        raise InputError(f"image must be 2-D (rows, cols) or 3-D (frames, rows, cols), got {arr.ndim}-D")
    if arr.dtype.kind not in "biuf":
        raise InputError(f"image must be numeric, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise InputError("image contains NaN or infinite values")
    thr = float(threshold)
    if not math.isfinite(thr):
        raise InputError(f"threshold must be a finite number, got {threshold!r}")
    return tuple(idx.astype(np.int64) for idx in np.nonzero(arr > thr))
