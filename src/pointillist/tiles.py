"""Large fields in overlapping tiles: the layout, the driver and the stitching that every tiled method shares.

A tile is its *core* grown by a margin on every side (clipped at the image
edge); cores partition the field, so each output pixel comes from exactly
one tile and was computed at least ``margin`` pixels away from that tile's
edge (except at the image edge). Methods give a function that solves one
tile (an :class:`~pointillist.acquisition.Acquisition` window) and returns
its fine-grid and camera-grid images; :func:`run_tiles` cuts, calls and
stitches one tile after the other, and :func:`stitch_tiles` stitches what
tiles solved elsewhere (tasks on a :class:`~pointillist.scheduler.Scheduler`)
returned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError

__all__ = ["Tile", "tile_layout", "tile_grid", "TileOutput", "TiledOutputs", "run_tiles", "stitch_tiles", "tile_margin"]


@dataclass(frozen=True)
class Tile:
    """One tile: rows ``r0:r1`` and columns ``c0:c1`` of the field, of which ``cr0:cr1`` x ``cc0:cc1`` is kept."""

    r0: int
    r1: int
    c0: int
    c1: int
    cr0: int
    cr1: int
    cc0: int
    cc1: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.r1 - self.r0, self.c1 - self.c0)

    def core_in_tile(self, scale: int = 1) -> tuple[slice, slice]:
        """The core inside the tile's own image (``scale`` fine pixels per camera pixel)."""
        return (slice((self.cr0 - self.r0) * scale, (self.cr1 - self.r0) * scale),
                slice((self.cc0 - self.c0) * scale, (self.cc1 - self.c0) * scale))

    def core_in_field(self, scale: int = 1) -> tuple[slice, slice]:
        """The core inside the stitched image."""
        return (slice(self.cr0 * scale, self.cr1 * scale), slice(self.cc0 * scale, self.cc1 * scale))


def tile_layout(size: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """Split ``range(size)`` into tiles ``(start, stop, core_start, core_stop)`` along one axis.

    Parameters
    ----------
    size : int
        Pixels along the axis.
    tile : int
        Pixels per tile, margins included.
    margin : int
        Overlap kept on each side of a core.

    Returns
    -------
    list of tuple
        One ``(start, stop, core_start, core_stop)`` per tile; the cores partition the axis.

    Examples
    --------
    >>> tile_layout(100, 64, 6)
    [(0, 56, 0, 50), (44, 100, 50, 100)]
    """
    if size <= tile:
        return [(0, size, 0, size)]
    core = tile - 2 * margin
    if core < 8:
        raise InputError(f"tile size {tile} is too small for an overlap of {margin} pixels on each side")
    n = math.ceil(size / core)
    edges = np.linspace(0, size, n + 1).round().astype(int)
    return [(max(0, int(a) - margin), min(size, int(b) + margin), int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def tile_grid(shape: tuple[int, int], tile_size: int, margin: int) -> list[Tile]:
    """The tiles of a ``(rows, columns)`` field, row by row.

    Examples
    --------
    >>> [t.shape for t in tile_grid((40, 20), 24, 4)]
    [(17, 20), (22, 20), (17, 20)]
    """
    rows, cols = tile_layout(shape[0], tile_size, margin), tile_layout(shape[1], tile_size, margin)
    return [Tile(r0, r1, c0, c1, cr0, cr1, cc0, cc1) for r0, r1, cr0, cr1 in rows for c0, c1, cc0, cc1 in cols]


def tile_margin(sigma_px: float) -> int:
    """Overlap that keeps every kept pixel 3 PSF sigmas (+1 pixel) from a tile edge.

    Examples
    --------
    >>> tile_margin(1.096)
    5
    """
    return int(math.ceil(3 * sigma_px)) + 1


@dataclass
class TileOutput:
    """What a method's tile solver returns.

    ``fine`` and ``coarse`` hold images on the tile's fine and camera grids
    (stitched), ``record`` JSON-friendly scalars (the run record's tile
    list), ``extra`` anything else the method keeps per tile (not stitched).
    """

    fine: dict = field(default_factory=dict)
    coarse: dict = field(default_factory=dict)
    record: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


@dataclass
class TiledOutputs:
    """Stitched images (``fine`` at ``upsample`` x the field, ``coarse`` on the camera grid) and the tile records.

    ``outputs`` holds each solved tile's :class:`TileOutput` (its records
    and anything else the method keeps), None for the empty tiles.
    """

    fine: dict
    coarse: dict
    records: list
    outputs: list
    tiles: list

    @property
    def solved(self) -> list[dict]:
        """Records of the tiles that were solved (not empty)."""
        return [r for r in self.records if not r.get("empty")]

    def median(self, key) -> float:
        """Median of a scalar over the solved tiles."""
        return float(np.median([r[key] for r in self.solved]))


def run_tiles(acquisition, solve, *, tile_size: int, margin: int, upsample: int) -> TiledOutputs:
    """Solve a field tile by tile and stitch the cores.

    Parameters
    ----------
    acquisition : Acquisition
        The whole field; each tile is a lazy window of it.
    solve : callable
        ``solve(window, tile) -> TileOutput`` or None when the tile holds
        nothing to solve (recorded as empty and left at 0).
    tile_size, margin : int
        Camera pixels per tile side and overlap on each side (see :func:`tile_layout`).
    upsample : int
        Fine pixels per camera pixel of the ``fine`` images.

    Returns
    -------
    TiledOutputs

    Examples
    --------
    >>> from pointillist.acquisition import as_acquisition
    >>> acq = as_acquisition(np.arange(2 * 30 * 30, dtype=float).reshape(2, 30, 30))
    >>> out = run_tiles(acq, lambda w, t: TileOutput(coarse={"m": w.mean}), tile_size=20, margin=3, upsample=2)
    >>> len(out.records), bool(np.allclose(out.coarse["m"], acq.mean))
    (9, True)
    """
    tiles = tile_grid(acquisition.frame_shape, tile_size, margin)
    outputs = [solve(acquisition if len(tiles) == 1 else acquisition.window(t.r0, t.r1, t.c0, t.c1), t)
               for t in tiles]
    return stitch_tiles(tiles, outputs, acquisition.frame_shape, upsample)


def stitch_tiles(tiles, outputs, shape: tuple[int, int], upsample: int) -> TiledOutputs:
    """Stitch the cores of the tiles' outputs (None for an empty tile) into images of the field.

    Parameters
    ----------
    tiles : list of Tile
    outputs : list of TileOutput or None
        One per tile, in the same order.
    shape : (int, int)
        Camera pixels of the field.
    upsample : int
        Fine pixels per camera pixel of the ``fine`` images.

    Returns
    -------
    TiledOutputs

    Examples
    --------
    >>> tiles = tile_grid((30, 30), 20, 3)
    >>> out = stitch_tiles(tiles, [TileOutput(coarse={"n": np.full(t.shape, k)}) for k, t in enumerate(tiles)],
    ...                    (30, 30), 1)
    >>> sorted(set(out.coarse["n"].ravel().tolist())) == list(range(len(tiles)))
    True
    """
    h, w = shape
    q = int(upsample)
    fine, coarse, records = {}, {}, []
    for tile, out in zip(tiles, outputs):
        span = {"rows": [tile.r0, tile.r1], "cols": [tile.c0, tile.c1]}
        if out is None:
            records.append({**span, "empty": True})
            continue
        records.append({**span, **out.record})
        for images, stitched, scale in ((out.fine, fine, q), (out.coarse, coarse, 1)):
            for name, img in images.items():
                target = stitched.setdefault(name, np.zeros((h * scale, w * scale), dtype=img.dtype))
                target[tile.core_in_field(scale)] = img[tile.core_in_tile(scale)]
    return TiledOutputs(fine=fine, coarse=coarse, records=records, outputs=list(outputs), tiles=list(tiles))
