"""Zarr and OME-Zarr: stacks read lazily (chunk by chunk, never whole) and large images written as OME-Zarr.

A stack may be a plain Zarr array ``(T, Y, X)`` (singleton axes allowed) or
an OME-Zarr image (NGFF 0.4 or 0.5), of which the full-resolution level is
read and the pixel size taken from its scale and unit. Images are written
as OME-Zarr 0.5 (Zarr v3) with one resolution level, the pixel size in nm.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["is_zarr", "read_zarr", "write_ome_zarr"]

_UNIT_NM = {"nanometer": 1.0, "micrometer": 1e3, "millimeter": 1e6, "angstrom": 0.1, "meter": 1e9}


def is_zarr(path) -> bool:
    """Whether ``path`` is a Zarr store (a folder with Zarr v2 or v3 metadata).

    Examples
    --------
    >>> is_zarr("no/such/folder.zarr")
    False
    """
    p = Path(path)
    return p.is_dir() and any((p / name).exists() for name in ("zarr.json", ".zarray", ".zgroup"))


class _Frames:
    """A Zarr array seen as ``(T, Y, X)``: singleton axes are indexed away, chunk reads stay lazy."""

    def __init__(self, array, keep: list[int]):
        self.array = array
        self.keep = keep
        self.shape = tuple(int(array.shape[i]) for i in keep)
        self.dtype = np.dtype(array.dtype)
        self.ndim = 3

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        full, it = [], iter(key)
        for axis in range(self.array.ndim):
            full.append(next(it, slice(None)) if axis in self.keep else 0)
        return np.asarray(self.array[tuple(full)])


def _ome_image(group, path: Path):
    """The full-resolution array of an OME-Zarr image and its pixel size in nm (None when unknown)."""
    attrs = dict(group.attrs)
    ome = attrs.get("ome", attrs)
    scales = ome.get("multiscales")
    if not scales:
        arrays = sorted(name for name, _ in group.arrays())
        if len(arrays) == 1:
            return group[arrays[0]], None
        raise InputError(f"{path} is a Zarr group without OME-Zarr multiscales metadata holding "
                         f"{len(arrays)} arrays ({', '.join(arrays) or 'none'}); give the path of one array")
    image = scales[0]
    dataset = image["datasets"][0]
    array = group[dataset["path"]]
    pixel = None
    axes = image.get("axes", [])
    for transform in dataset.get("coordinateTransformations", []):
        if transform.get("type") == "scale" and axes:
            unit = axes[-1].get("unit") if isinstance(axes[-1], dict) else None
            if unit in _UNIT_NM:
                pixel = float(transform["scale"][-1]) * _UNIT_NM[unit]
    return array, pixel


def read_zarr(path):
    """Open a Zarr array or OME-Zarr image lazily as ``(frames, rows, columns)``.

    Parameters
    ----------
    path : str or path-like
        The store's folder (a Zarr array, or an OME-Zarr image group).

    Returns
    -------
    Stack
        ``data`` reads frames from the store chunk by chunk; ``pixel_size_nm``
        from the OME-Zarr scale (None for a plain array).

    Raises
    ------
    InputError
        If the folder is not a Zarr store, holds several arrays and no
        OME-Zarr metadata, more than three non-singleton axes, or no real
        numbers.

    Examples
    --------
    >>> import tempfile
    >>> path = write_ome_zarr(Path(tempfile.mkdtemp()) / "img.zarr", np.ones((3, 8, 8)), pixel_size_nm=100)
    >>> stack = read_zarr(path)
    >>> stack.shape, stack.pixel_size_nm
    ((3, 8, 8), 100.0)
    """
    import zarr

    from .tiff import Stack

    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file or folder: {path}")
    if not is_zarr(path):
        raise InputError(f"{path} is not a Zarr store (no zarr.json, .zarray or .zgroup inside)")
    try:
        node = zarr.open(store=str(path), mode="r")
    except Exception as exc:  # zarr raises many types for damaged metadata
        raise InputError(f"{path} is not a readable Zarr store: {exc}") from exc
    pixel = None
    if isinstance(node, zarr.Group):
        node, pixel = _ome_image(node, path)
    shape = tuple(int(n) for n in node.shape)
    dtype = np.dtype(node.dtype)
    if 0 in shape:
        raise InputError(f"{path} holds an empty array of shape {shape}")
    if dtype.kind not in "uif":
        raise InputError(f"{path} holds data of dtype {dtype}; pointillist reads real-valued intensity images")
    keep = [i for i, n in enumerate(shape) if n != 1 or i >= len(shape) - 2]
    if len(keep) > 3:
        raise InputError(f"{path} has shape {shape}; pointillist reads a 2-D image or a 3-D stack "
                         "(frames, rows, columns): split channels or z-planes into separate arrays")
    if len(keep) == 2:  # one image: small, read now
        data = np.asarray(node[...]).reshape(1, *(shape[i] for i in keep))
    else:
        data = _Frames(node, keep)
    return Stack(data=data, pixel_size_nm=pixel, path=path, axes="TYX"[-len(keep):])


def write_ome_zarr(path, image, *, pixel_size_nm: float | None = None, overwrite: bool = False,
                   dtype=np.float32, chunk: int = 1024) -> Path:
    """Write a 2-D image (or a 3-D stack) as an OME-Zarr 0.5 image, atomically.

    Written into a hidden folder beside ``path`` and renamed onto it when
    complete, so an interrupted write leaves nothing that looks finished.

    Parameters
    ----------
    path : str or path-like
        The store's folder (``*.zarr``).
    image : array_like (H, W) or (T, H, W)
    pixel_size_nm : float, optional
        Recorded as the scale of the y and x axes, unit nanometer.
    overwrite : bool
        Replace an existing store.
    dtype : dtype
        Stored type (float32 by default).
    chunk : int
        Chunk side in pixels.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, zarr
    >>> path = write_ome_zarr(Path(tempfile.mkdtemp()) / "img.zarr", np.eye(4), pixel_size_nm=25)
    >>> zarr.open_group(str(path), mode="r").attrs["ome"]["multiscales"][0]["axes"][-1]
    {'name': 'x', 'type': 'space', 'unit': 'nanometer'}
    """
    import zarr

    path = Path(path)
    image = np.asanyarray(image)
    if image.ndim not in (2, 3) or image.size == 0:
        raise InputError(f"image must be a non-empty 2-D image or 3-D stack, got shape {image.shape}")
    if path.exists() and not overwrite:
        raise InputError(f"{path} exists; use --overwrite to replace it")
    if not path.parent.is_dir():
        raise InputError(f"the folder {path.parent} does not exist")
    names = ["y", "x"] if image.ndim == 2 else ["t", "y", "x"]
    axes = [{"name": n, "type": "space", "unit": "nanometer"} if n in "yx" else {"name": n, "type": "time"}
            for n in names]
    scale = [1.0] * (image.ndim - 2) + [float(pixel_size_nm or 1.0)] * 2
    meta = {"version": "0.5", "multiscales": [{
        "axes": axes if pixel_size_nm else [{k: v for k, v in a.items() if k != "unit"} for a in axes],
        "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": scale}]}],
        "name": path.stem}]}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        group = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        group.attrs["ome"] = meta
        chunks = tuple([1] * (image.ndim - 2) + [min(chunk, n) for n in image.shape[-2:]])
        arr = group.create_array("0", shape=image.shape, dtype=np.dtype(dtype), chunks=chunks,
                                 dimension_names=names)
        arr[...] = image.astype(dtype, copy=False)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
