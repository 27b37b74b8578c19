"""The stack of frames every method reads: opened once, validated once, calibrated to photons on the way in.

An :class:`Acquisition` wraps the raw frames (a NumPy array, a memory-mapped
TIFF or anything that slices like one) with the camera :class:`Calibration`
and the pixel size from the file. Methods never touch the raw values: they
read calibrated float chunks of frames (:meth:`Acquisition.chunks`, or
slicing, which returns calibrated frames) and cut tiles with
:meth:`Acquisition.window`, which reads lazily from the same file. The
checks that need the values (finite, not constant in time) ride along with
the first pass a method makes, so no stack is read twice to be checked, and
that pass also leaves the mean frame for previews (:attr:`Acquisition.mean`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError

__all__ = ["Calibration", "Acquisition", "as_acquisition", "open_acquisition", "check_array", "read_source",
           "MIN_FRAME_SIDE"]

#: smallest frame side (camera pixels) any method accepts
MIN_FRAME_SIDE = 4
#: frames per chunk of a pass, unless a method asks otherwise
DEFAULT_CHUNK = 64


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _scalar_or_map(value, name: str, what: str):
    """A float, or a finite 2-D float64 map (sCMOS per-pixel calibration)."""
    if _is_number(value):
        if not math.isfinite(value):
            raise InputError(f"{name} must be a finite number ({what}), got {value!r}")
        return float(value)
    arr = np.asarray(value) if isinstance(value, np.ndarray) or isinstance(value, (list, tuple)) else None
    if arr is None or arr.dtype.kind not in "biuf":
        raise InputError(f"{name} must be a number or a per-pixel map ({what}), got {value!r}")
    if arr.ndim == 0:
        return _scalar_or_map(float(arr), name, what)
    if arr.ndim != 2:
        raise InputError(f"{name} map must be 2-D (rows, columns), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} map contains NaN or infinite values")
    return np.array(arr, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Calibration:
    """Camera calibration: ``photons = (ADU - offset) / gain``.

    Parameters
    ----------
    offset : float or ndarray (H, W)
        Baseline in ADU; a per-pixel map for sCMOS cameras.
    gain : float or ndarray (H, W)
        ADU per photon (positive); a per-pixel map for sCMOS cameras.
    read_variance : float or ndarray (H, W), optional
        Read-noise variance in ADU^2 (per pixel for sCMOS); carried for the
        methods and the run record, in photons^2 as :attr:`photon_read_variance`.
    note : str, optional
        Where the values come from (e.g. an offset measured with ``--offset auto``), kept in the run record.

    Examples
    --------
    >>> cal = Calibration(offset=100, gain=2.0)
    >>> cal.apply(np.array([[[110, 120]]], dtype=np.uint16)).tolist()
    [[[5.0, 10.0]]]
    >>> Calibration(gain=0)
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: gain must be a positive number (ADU per photon), got 0
    """

    offset: float | np.ndarray = 0.0
    gain: float | np.ndarray = 1.0
    read_variance: float | np.ndarray | None = None
    note: str | None = None

    def __post_init__(self):
        offset = _scalar_or_map(self.offset, "offset", "camera ADU")
        gain = _scalar_or_map(self.gain, "gain", "ADU per photon")
        if not np.all(np.asarray(gain) > 0):
            got = f"{gain:g}" if np.ndim(gain) == 0 else "a map with values <= 0"
            raise InputError(f"gain must be a positive number (ADU per photon), got {got}")
        variance = self.read_variance
        if variance is not None:
            variance = _scalar_or_map(variance, "read_variance", "ADU^2")
            if not np.all(np.asarray(variance) >= 0):
                raise InputError("read_variance must be non-negative (ADU^2)")
        shapes = {np.shape(v) for v in (offset, gain, variance) if np.ndim(v) == 2}
        if len(shapes) > 1:
            raise InputError(f"the calibration maps have different shapes: {sorted(shapes)}")
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "gain", gain)
        object.__setattr__(self, "read_variance", variance)

    @property
    def is_identity(self) -> bool:
        """True when the frames are already in photons (offset 0, gain 1)."""
        return _is_number(self.offset) and _is_number(self.gain) and self.offset == 0 and self.gain == 1

    @property
    def map_shape(self) -> tuple[int, int] | None:
        """Shape of the per-pixel maps, None when every value is a scalar."""
        for v in (self.offset, self.gain, self.read_variance):
            if np.ndim(v) == 2:
                return tuple(np.shape(v))
        return None

    @property
    def photon_read_variance(self):
        """Read-noise variance in photons^2 (None when not given)."""
        return None if self.read_variance is None else self.read_variance / np.square(self.gain)

    def apply(self, frames, *, dtype=np.float64) -> np.ndarray:
        """``(frames - offset) / gain`` computed in ``dtype`` (float64 unless a method asks for float32)."""
        return (np.asarray(frames, dtype=dtype) - self.offset) / self.gain

    def window(self, rows: slice, cols: slice) -> Calibration:
        """The calibration of a window of the frame (per-pixel maps cut to it)."""
        if self.map_shape is None:
            return self

        def cut(v):
            return v[rows, cols] if np.ndim(v) == 2 else v

        return Calibration(offset=cut(self.offset), gain=cut(self.gain),
                           read_variance=None if self.read_variance is None else cut(self.read_variance),
                           note=self.note)

    def as_dict(self) -> dict:
        """JSON-friendly description (maps summarised by shape, min and max).

        Examples
        --------
        >>> Calibration(offset=100, gain=2).as_dict()
        {'offset': 100.0, 'gain': 2.0, 'read_variance': None}
        """
        def describe(v):
            if v is None or np.ndim(v) == 0:
                return None if v is None else float(v)
            return {"map": list(np.shape(v)), "min": float(np.min(v)), "max": float(np.max(v))}

        out = {"offset": describe(self.offset), "gain": describe(self.gain),
               "read_variance": describe(self.read_variance)}
        if self.note:
            out["calibration_note"] = self.note
        return out


@dataclass(eq=False)
class Acquisition:
    """Frames ``(T, H, W)`` with their calibration and pixel size; validated when made.

    Use :func:`as_acquisition` (any array or a path) or
    :func:`open_acquisition` (a TIFF file) rather than the constructor.

    Attributes
    ----------
    data : array (T, H0, W0)
        The raw frames as given (never modified; a memory map stays on disk).
    calibration : Calibration
    pixel_size_nm : float or None
        Pixel size recorded in the file, None when unknown.
    path : Path or None
        The file the frames came from.
    region : tuple (r0, r1, c0, c1)
        The window of ``data`` this acquisition shows (the whole frame
        unless made by :meth:`window`).
    pad : int
        Zero-valued (after calibration) pixels added on each side.

    Examples
    --------
    >>> frames = np.random.default_rng(0).poisson(20, size=(10, 8, 8)).astype(np.uint16) + 100
    >>> acq = as_acquisition(frames, calibration=Calibration(offset=100))
    >>> acq.shape, acq.n_frames
    ((10, 8, 8), 10)
    >>> bool(np.allclose(acq.mean, frames.mean(axis=0) - 100))
    True
    """

    data: object
    calibration: Calibration = field(default_factory=Calibration)
    pixel_size_nm: float | None = None
    path: Path | None = None
    region: tuple[int, int, int, int] | None = None
    pad: int = 0
    finite_checked: bool = False
    needs_fluctuations: bool = False
    _mean: np.ndarray | None = field(default=None, repr=False)
    _constant: bool | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.region is None:
            _, h, w = self.data.shape
            self.region = (0, h, 0, w)
        self.ndim = 3

    def __getstate__(self):
        # A stack read from a file travels as its path (a task on a cluster worker reopens it),
        # never as its pixels: pickling a memory map would copy the whole stack.
        state = self.__dict__.copy()
        if self.path is not None and type(self.data) is not np.ndarray:
            state["data"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.data is None:
            self.data = read_source(self.path).data

    # -- shape ---------------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """``(frames, rows, columns)`` as the methods see them (window and padding applied)."""
        r0, r1, c0, c1 = self.region
        return (int(self.data.shape[0]), r1 - r0 + 2 * self.pad, c1 - c0 + 2 * self.pad)

    @property
    def n_frames(self) -> int:
        return self.shape[0]

    def __len__(self) -> int:
        return self.n_frames

    @property
    def frame_shape(self) -> tuple[int, int]:
        return self.shape[1:]

    @property
    def dtype(self) -> np.dtype:
        """The raw frames' dtype (what the file holds)."""
        return np.dtype(self.data.dtype)

    # -- checks --------------------------------------------------------------------------------------------
    def require(self, method: str, *, min_frames: int = 1, fluctuations: bool = False) -> Acquisition:
        """Refuse a stack with fewer than ``min_frames`` frames for ``method`` (returns ``self``).

        With ``fluctuations`` every later complete pass (:meth:`chunks`,
        :attr:`mean`) also refuses a stack that is constant in time.

        Examples
        --------
        >>> as_acquisition(np.zeros((1, 8, 8))).require("COL0RME", min_frames=2)
        Traceback (most recent call last):
        ...
        pointillist.errors.InputError: COL0RME needs at least 2 frames, the stack has 1
        """
        if self.n_frames < min_frames:
            raise InputError(f"{method} needs at least {min_frames} frames, the stack has {self.n_frames}")
        self.needs_fluctuations = self.needs_fluctuations or fluctuations
        if fluctuations and self._constant:
            raise InputError("the stack is constant in time: there are no fluctuations to analyse")
        return self

    def _read(self, frames, dtype=np.float64) -> np.ndarray:
        """Calibrated frames ``frames`` (a slice or index array) of the window, padded."""
        r0, r1, c0, c1 = self.region
        raw = np.asarray(self.data[frames, r0:r1, c0:c1])
        if not self.finite_checked and raw.dtype.kind == "f" and not np.all(np.isfinite(raw)):
            raise InputError("the stack contains NaN or infinite values")
        block = self.calibration.apply(raw, dtype=dtype)
        if self.pad:
            p = self.pad
            block = np.pad(block, ((0, 0), (p, p), (p, p)))
        return block

    def __getitem__(self, frames) -> np.ndarray:
        """Calibrated float64 frames: ``acq[a:b]`` is ``(b - a, H, W)`` in photons."""
        if isinstance(frames, tuple):
            raise InputError("index an acquisition by frames only (acq[a:b]); use window() for a region")
        return self._read(frames)

    def frames(self, start: int, stop: int, *, dtype=np.float64) -> np.ndarray:
        """Calibrated frames ``start:stop`` in ``dtype`` (float32 for networks): ``acq[start:stop]`` otherwise.

        Examples
        --------
        >>> as_acquisition(np.ones((4, 6, 6)), offset=1.0).frames(1, 3, dtype=np.float32).dtype
        dtype('float32')
        """
        return self._read(slice(start, stop), dtype=dtype)

    def chunks(self, size: int = DEFAULT_CHUNK, *, dtype=np.float64):
        """Yield ``(start, frames)`` over the whole stack, calibrated, ``size`` frames at a time.

        A complete pass also records the mean frame (:attr:`mean`); when a
        method asked for fluctuations (:meth:`require`) it ends with an
        ``InputError`` if every frame was equal to the first.
        """
        total = np.zeros(self.frame_shape, dtype=np.float64)
        first, constant = None, True
        for start in range(0, self.n_frames, size):
            block = self._read(slice(start, start + size), dtype=dtype)
            if first is None:
                first = block[0].copy()
            constant = constant and bool(np.all(block == first))
            total += block.sum(axis=0, dtype=np.float64)
            yield start, block
        self._mean = total / self.n_frames
        self._constant = constant
        if self.needs_fluctuations and constant:
            raise InputError("the stack is constant in time: there are no fluctuations to analyse")

    @property
    def mean(self) -> np.ndarray:
        """The calibrated mean frame (float64), from the last complete pass or a pass made now."""
        if self._mean is None:
            for _ in self.chunks():
                pass
        return self._mean

    # -- views ---------------------------------------------------------------------------------------------
    def window(self, r0: int, r1: int, c0: int, c1: int) -> Acquisition:
        """The frames' rows ``r0:r1`` and columns ``c0:c1`` (lazy: read from the same data, not re-validated)."""
        if self.pad:
            raise InputError("cannot cut a window out of a padded acquisition")
        a0, _, b0, _ = self.region
        rows, cols = slice(r0, r1), slice(c0, c1)
        cal = self.calibration.window(rows, cols) if self.calibration.map_shape is not None else self.calibration
        return Acquisition(self.data, calibration=cal, pixel_size_nm=self.pixel_size_nm, path=self.path,
                           region=(a0 + r0, a0 + r1, b0 + c0, b0 + c1), finite_checked=self.finite_checked)

    def padded(self, pad: int) -> Acquisition:
        """The frames with ``pad`` pixels of zero (after calibration) on each side."""
        return Acquisition(self.data, calibration=self.calibration, pixel_size_nm=self.pixel_size_nm,
                           path=self.path, region=self.region, pad=self.pad + int(pad),
                           finite_checked=self.finite_checked)

    # -- record --------------------------------------------------------------------------------------------
    def input_record(self) -> dict:
        """What ``run.json`` says of the input: path and sha256 (files), shape, dtype, pixel size in the file."""
        from .io.hashing import file_sha256

        hashed = self.path is not None and Path(self.path).is_file()  # a Zarr store is a folder: not hashed
        out = {"path": None if self.path is None else str(self.path),
               "sha256": file_sha256(self.path) if hashed else None,
               "shape": list(self.data.shape), "dtype": str(self.dtype),
               "pixel_size_nm_in_file": self.pixel_size_nm}
        return out


def check_array(data, name: str, *, ndims: tuple[int, ...] = (2, 3), min_side: int = 1):
    """The shape and dtype checks every image or stack input goes through; returns ``data`` (as an array when
    it was not array-like). A 2-D input is one image; 3-D is (frames, rows, columns).

    Examples
    --------
    >>> check_array(np.zeros((2, 5, 5)), "the stack").shape
    (2, 5, 5)
    >>> check_array(np.zeros(5), "image", ndims=(2,))
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: image must be 2-D (rows, columns), got shape (5,)
    """
    if not (hasattr(data, "shape") and hasattr(data, "__getitem__") and hasattr(data, "dtype")):
        data = np.asarray(data)
    if data.ndim not in ndims:
        expected = " or ".join({2: "2-D (rows, columns)", 3: "3-D (frames, rows, columns)"}[d] for d in ndims)
        raise InputError(f"{name} must be {expected}, got shape {tuple(data.shape)}")
    if 0 in data.shape:
        raise InputError(f"{name} is empty (shape {tuple(data.shape)})")
    h, w = data.shape[-2:]
    if h < min_side or w < min_side:
        raise InputError(f"frames of {h} x {w} pixels are too small (at least {min_side} x {min_side})")
    if np.dtype(data.dtype).kind not in "biuf":
        raise InputError(f"{name} must hold real numbers, got dtype {data.dtype}")
    return data


def _check_frames(data, name: str = "the stack"):
    """:func:`check_array` for frames: a 2-D image gets a frame axis."""
    data = check_array(data, name, min_side=MIN_FRAME_SIDE)
    return np.asarray(data)[None] if data.ndim == 2 else data


def as_acquisition(stack, *, calibration: Calibration | None = None, offset=None, gain=None,
                   pixel_size_nm: float | None = None) -> Acquisition:
    """Turn what a user passes (an array, a path, an :class:`Acquisition`) into an :class:`Acquisition`.

    Parameters
    ----------
    stack : array (T, H, W) or (H, W), path, or Acquisition
        Frames in camera units (ADU) or photons.
    calibration : Calibration, optional
        Camera calibration; or give ``offset`` / ``gain`` (never both ways).
    offset, gain : float or ndarray, optional
        Shorthand for ``Calibration(offset, gain)``.
    pixel_size_nm : float, optional
        Pixel size to record when the frames come without one.

    Returns
    -------
    Acquisition
        Validated (dimensions, dtype, frame size); the values are checked
        during the first pass over them.

    Examples
    --------
    >>> acq = as_acquisition(np.ones((3, 6, 6)), offset=1.0)
    >>> float(acq[0:1].max())
    0.0
    >>> as_acquisition(np.ones((3, 2, 6)))
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: frames of 2 x 6 pixels are too small (at least 4 x 4)
    """
    if calibration is not None and (offset is not None or gain is not None):
        raise InputError("give the camera calibration once: either calibration= or offset=/gain=")
    if calibration is None and (offset is not None or gain is not None):
        calibration = Calibration(offset=0.0 if offset is None else offset, gain=1.0 if gain is None else gain)
    if calibration is not None and not isinstance(calibration, Calibration):
        raise InputError("calibration must be a pointillist.acquisition.Calibration")
    if isinstance(stack, Acquisition):
        if calibration is not None and not calibration.is_identity:
            if not stack.calibration.is_identity:
                raise InputError("the acquisition already carries a calibration; do not give another")
            return Acquisition(stack.data, calibration=calibration, pixel_size_nm=stack.pixel_size_nm,
                               path=stack.path, region=stack.region, pad=stack.pad,
                               finite_checked=stack.finite_checked)
        return stack
    if isinstance(stack, (str, os.PathLike)):
        return open_acquisition(stack, calibration=calibration)
    data = _check_frames(stack)
    acq = Acquisition(data, calibration=calibration or Calibration(), pixel_size_nm=pixel_size_nm)
    _check_calibration_shape(acq)
    return acq


def read_source(path, mmap: bool = True):
    """The frames at ``path`` as a :class:`~pointillist.io.Stack` (a 2-D image is one frame), unchecked: a
    Zarr / OME-Zarr store, or a TIFF file."""
    from .io import read_stack
    from .io.ome_zarr import is_zarr, read_zarr

    return read_zarr(path) if is_zarr(path) else read_stack(path, mmap=mmap)


def open_acquisition(path, *, calibration: Calibration | None = None, mmap: bool = True) -> Acquisition:
    """Open a TIFF / OME-TIFF stack or a Zarr / OME-Zarr store lazily as an :class:`Acquisition`.

    A TIFF is memory-mapped when the file allows, read through tifffile's
    Zarr view when it is large and compressed, and refused by
    :func:`pointillist.io.read_stack` when unreadable, empty or non-finite
    (with a message naming the file). A Zarr store is read chunk by chunk
    (:func:`pointillist.io.ome_zarr.read_zarr`); its values are checked
    during the first pass over them.

    Examples
    --------
    >>> import tempfile
    >>> from pointillist.io import write_tiff
    >>> path = write_tiff(Path(tempfile.mkdtemp()) / "s.tif", np.ones((3, 8, 8)), pixel_size_nm=100)
    >>> acq = open_acquisition(path)
    >>> acq.shape, acq.pixel_size_nm
    ((3, 8, 8), 100.0)
    """
    from .io.ome_zarr import is_zarr

    stack = read_source(path, mmap=mmap)
    data = _check_frames(stack.data, name=str(path))
    acq = Acquisition(data, calibration=calibration or Calibration(), pixel_size_nm=stack.pixel_size_nm,
                      path=Path(path), finite_checked=not is_zarr(path))
    _check_calibration_shape(acq)
    return acq


def _check_calibration_shape(acq: Acquisition) -> None:
    shape = acq.calibration.map_shape
    if shape is not None and tuple(shape) != tuple(acq.frame_shape):
        raise InputError(f"the calibration maps are {shape[0]} x {shape[1]} but the frames are "
                         f"{acq.frame_shape[0]} x {acq.frame_shape[1]} pixels")
