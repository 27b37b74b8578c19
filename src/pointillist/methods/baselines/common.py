"""What the baselines share: their result, input checks and band-limited resampling onto the fine grid."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...errors import InputError
from ...optics import Optics

__all__ = ["BaselineResult", "validate_stack", "calibrated", "check_calibration", "check_optics", "real_number",
           "trig_interpolation_matrix", "to_fine_grid"]


@dataclass
class BaselineResult:
    """What every baseline returns.

    Attributes
    ----------
    image : ndarray (qH, qW)
        The reconstruction on pointillist's fine grid (``optics.upsample``
        times the camera grid), written as ``intensity.tif``. Only SPARCOM
        and LSPARCOM estimate a physical quantity (the emitters' variance,
        up to the data normalisation); SOFI and SRRF images are not linear
        in the intensity.
    method : str
    optics : Optics
    seconds : float
    support : bool ndarray (qH, qW) or None
        For the sparse methods (SPARCOM, LSPARCOM): ``image > threshold * max``.
    parameters : dict
        Every setting used (JSON-friendly).
    extra : dict
        Method-specific arrays (native-grid images, parameter maps).
    history : dict
        Per-iteration records of iterative methods.
    """

    image: np.ndarray
    method: str
    optics: Optics
    seconds: float
    support: np.ndarray | None = None
    parameters: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict, repr=False)
    history: dict = field(default_factory=dict, repr=False)

    def summary(self) -> dict:
        """JSON-friendly scalars for ``run.json``."""
        out = {"seconds": self.seconds, "parameters": self.parameters}
        if self.support is not None:
            out["support_pixels"] = int(self.support.sum())
        if self.history.get("objective"):
            out["iterations"] = len(self.history["objective"])
        return out


def validate_stack(stack, method: str, *, min_frames: int = 2, chunk: int = 64) -> np.ndarray:
    """The stack as a ``(T, H, W)`` array, or an ``InputError`` naming the problem.

    The array is returned unconverted (a memory-mapped TIFF stays on disk):
    the methods read it in chunks of frames and calibrate each chunk with
    ``calibrated``. The checks (finite values, not constant in time) also
    run chunk by chunk.

    Examples
    --------
    >>> validate_stack(np.zeros((5, 8, 8)) + np.arange(5)[:, None, None], "SOFI").shape
    (5, 8, 8)
    """
    arr = np.asarray(stack)
    if arr.ndim != 3:
        raise InputError(f"{method} needs a stack of frames (frames, rows, columns), got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise InputError(f"the stack must hold real numbers, got dtype {arr.dtype}")
    t, h, w = arr.shape
    if t < min_frames:
        raise InputError(f"{method} needs at least {min_frames} frames, the stack has {t}")
    if h < 4 or w < 4:
        raise InputError(f"frames of {h} x {w} pixels are too small for {method} (at least 4 x 4)")
    first, constant = arr[0], True
    for start in range(0, t, chunk):
        block = arr[start : start + chunk]
        if arr.dtype.kind == "f" and not np.all(np.isfinite(block)):
            raise InputError("the stack contains NaN or infinite values")
        constant = constant and bool(np.all(block == first))
    if constant:
        raise InputError("the stack is constant in time: there are no fluctuations to analyse")
    return arr


def calibrated(frames, offset: float, gain: float) -> np.ndarray:
    """``(frames - offset) / gain`` in float64 (photons from camera ADU).

    Examples
    --------
    >>> calibrated(np.array([[[110, 120]]], dtype=np.uint16), 100, 2.0).tolist()
    [[[5.0, 10.0]]]
    """
    return (np.asarray(frames, dtype=np.float64) - offset) / gain


def check_calibration(offset, gain) -> None:
    """Refuse a camera offset that is not a finite number or a gain that is not a positive one.

    Examples
    --------
    >>> check_calibration(100, 2.0)
    >>> check_calibration(100, 0)
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: gain must be a positive number (ADU per photon), got 0
    """
    number = (int, float, np.integer, np.floating)
    if isinstance(offset, bool) or not (isinstance(offset, number) and math.isfinite(offset)):
        raise InputError(f"offset must be a finite number (camera ADU), got {offset!r}")
    if isinstance(gain, bool) or not (isinstance(gain, number) and math.isfinite(gain) and gain > 0):
        raise InputError(f"gain must be a positive number (ADU per photon), got {gain!r}")


def real_number(name: str, value, *, low: float = -math.inf, high: float = math.inf,
                include_low: bool = True) -> float:
    """``value`` as a float when it is a real number in the range, else an ``InputError`` naming ``name``.

    Examples
    --------
    >>> real_number("threshold", 0.5, low=0, high=1)
    0.5
    >>> real_number("threshold", None, low=0, high=1)
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: threshold must be a number in [0, 1), got None
    """
    number = (int, float, np.integer, np.floating)
    ok = isinstance(value, number) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and (value >= low if include_low else value > low) and value < high):
        span = f"{'[' if include_low else '('}{low:g}, {high:g})"
        raise InputError(f"{name} must be a number in {span}, got {value!r}")
    return float(value)


def check_optics(optics) -> Optics:
    """``optics`` itself, or a clear error when it is not an ``Optics``."""
    if not isinstance(optics, Optics):
        raise InputError("optics must be a pointillist.optics.Optics")
    return optics


def trig_interpolation_matrix(n: int, start: float, step: float, points) -> np.ndarray:
    """Weights ``W`` (len(points) x n) of band-limited (trigonometric) interpolation.

    Samples ``f_k`` sit at ``start + k * step``; ``W @ f`` evaluates at
    ``points`` the trigonometric polynomial through the even extension
    ``f_0 .. f_{n-1}, f_{n-2} .. f_1`` (period ``2 (n - 1)``, as the DCT-I),
    which is continuous where the period wraps, so the image's two ends are
    not joined by a jump. Kernel for the even period ``N``:
    ``sin(pi u) / (N tan(pi u / N))`` (``u`` in samples), the Nyquist term
    split evenly.

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
