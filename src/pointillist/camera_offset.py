"""The camera offset: measure a stack's dark level, and warn when an integer stack seems to carry an offset.

Cameras add a constant baseline (the offset or bias, typically 100-500 ADU)
to every pixel. A stack read without ``--offset`` keeps it, and every
background the methods estimate is biased by it. :func:`dark_level` measures
the level of the darkest pixels from the raw frames (what ``--offset auto``
uses), and :func:`offset_warning` says, once, when integer data sit well
above zero and no offset was given.

Both read the raw values (``acq.data`` within ``acq.region``), never the
calibrated frames, and at most ``max_frames`` frames, evenly spaced over the
stack.
"""

from __future__ import annotations

import math

import numpy as np

from .acquisition import DEFAULT_CHUNK, Acquisition, as_acquisition
from .errors import InputError

__all__ = ["dark_level", "offset_warning", "DARK_PERCENTILE", "DARK_MAX_FRAMES", "WARN_ABOVE_ADU"]

#: percentile of the per-pixel temporal minimum taken as the dark level (chosen on simulated stacks)
DARK_PERCENTILE = 1.0
#: most frames read to measure the dark level (evenly spaced over the stack)
DARK_MAX_FRAMES = 256
#: dark level (ADU) from which integer data without an offset get a warning
WARN_ABOVE_ADU = 10.0


def _frame_slices(n_frames: int, max_frames: int, chunk: int = DEFAULT_CHUNK):
    """Slices reading at most ``max_frames`` frames, evenly spaced (step ``ceil(T / max_frames)``), in chunks."""
    step = max(1, math.ceil(n_frames / max_frames))
    for start in range(0, n_frames, step * chunk):
        yield slice(start, min(start + step * chunk, n_frames), step)


def _minimum_map(acq: Acquisition, max_frames: int) -> tuple[np.ndarray, bool]:
    """Per-pixel temporal minimum of the raw frames (float64) and whether every value read was a whole number."""
    r0, r1, c0, c1 = acq.region
    kind = acq.dtype.kind
    low, whole = None, kind in "iuf"
    for frames in _frame_slices(acq.n_frames, max_frames):
        raw = np.asarray(acq.data[frames, r0:r1, c0:c1])
        if kind == "f":
            if not np.all(np.isfinite(raw)):
                raise InputError("the stack contains NaN or infinite values")
            whole = whole and bool(np.all(raw == np.floor(raw)))
        block = raw.min(axis=0)
        low = block if low is None else np.minimum(low, block)
    return low.astype(np.float64), whole


def _check_options(percentile, max_frames) -> None:
    if isinstance(percentile, bool) or not isinstance(percentile, (int, float, np.integer, np.floating)) \
            or not 0 <= percentile <= 100:
        raise InputError(f"percentile must be a number in [0, 100], got {percentile!r}")
    if isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer)) or max_frames < 1:
        raise InputError(f"max_frames must be a positive integer (frames read), got {max_frames!r}")


def dark_level(stack, *, percentile: float = DARK_PERCENTILE, max_frames: int = DARK_MAX_FRAMES) -> float:
    """The dark level of a stack in raw units (ADU): an estimate of the camera offset from the data alone.

    The per-pixel minimum over time (over at most ``max_frames`` frames,
    evenly spaced) is a map of how dark each pixel gets; the dark level is a
    low ``percentile`` of that map.

    Why this estimates the offset: a pixel's value is
    ``offset + gain * (Poisson(background + signal) + read noise)``. Over
    many frames its minimum approaches ``offset + gain * (b - z sqrt(b + s^2))``
    for a pixel with background ``b`` photons and read noise ``s`` electrons,
    where ``z`` (about 2.7 for 256 frames) is how many standard deviations the
    lowest of the frames falls below the mean. The darkest pixels are those
    with no emitter and the least background, so a low percentile of the
    minimum map is the offset plus what is left of the darkest pixels'
    background: it is a *dark level*, not a calibration.

    - With no background it sits at the offset, or below it by up to about
      4 read-noise standard deviations (in ADU), since read noise pushes the
      minimum down (11 photons at 3 e- read noise).
    - With a background it overestimates the offset by about
      ``gain * (b - z sqrt(b))`` of the darkest pixels: a background of 50
      photons leaves 23-27 photons, 20 photons leave 1-6 (the measurements
      are in ``tests/test_camera_offset.py``). Subtracting it never takes the
      darkest pixels' minimum below zero, so the backgrounds are then biased
      low by that much rather than high by the whole offset.

    No noise allowance is added or subtracted: the read noise and the
    background move the minimum in opposite directions, and neither can be
    told apart from the offset without a dark frame. Measure the offset on
    dark frames (shutter closed) when it matters.

    Parameters
    ----------
    stack : Acquisition, array (T, H, W) or (H, W), or path
        Raw frames (camera ADU). An acquisition's calibration is ignored:
        the raw values within its window are read (its padding is not).
    percentile : float, default 1.0
        Percentile of the per-pixel minimum map (0 = the darkest pixel). 1%
        gave the best worst case on simulated stacks among percentiles that a
        few defective (cold) pixels cannot move (see the tests).
    max_frames : int, default 256
        Most frames read, evenly spaced over the stack (every frame when the
        stack has no more).

    Returns
    -------
    float
        The dark level in the units of the raw data.

    Examples
    --------
    >>> from pointillist.simulate import Camera, apply_camera
    >>> frames = apply_camera(np.zeros((200, 32, 32)), Camera(background=2.0, read_noise=0.0, offset=100), rng=0)
    >>> dark_level(frames)
    100.0
    >>> dark_level(frames, percentile=101)
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: percentile must be a number in [0, 100], got 101
    """
    _check_options(percentile, max_frames)
    acq = as_acquisition(stack)
    low, _ = _minimum_map(acq, int(max_frames))
    return float(np.percentile(low, percentile))


def offset_warning(acquisition, *, offset_given: bool, percentile: float = DARK_PERCENTILE,
                   max_frames: int = DARK_MAX_FRAMES) -> str | None:
    """One line warning that an integer stack seems to carry a camera offset that was not given; else None.

    The warning is given when all of these hold:

    - the data are integer-valued: an integer dtype, or floats whose values
      read are all whole numbers (a camera stack saved as 32-bit float).
      Floats with fractions are taken as processed data (photons,
      background-subtracted), where a positive floor is plausibly signal;
    - no offset was given: ``offset_given`` is False and the acquisition's
      calibration has offset 0;
    - the dark level (:func:`dark_level`) is at least ``WARN_ABOVE_ADU``
      (10 ADU). Camera offsets are 100-500 ADU, far above it; a stack with
      no offset has a dark level of 0 (read noise is clipped at zero) unless
      the darkest pixels' background alone lifts it to 10 ADU: about 20
      photons per frame at gain 1, 15 at gain 2 (the minimum of ``b``
      photons over 256 frames is about ``b - 2.7 sqrt(b)``). Such a photon
      floor is not told apart from an offset without knowing the gain, which
      is why the message says "if that is the camera offset".

    Parameters
    ----------
    acquisition : Acquisition, array or path
        The stack as opened for the run.
    offset_given : bool
        Whether the user gave an offset (``--offset``, even 0).
    percentile, max_frames
        As :func:`dark_level` (the same single pass: at most ``max_frames``
        frames are read).

    Returns
    -------
    str or None
        The message (no trailing newline), or None when there is nothing to say.

    Examples
    --------
    >>> from pointillist.simulate import Camera, apply_camera
    >>> frames = apply_camera(np.zeros((200, 32, 32)), Camera(background=2.0, read_noise=1.0, offset=100), rng=0)
    >>> print(offset_warning(frames, offset_given=False))  # doctest: +NORMALIZE_WHITESPACE
    the darkest pixels of the stack sit at 97 ADU, not 0: if that is the camera offset, pass --offset 97
    (or --offset auto); without it every background is biased by that much
    >>> offset_warning(frames, offset_given=True) is None
    True
    >>> offset_warning(frames.astype(np.float32) / 3, offset_given=False) is None  # photons with fractions
    True
    """
    _check_options(percentile, max_frames)
    acq = as_acquisition(acquisition)
    offset = acq.calibration.offset
    if offset_given or np.ndim(offset) != 0 or offset != 0:
        return None
    if acq.dtype.kind not in "iuf":
        return None
    low, whole = _minimum_map(acq, int(max_frames))
    if not whole:
        return None
    level = float(np.percentile(low, percentile))
    if level < WARN_ABOVE_ADU:
        return None
    where = "the stack" if acq.path is None else acq.path.name
    return (f"the darkest pixels of {where} sit at {level:.0f} ADU, not 0: if that is the camera offset, "
            f"pass --offset {level:.0f} (or --offset auto); without it every background is biased by that much")
