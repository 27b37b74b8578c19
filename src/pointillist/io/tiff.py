"""Read and write camera stacks and reconstructions as TIFF.

Reading accepts ImageJ hyperstacks, OME-TIFF and plain multi-page TIFFs and
returns a :class:`Stack` of shape ``(frames, rows, columns)`` with the pixel
size in nm when the file records one. Uncompressed, contiguous files are
memory-mapped so that stacks larger than memory can be read frame by frame;
every whole-stack pass here (finiteness, min/max, conversion to photons)
walks the frames in chunks for that reason.

Writing produces ImageJ-compatible TIFFs (Fiji shows the pixel size) with no
timestamps, so the same array always gives the same bytes.
"""

from __future__ import annotations

import logging
import math
import os
import struct
import sys
import weakref
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import tifffile

from ..errors import InputError
from .atomic import atomic_output

__all__ = ["Stack", "read_stack", "to_photons", "write_tiff", "tiff_info"]

# Whole-stack passes touch at most this many bytes at once.
_CHUNK_BYTES = 64 * 2**20

# Length units (as written by ImageJ, OME and people) in nm.
_UNIT_NM = {
    "nm": 1.0,
    "nanometer": 1.0,
    "nanometre": 1.0,
    "um": 1e3,
    "µm": 1e3,  # micro sign U+00B5
    "μm": 1e3,  # Greek mu U+03BC
    "micron": 1e3,
    "microns": 1e3,
    "micrometer": 1e3,
    "micrometre": 1e3,
    "mm": 1e6,
    "millimeter": 1e6,
    "millimetre": 1e6,
    "cm": 1e7,
    "centimeter": 1e7,
    "centimetre": 1e7,
    "m": 1e9,
    "meter": 1e9,
    "metre": 1e9,
    "inch": 2.54e7,
}

# TIFF ResolutionUnit values that describe a physical length. INCH (the TIFF
# default) is left out on purpose: desktop software writes 72 or 96 dpi into
# every file, which says nothing about the sample.
_RESUNIT_NM = {3: 1e7, 4: 1e6, 5: 1e3}

# Pixel sizes write_tiff records: what the TIFF resolution rational (32-bit numerator and denominator,
# in pixels per micron) holds with at least six significant digits. No microscope comes near either end.
_PIXEL_SIZE_RANGE_NM = (1e-3, 1e9)

#: a TIFF that cannot be memory-mapped (compressed, tiled) and is larger than this is read lazily
LAZY_TIFF_BYTES = 1 << 30
#: images larger than this are written as BigTIFF (ImageJ's TIFF stops at 4 GB)
BIGTIFF_BYTES = (1 << 32) - (1 << 25)

_WRITE_DTYPES = (np.dtype(np.float32), np.dtype(np.uint16), np.dtype(np.uint8))


@dataclass(frozen=True, eq=False)
class Stack:
    """Frames read from a TIFF file.

    Attributes
    ----------
    data : ndarray, shape (T, H, W)
        Pixel values in the file's dtype (e.g. uint16 ADU). A read-only
        ``numpy.memmap`` when the file allowed it: copy before changing it.
        A single 2-D image has ``T = 1``.
    pixel_size_nm : float or None
        Pixel size from the file's metadata, None when the file has none.
    path : pathlib.Path
        The file read.
    axes : str
        tifffile's letters for the file's non-singleton axes, e.g. ``"TYX"``,
        ``"ZYX"``, ``"QYX"`` or ``"YX"``. Whatever the leading letter, that
        axis is read as frames.

    Examples
    --------
    >>> import tempfile
    >>> path = write_tiff(Path(tempfile.mkdtemp()) / "s.tif", np.zeros((3, 4, 5)), pixel_size_nm=100)
    >>> stack = read_stack(path)
    >>> stack.shape, stack.pixel_size_nm, stack.n_frames
    ((3, 4, 5), 100.0, 3)
    """

    data: np.ndarray
    pixel_size_nm: float | None
    path: Path
    axes: str = ""

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(frames, rows, columns)``."""
        return tuple(self.data.shape)

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.data.shape[0])

    @property
    def is_memmap(self) -> bool:
        """Whether ``data`` is memory-mapped from the file."""
        return isinstance(self.data, np.memmap)


def _frame_chunks(data: np.ndarray) -> Iterator[slice]:
    """Slices along axis 0 covering at most ``_CHUNK_BYTES`` each (at least one frame)."""
    n = data.shape[0]
    step = max(1, _CHUNK_BYTES // max(1, data[:1].nbytes))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def _unit_to_nm(unit) -> float | None:
    if not isinstance(unit, str):
        return None
    # ImageJ stores the micro sign escaped, as the six characters "\u00B5".
    key = unit.strip().replace("\\u00B5", "µ").replace("\\u00b5", "µ").lower()
    return _UNIT_NM.get(key)


def _square(sx: float, sy: float, source: str, path: Path) -> float:
    if not math.isclose(sx, sy, rel_tol=1e-6):
        raise InputError(
            f"{path} has non-square pixels ({sx:g} x {sy:g} nm, from {source}); "
            "pointillist needs square camera pixels"
        )
    return sx


def _ome_pixel_size(tif: tifffile.TiffFile, path: Path) -> float | None:
    try:
        root = ET.fromstring(tif.ome_metadata)
    except ET.ParseError as exc:
        raise InputError(f"{path} has OME metadata that is not valid XML: {exc}") from exc
    pixels = root.find(".//{*}Pixels")
    if pixels is None:
        return None
    sizes = []
    for ax in ("X", "Y"):
        value = pixels.get(f"PhysicalSize{ax}")
        if value is None:
            return None
        # The OME schema's default unit is the micrometre.
        scale = _unit_to_nm(pixels.get(f"PhysicalSize{ax}Unit", "µm"))
        try:
            # Decimal text times an exact factor: "0.1075" um gives 107.5 nm, not 107.49999999999999.
            size = float(Fraction(value.strip()) * Fraction(scale)) if scale is not None else None
        except (ValueError, ZeroDivisionError):
            size = None
        if size is None or not (math.isfinite(size) and size > 0):
            return None
        sizes.append(size)
    return _square(sizes[0], sizes[1], "OME PhysicalSizeX/Y", path)


def _resolution_sizes(page, scale_nm: float) -> tuple[float, float] | None:
    """Pixel width and height in nm from the resolution tags, or None if absent or zero."""
    out = []
    for code in (282, 283):  # XResolution, YResolution: pixels per unit
        tag = page.tags.get(code)
        if tag is None:
            return None
        num, den = tag.value if isinstance(tag.value, tuple) else (tag.value, 1)
        if not num or not den:
            return None
        # den * scale / num, in this order, keeps round sizes exact (1e7 / 1e5 == 100.0).
        out.append(den * scale_nm / num)
    return out[0], out[1]


def _pixel_size_nm(tif: tifffile.TiffFile, path: Path) -> float | None:
    """Pixel size from OME, then ImageJ, then TIFF resolution tags; None if none."""
    if tif.is_ome and tif.ome_metadata:
        size = _ome_pixel_size(tif, path)
        if size is not None:
            return size
    page = tif.pages.first
    if tif.is_imagej:
        # ImageJ keeps the unit in its description and writes
        # ResolutionUnit NONE; no unit means an uncalibrated image.
        scale = _unit_to_nm((tif.imagej_metadata or {}).get("unit"))
        source = "ImageJ unit and resolution tags"
    else:
        scale = _RESUNIT_NM.get(int(page.tags.valueof(296, default=2)))
        source = "TIFF resolution tags"
    sizes = None if scale is None else _resolution_sizes(page, scale)
    if sizes is None:
        return None
    return _square(sizes[0], sizes[1], source, path)


def _open(path, mmap: bool) -> Stack:
    """Read a stack without the finiteness check (shared by read_stack and tiff_info)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a TIFF file")
    try:
        with _held_tifffile_log(), tifffile.TiffFile(path) as tif:
            _check_complete(tif, path)
            return _read_open(tif, path, mmap)
    except InputError:
        raise
    except (tifffile.TiffFileError, ValueError, struct.error, EOFError, OSError) as exc:
        raise InputError(f"{path} is not a readable TIFF image: {exc or type(exc).__name__}{_damage_hint(path)}") from exc


def _damage_hint(path: Path) -> str:
    """For a file that starts like a TIFF but cannot be read: its size, as a hint that it is cut short."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
        size = path.stat().st_size
    except OSError:
        return ""
    if head not in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        return ""
    return f" (the file starts like a TIFF but has only {size} bytes: truncated or damaged)"


class _Hold(logging.Filter):
    """Keeps the records that reach the logger it is attached to, and stops them there."""

    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return False


@contextmanager
def _held_tifffile_log():
    """Hold tifffile's log lines while a file is read: passed on if it is read, dropped if it is refused.

    tifffile logs what it notices about a damaged file (an IFD offset past
    the end, metadata it cannot use) and carries on; when pointillist then
    refuses the file, its one-line InputError says what is wrong instead.
    """
    logger = logging.getLogger("tifffile")
    hold = _Hold()
    logger.addFilter(hold)
    try:
        yield
    finally:
        logger.removeFilter(hold)
    for record in hold.records:
        logger.handle(record)


def _size_text(n: int) -> str:
    """Bytes as people read them: 835 bytes, 12.4 kB, 3.2 MB, 1.5 GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _sizes_text(need: int, have: int) -> tuple[str, str]:
    """Two sizes as text, in bytes when rounding would make them look equal."""
    a, b = _size_text(need), _size_text(have)
    return (a, b) if a != b else (f"{need} bytes", f"{have} bytes")


def _declared_planes(tif: tifffile.TiffFile) -> tuple[int, str, str] | None:
    """Number of 2-D planes the file's own metadata announces: ``(count, source, noun)``, or None if it says none."""
    first = tif.pages.first
    if tif.is_imagej and tif.imagej_metadata:
        meta = tif.imagej_metadata
        try:
            frames, slices, channels = (int(meta.get(k, 1)) for k in ("frames", "slices", "channels"))
            images = int(meta.get("images", 1))
        except (TypeError, ValueError):
            return None
        if channels > 1 and first.samplesperpixel == channels:
            channels = 1  # RGB samples declared as channels
        count = frames * slices * channels
        if count <= 1:
            count = images
        noun = "frames" if count == frames or (slices == channels == 1 and count == images) else "images"
        return (count, "ImageJ metadata", noun) if count > 1 else None
    if tif.is_ome and tif.ome_metadata:
        try:
            root = ET.fromstring(tif.ome_metadata)
        except ET.ParseError:
            return None  # reported by the pixel-size reader
        all_pixels = root.findall(".//{*}Image/{*}Pixels")
        if len(all_pixels) != 1 or root.find(".//{*}TiffData/{*}UUID[@FileName]") is not None:
            return None  # several images, or planes in other files: tifffile's series decide
        pixels = all_pixels[0]
        if any(int(c.get("SamplesPerPixel", "1")) > 1 for c in pixels.findall("{*}Channel")):
            return None
        try:
            count = math.prod(int(pixels.get(f"Size{a}", "1")) for a in "TZC")
        except ValueError:
            return None
        return (count, "OME metadata (SizeT x SizeZ x SizeC)", "planes") if count > 1 else None
    if tif.is_shaped and tif.shaped_metadata and len(tif.shaped_metadata) == 1:
        shape = tif.shaped_metadata[0].get("shape")
        plane = math.prod(first.shape)
        if isinstance(shape, (list, tuple)) and plane and math.prod(shape) % plane == 0:
            count = math.prod(shape) // plane
            return (count, f"tifffile metadata (shape {tuple(shape)})", "planes") if count > 1 else None
    return None


# Bytes per value of the TIFF field types (TIFF 6.0 and BigTIFF).
_TYPE_BYTES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}


def _raw_ifd(tif: tifffile.TiffFile, page) -> tuple[int, tuple[int, int] | None]:
    """Read ``page``'s IFD as stored: its 'next IFD' pointer (0 at the end of the chain) and the first
    tag whose value lies (partly) past the end of the file, as ``(tag code, end byte)``, or None.
    """
    fmt, fh = tif.tiff, tif.filehandle
    fh.seek(page.offset)
    (n_tags,) = struct.unpack(fmt.tagnoformat, fh.read(fmt.tagnosize))
    raw = fh.read(n_tags * fmt.tagsize + fmt.offsetsize)
    if len(raw) < n_tags * fmt.tagsize + fmt.offsetsize:
        return fh.size, None  # the tag list itself runs past the end
    overrun = None
    for i in range(n_tags):
        code, dtype, count, value = struct.unpack(fmt.tagheaderformat, raw[i * fmt.tagsize : (i + 1) * fmt.tagsize])
        nbytes = count * _TYPE_BYTES.get(dtype, 0)
        if nbytes > fmt.tagoffsetthreshold:
            (offset,) = struct.unpack(fmt.offsetformat, value[: fmt.offsetsize])
            if offset + nbytes > fh.size:
                overrun = (code, offset + nbytes)
                break
    (following,) = struct.unpack(fmt.offsetformat, raw[-fmt.offsetsize :])
    return int(following), overrun


def _check_complete(tif: tifffile.TiffFile, path: Path) -> None:
    """Refuse a truncated or inconsistent file instead of reading what is left of it.

    Three checks, from the most to the least telling: the number of planes
    the metadata (ImageJ, OME, tifffile) announces against those in the
    file; every page's pixel data inside the file; the chain of pages
    ending properly rather than pointing past the end of the file.
    """
    pages = tif.pages
    n_pages = len(pages)
    if n_pages == 0:
        return  # _read_open says "no images"
    size = tif.filehandle.size
    first = pages.first
    plane = first.nbytes
    declared = _declared_planes(tif)
    if declared is not None:
        count, source, noun = declared
        contiguous = first.is_final and len(first.dataoffsets) > 0 and plane > 0
        if contiguous and (tif.is_imagej or tif.is_shaped) and (n_pages < count or tif.is_imagej):
            # ImageJ and tifffile store the planes one after the other from the first page's data on.
            start = first.dataoffsets[0]
            need = start + count * plane
            readable = min(count, max(0, size - start) // plane)
            need_text, have_text = _sizes_text(need, size)
            detail = f"the file ends at {have_text}, the data need {need_text}"
        else:
            need = None
            readable = n_pages
            detail = f"the file holds {n_pages} pages"
        if readable < count:
            raise InputError(
                f"{path} is truncated or damaged: its {source} says {count} {noun} "
                f"but only {readable} can be read ({detail})"
            )
    series = tif.series[0] if len(tif.series) == 1 else None
    if series is not None and series.size == 0:
        pass  # _read_open says "empty stack"
    elif series is not None and series.dataoffset is not None:
        # One contiguous block (what is memory-mapped): no need to visit every page.
        end = series.dataoffset + series.nbytes
        if end > size:
            need, have = _sizes_text(end, size)
            raise InputError(f"{path} is truncated or damaged: its pixel data need {need} but the file ends at {have}")
    else:
        for index in range(n_pages):
            page = pages[index]
            for offset, nbytes in zip(page.dataoffsets, page.databytecounts):
                if nbytes and offset + nbytes > size:
                    need, have = _sizes_text(offset + nbytes, size)
                    raise InputError(
                        f"{path} is truncated or damaged: the pixel data of page {index + 1} of {n_pages} "
                        f"run to {need} but the file ends at {have}"
                    )
    for page in (first, pages[n_pages - 1]):
        _, overrun = _raw_ifd(tif, page)
        if overrun is not None:
            code, end = overrun
            name = tifffile.TIFF.TAGS.get(code, "unknown")
            raise InputError(
                f"{path} is truncated or damaged: the value of TIFF tag {code} ({name}) of page "
                f"{page.index + 1} runs to byte {end} but the file ends at byte {size}"
            )
    problem = _ifd_chain_problem(tif)
    if problem is not None:
        pages_text = "1 page" if n_pages == 1 else f"{n_pages} pages"
        raise InputError(f"{path} is truncated or damaged: {problem}; only {pages_text} can be read")


def _ifd_chain_problem(tif: tifffile.TiffFile) -> str | None:
    """Walk the chain of pages (IFDs) as stored; say what breaks it, or None when it ends properly.

    tifffile stops quietly (with a log line) at a page it cannot read;
    this walk finds out whether the chain really ended there.
    """
    fmt, fh = tif.tiff, tif.filehandle
    size = fh.size
    offset = tif.pages.first.offset
    seen = set()
    while offset:
        number = len(seen) + 1
        if offset in seen:
            return f"page {number - 1} points back to an earlier page"
        if offset + fmt.tagnosize > size:
            return f"page {number - 1} points to a next page at byte {offset}, past the end of the file ({size} bytes)"
        seen.add(offset)
        fh.seek(offset)
        (n_tags,) = struct.unpack(fmt.tagnoformat, fh.read(fmt.tagnosize))
        end = offset + fmt.tagnosize + n_tags * fmt.tagsize + fmt.offsetsize
        if end > size:
            return f"the tag list of page {number} runs to byte {end} but the file ends at byte {size}"
        fh.seek(end - fmt.offsetsize)
        (offset,) = struct.unpack(fmt.offsetformat, fh.read(fmt.offsetsize))
    return None


def _read_open(tif: tifffile.TiffFile, path: Path, mmap: bool) -> Stack:
    if not tif.series or len(tif.pages) == 0:
        raise InputError(f"{path} contains no images (0 pages)")
    if len(tif.series) > 1:
        shapes = ", ".join(str(tuple(s.shape)) for s in tif.series)
        raise InputError(
            f"{path} holds {len(tif.series)} image series of shapes {shapes}; "
            "pointillist reads files with a single stack (save one series per file)"
        )
    series = tif.series[0]
    if series.keyframe.samplesperpixel > 1:
        raise InputError(
            f"{path} has {series.keyframe.samplesperpixel} samples per pixel (RGB or multi-sample); "
            "pointillist reads single-channel grayscale images (convert to 8/16/32-bit grayscale)"
        )
    shape, axes = tuple(series.shape), series.axes
    dtype = np.dtype(series.dtype)
    if 0 in shape or series.size == 0:
        raise InputError(f"{path} holds an empty stack of shape {shape}")
    if dtype.kind == "c":
        raise InputError(f"{path} holds complex data ({dtype}); pointillist reads real-valued images")
    if dtype.kind == "b":
        raise InputError(f"{path} holds boolean data; pointillist reads intensity images (integer or float)")
    if dtype.kind not in "uif":
        raise InputError(f"{path} holds data of unsupported dtype {dtype}")
    keep = [i for i, n in enumerate(shape) if n != 1 or i >= len(shape) - 2]
    core = tuple(shape[i] for i in keep)
    core_axes = "".join(axes[i] for i in keep)
    if len(core) > 3:
        raise InputError(
            f"{path} has shape {core} with axes {core_axes!r}; pointillist reads a 2-D image "
            "or a 3-D stack (frames, rows, columns): split channels or z-planes into separate files"
        )
    shape3 = (1,) * (3 - len(core)) + core
    native = tif.byteorder == ("<" if sys.byteorder == "little" else ">")
    if mmap and native and series.dataoffset is not None:
        data = np.memmap(path, dtype=dtype, mode="r", offset=series.dataoffset, shape=shape3, order="C")
    elif mmap and len(core) == 3 and series.size * dtype.itemsize > LAZY_TIFF_BYTES:
        # compressed or tiled: read through tifffile's Zarr view, chunk by chunk, never whole
        import zarr

        from .ome_zarr import _Frames

        store = tifffile.imread(path, aszarr=True)
        data = _Frames(zarr.open_array(store, mode="r"), keep)
        weakref.finalize(data, store.close)  # the store holds the file open while the frames are in use
    else:
        data = np.asarray(series.asarray()).reshape(shape3)
    return Stack(data=data, pixel_size_nm=_pixel_size_nm(tif, path), path=path, axes=core_axes)


def _nonfinite_frames(data: np.ndarray) -> np.ndarray:
    """Indices of frames holding NaN or infinity, scanned chunk by chunk."""
    if data.dtype.kind != "f":
        return np.zeros(0, np.int64)
    bad = []
    for sl in _frame_chunks(data):
        chunk = np.asarray(data[sl])
        flags = ~np.isfinite(chunk).reshape(chunk.shape[0], -1).all(axis=1)
        bad.append(np.flatnonzero(flags) + sl.start)
    return np.concatenate(bad)


def read_stack(path: str | os.PathLike, *, mmap: bool = True) -> Stack:
    """Read a TIFF image or stack as ``(frames, rows, columns)``.

    Parameters
    ----------
    path : str or path-like
        An ImageJ hyperstack, OME-TIFF or plain (multi-page) TIFF holding a
        2-D image or a 3-D stack; singleton axes are dropped. Data types
        uint8, uint16, int16, int32, float32 and float64 are kept as they are.
    mmap : bool, default True
        Memory-map the pixel data when the file is uncompressed, contiguous
        and in native byte order; otherwise (or if False) read it into memory.

    Returns
    -------
    Stack
        ``data`` of shape ``(T, H, W)`` and ``pixel_size_nm`` from OME,
        ImageJ or TIFF resolution metadata (None when absent or in inches).

    Raises
    ------
    InputError
        If the file is missing, not a TIFF, empty, RGB, has more than three
        non-singleton axes, holds complex or boolean data, or float data with
        NaN or infinite values; or if it is truncated or damaged (fewer
        planes than its ImageJ, OME or tifffile metadata announce, pixel
        data or tags past the end of the file, a broken chain of pages).

    Examples
    --------
    >>> import tempfile
    >>> frames = np.arange(24, dtype=np.uint16).reshape(2, 3, 4)
    >>> path = write_tiff(Path(tempfile.mkdtemp()) / "cam.tif", frames, dtype=np.uint16, pixel_size_nm=107.0)
    >>> stack = read_stack(path)
    >>> stack.data.shape, stack.data.dtype, stack.pixel_size_nm, stack.is_memmap
    ((2, 3, 4), dtype('uint16'), 107.0, True)
    """
    stack = _open(path, mmap)
    check_finite_frames(stack.data, stack.path)
    return stack


def check_finite_frames(data, source) -> None:
    """Refuse frames ``(T, H, W)`` holding NaN or infinity, naming ``source`` (a file, a napari layer).

    Examples
    --------
    >>> check_finite_frames(np.array([[[0.0]], [[np.inf]]]), "s.tif")
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: s.tif has NaN or infinite values in 1 of 2 frames (first: frame 1, 0-based); \
fix or drop those frames before reconstruction
    """
    bad = _nonfinite_frames(data)
    if bad.size:
        raise InputError(
            f"{source} has NaN or infinite values in {bad.size} of {len(data)} frames "
            f"(first: frame {int(bad[0])}, 0-based); fix or drop those frames before reconstruction"
        )


def _check_real(data: np.ndarray, name: str) -> None:
    if data.dtype.kind not in "uif":
        raise InputError(f"{name} must hold real numbers (integer or float), got dtype {data.dtype}")


def _calibration(value, name: str, frame_shape: tuple[int, ...]) -> np.ndarray | float:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim and arr.shape != frame_shape:
        raise InputError(f"{name} must be a number or an array of one frame's shape {frame_shape}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite, got {value if not arr.ndim else 'an array with NaN or infinity'}")
    return float(arr) if not arr.ndim else arr


def to_photons(data, *, offset=0.0, gain=1.0) -> np.ndarray:
    """Convert camera counts to photons: ``(data - offset) / gain``.

    The calibration is explicit: pointillist never estimates offset or gain
    behind your back. Works frame chunk by frame chunk, so ``data`` may be a
    memory-mapped stack; the result is held in memory.

    Parameters
    ----------
    data : array_like, shape (H, W) or (T, H, W)
        Camera values in ADU.
    offset : float or ndarray of shape (H, W), default 0
        Camera offset (baseline) in ADU; a per-pixel map for sCMOS cameras.
    gain : float or ndarray of shape (H, W), default 1
        ADU per photon (positive).

    Returns
    -------
    ndarray of float32
        Same shape as ``data``.

    Examples
    --------
    >>> to_photons(np.array([[131, 141.35]]), offset=131, gain=2.07)
    array([[0., 5.]], dtype=float32)
    """
    data = np.asanyarray(data)
    _check_real(data, "data")
    if data.ndim not in (2, 3) or data.size == 0:
        raise InputError(f"data must be a non-empty 2-D image or 3-D stack, got shape {data.shape}")
    frame_shape = data.shape[-2:]
    offset = _calibration(offset, "offset", frame_shape)
    gain = _calibration(gain, "gain", frame_shape)
    if not np.all(np.asarray(gain) > 0):
        got = gain if np.ndim(gain) == 0 else "a map with values <= 0"
        raise InputError(f"gain must be positive (ADU per photon), got {got}")
    stack = data if data.ndim == 3 else data[np.newaxis]
    out = np.empty(stack.shape, np.float32)
    for sl in _frame_chunks(stack):
        out[sl] = (np.asarray(stack[sl], dtype=np.float64) - offset) / gain
    return out if data.ndim == 3 else out[0]


def _check_writable(image: np.ndarray, dtype: np.dtype) -> None:
    """Refuse values that ``dtype`` cannot hold exactly (never rescale silently)."""
    for sl in _frame_chunks(image):
        chunk = np.asarray(image[sl])
        if chunk.dtype.kind == "f" and not np.all(np.isfinite(chunk)):
            raise InputError("image contains NaN or infinite values; TIFFs written by pointillist must be finite")
        if dtype.kind == "f":
            if chunk.dtype.kind == "f" and np.max(np.abs(chunk)) > np.finfo(np.float32).max:
                raise InputError("image has values beyond the float32 range; rescale it explicitly first")
            continue
        info = np.iinfo(dtype)
        lo, hi = chunk.min(), chunk.max()
        if lo < info.min or hi > info.max:
            raise InputError(
                f"image values span [{lo}, {hi}], outside the {dtype} range [{info.min}, {info.max}]; "
                "clip or rescale explicitly, or write float32"
            )
        if chunk.dtype.kind == "f" and np.any(chunk != np.round(chunk)):
            raise InputError(f"image has non-integer values that {dtype} cannot hold; round explicitly, or write float32")


def _resolution_rational(pixel_size_nm: float) -> tuple[int, int]:
    """Pixels per micron as the TIFF RATIONAL ``(numerator, denominator)``, both in 1 .. 2**32 - 1.

    The closest such fraction to ``1000 / pixel_size_nm``: exact for sizes such as 100, 107.5 or 65 nm.

    Examples
    --------
    >>> _resolution_rational(100.0), _resolution_rational(107.5), _resolution_rational(1e9)
    ((10, 1), (400, 43), (1, 1000000))
    """
    top = 2**32 - 1
    value = Fraction(1000) / Fraction(pixel_size_nm)
    # The numerator is about value * denominator: cap the denominator so that it stays below 2**32.
    frac = value.limit_denominator(max(1, min(top, int(top / value))))
    num, den = max(1, min(top, frac.numerator)), frac.denominator
    return num, den


def write_tiff(
    path: str | os.PathLike,
    image,
    *,
    pixel_size_nm: float | None = None,
    overwrite: bool = False,
    dtype=np.float32,
    allow_nan: bool = False,
) -> Path:
    """Write a 2-D image or a 3-D stack as an ImageJ TIFF, atomically.

    Fiji opens the file with its pixel size (unit ``micron``, resolution
    tags) and :func:`read_stack` reads it back. The file carries no date or
    software tag, so the same array always gives the same bytes. The data
    are stored uncompressed and contiguous, so :func:`read_stack` can
    memory-map them.

    Parameters
    ----------
    path : str or path-like
        Destination; its folder must exist.
    image : array_like, shape (H, W) or (T, H, W)
        Values to write; 3-D arrays are written as T frames.
    pixel_size_nm : float, optional
        Pixel size to record, in nm: 1e-3 to 1e9 (what the TIFF resolution
        tags hold).
    overwrite : bool, default False
        Replace an existing file.
    dtype : {float32, uint16, uint8}, default float32
        Stored type. Integer types are for camera-like stacks: the values
        must already be integers in range (nothing is rounded or clipped).
    allow_nan : bool, default False
        Let float32 images hold NaN, for maps that are undefined in places
        (a depth map off the support); infinities are still refused.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> path = write_tiff(Path(tempfile.mkdtemp()) / "img.tif", np.eye(3), pixel_size_nm=20.0)
    >>> read_stack(path).data[0]
    memmap([[1., 0., 0.],
            [0., 1., 0.],
            [0., 0., 1.]], dtype=float32)
    """
    image = np.asanyarray(image)
    _check_real(image, "image")
    if image.ndim not in (2, 3) or image.size == 0:
        raise InputError(f"image must be a non-empty 2-D image or 3-D stack (frames, rows, columns), got shape {image.shape}")
    try:
        dtype = np.dtype(dtype)
    except TypeError as exc:
        raise InputError(f"dtype must be float32, uint16 or uint8, got {dtype!r}") from exc
    if dtype not in _WRITE_DTYPES:
        raise InputError(f"dtype must be float32, uint16 or uint8 (what ImageJ reads), got {dtype}")
    if pixel_size_nm is not None and not (
        isinstance(pixel_size_nm, (int, float, np.integer, np.floating))
        and not isinstance(pixel_size_nm, bool)
        and math.isfinite(pixel_size_nm)
        and _PIXEL_SIZE_RANGE_NM[0] <= pixel_size_nm <= _PIXEL_SIZE_RANGE_NM[1]
    ):
        raise InputError(
            f"pixel_size_nm must be a positive number of nm in [{_PIXEL_SIZE_RANGE_NM[0]:g}, {_PIXEL_SIZE_RANGE_NM[1]:g}] "
            f"(the TIFF resolution tags cannot record other values) or None, got {pixel_size_nm!r}"
        )
    _check_writable(np.nan_to_num(image, nan=0.0) if allow_nan and dtype.kind == "f" else image, dtype)

    stack = image if image.ndim == 3 else image[np.newaxis]
    metadata = {"axes": "TYX" if image.ndim == 3 else "YX"}
    resolution = None
    if pixel_size_nm is not None:
        metadata["unit"] = "micron"
        per_micron = _resolution_rational(float(pixel_size_nm))
        resolution = (per_micron, per_micron)
    # One frame at a time: a memory-mapped input is never converted whole.
    frames = (np.ascontiguousarray(frame, dtype=dtype) for frame in stack)
    big = image.size * dtype.itemsize > BIGTIFF_BYTES
    with atomic_output(path, overwrite=overwrite) as f:
        tifffile.imwrite(
            f,
            frames,
            shape=image.shape,
            dtype=dtype,
            imagej=not big,
            bigtiff=big,
            photometric="minisblack",
            metadata=metadata,
            resolution=resolution,
            resolutionunit="MICROMETER" if big and resolution is not None else None,
            software=False,
        )
    return Path(path)


def tiff_info(path: str | os.PathLike) -> dict:
    """Summarise a TIFF for ``pointillist info``, scanning frames in chunks.

    Unlike :func:`read_stack` this does not refuse NaN or infinite values:
    it counts the frames holding them and reports the range of the finite
    values.

    Returns
    -------
    dict
        ``path``, ``shape`` (frames, rows, columns), ``dtype``, ``min``,
        ``max`` (None if no finite value), ``pixel_size_nm`` (or None),
        ``axes``, ``file_size_bytes``, ``is_memmap`` and
        ``nonfinite_frames`` (how many frames have NaN or infinity).

    Examples
    --------
    >>> import tempfile
    >>> path = write_tiff(Path(tempfile.mkdtemp()) / "i.tif", np.arange(6.0).reshape(2, 3))
    >>> info = tiff_info(path)
    >>> info["shape"], info["dtype"], info["min"], info["max"], info["pixel_size_nm"]
    ((1, 2, 3), 'float32', 0.0, 5.0, None)
    """
    stack = _open(path, mmap=True)
    data = stack.data
    lo = hi = None
    n_bad = 0
    for sl in _frame_chunks(data):
        chunk = np.asarray(data[sl])
        if chunk.dtype.kind == "f":
            finite = np.isfinite(chunk)
            n_bad += int((~finite.reshape(chunk.shape[0], -1).all(axis=1)).sum())
            chunk = chunk[finite]
            if chunk.size == 0:
                continue
        cmin, cmax = chunk.min(), chunk.max()
        lo = cmin if lo is None else min(lo, cmin)
        hi = cmax if hi is None else max(hi, cmax)
    return {
        "path": str(stack.path),
        "shape": stack.shape,
        "dtype": str(data.dtype),
        "min": None if lo is None else lo.item(),
        "max": None if hi is None else hi.item(),
        "pixel_size_nm": stack.pixel_size_nm,
        "axes": stack.axes,
        "file_size_bytes": stack.path.stat().st_size,
        "is_memmap": stack.is_memmap,
        "nonfinite_frames": n_bad,
    }
