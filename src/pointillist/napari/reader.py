"""napari reader: a pointillist output folder (one with run.json) or a ThunderSTORM CSV as layers.

A folder gives every image pointillist wrote into it, each placed by its own
pixel size (TIFF or OME-Zarr metadata) so that they overlay: the support as
labels, depth maps colour-coded, localization tables as points. A CSV gives
points ``(frame, y, x)`` in nm with the intensity as a feature.

Examples
--------
>>> get_reader("notes.txt") is None
True
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .layers import Placement, camera_image, depth_layer, fine_image, points_layer

__all__ = ["get_reader", "read_run_folder", "read_localization_csv"]

#: images of an output folder: file stem -> how it is shown
_IMAGES = {"intensity": "image", "render": "image", "support": "labels", "depth": "depth", "background": "camera",
           "volume": "volume", "mean_intensity": "image", "variance": "hidden", "brightness": "hidden"}
_TABLES = ("localizations.csv", "locs.csv", "ground_truth.csv")


def get_reader(path):
    """The reader napari calls for ``path``, or None when it is neither a run folder nor a CSV file."""
    if isinstance(path, list):
        return None if len(path) != 1 else get_reader(path[0])
    path = Path(path)
    if path.is_dir() and (path / "run.json").is_file():
        return read_run_folder
    if path.suffix.lower() == ".csv" and path.is_file():
        return read_localization_csv
    return None


def _one(path) -> Path:
    return Path(path[0] if isinstance(path, list) else path)


def read_localization_csv(path) -> list[tuple]:
    """A ThunderSTORM (or pointillist) localization CSV as one points layer in nm."""
    from ..io import read_localizations

    path = _one(path)
    locs = read_localizations(path)
    return [points_layer(locs, Placement(pixel_nm=100.0), name=path.stem, size_nm=_point_size(locs))]


def _point_size(locs, fallback_nm: float = 20.0) -> float:
    """Twice the median localization uncertainty (nm), or ``fallback_nm`` when the table has none."""
    uncertainty = getattr(locs, "uncertainty_nm", None)
    if uncertainty is not None and np.isfinite(uncertainty).any():
        return float(2 * np.nanmedian(uncertainty))
    return fallback_nm


def read_run_folder(path) -> list[tuple]:
    """The images and tables of a pointillist output folder, as layers that overlay one another."""
    from ..acquisition import read_source
    from ..errors import InputError
    from ..io import read_localizations

    folder = _one(path)
    try:
        record = json.loads((folder / "run.json").read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{folder / 'run.json'} is not a readable run record: {exc}") from None
    optics = record.get("optics") or {}
    camera = Placement(pixel_nm=float(optics.get("pixel_size_nm") or 100.0))
    label = f"{folder.name} {record.get('method') or record.get('command', '')}".strip()
    metadata = {"run": record}
    layers = []
    for stem, how in _IMAGES.items():
        file = next((folder / f"{stem}{ext}" for ext in (".tif", ".zarr") if (folder / f"{stem}{ext}").exists()),
                    None)
        if file is None:
            continue
        stack = read_source(file, mmap=False)
        data = np.asarray(stack.data)
        data = data[0] if data.shape[0] == 1 else data
        pixel = stack.pixel_size_nm or camera.pixel_nm
        kwargs = {"name": f"{label} {stem}", "metadata": metadata}
        if how in ("camera", "hidden"):  # context, not results: loaded hidden
            layers.append(camera_image(data, Placement(pixel), visible=False, **kwargs))
        elif how == "depth":
            layers.append(depth_layer(data, Placement(pixel), upsample=1, name=f"{label} depth [nm]"))
        elif how == "volume":  # (depth bins, rows, columns): a leading axis the viewer's slider walks through
            scale, translate = camera.grid(pixel)
            layers.append((data, {**kwargs, "scale": (1.0, *scale), "translate": (0.0, *translate),
                                  "visible": False, "colormap": "magma"}, "image"))
        else:
            layers.append(fine_image(data, Placement(pixel), upsample=1, labels=how == "labels",
                                     **({"opacity": 0.5} if how == "labels" else {"colormap": "magma"}), **kwargs))
    for name in _TABLES:
        if (folder / name).is_file():
            locs = read_localizations(folder / name)
            layers.append(points_layer(locs, camera, name=f"{label} {Path(name).stem}", size_nm=_point_size(locs)))
    if not layers:
        raise InputError(f"{folder} has a run.json but none of the images or tables pointillist writes")
    return layers
