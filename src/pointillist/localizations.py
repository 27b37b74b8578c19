"""The localization table shared by simulators, detection, SMLM methods, metrics and io.

A core data type: this module imports nothing from the rest of pointillist
but the error class, so every layer (io, detection, metrics, simulate,
methods) can build and read tables without importing another layer.
``pointillist.io.Localizations`` is the same class, re-exported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InputError

__all__ = ["Localizations"]


def _column(values, name: str, dtype) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype).reshape(-1)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise InputError(f"localization column {name!r} contains NaN or infinite values")
    return arr


@dataclass(frozen=True, eq=False)
class Localizations:
    """Emitter positions in physical units, one row per localization.

    Coordinates follow the pixel convention of pointillist: camera pixel
    (row i, column j) of size ``p`` nm covers ``x in [j p, (j+1) p)`` and
    ``y in [i p, (i+1) p)``; ``x`` is the column direction. Frames are
    0-based here (ThunderSTORM files are 1-based; the CSV functions convert).

    Parameters
    ----------
    frame : array of int
        0-based frame index of each localization.
    x_nm, y_nm : array of float
        Position in nm.
    photons : array of float, optional
        Emitted photons (intensity); ones if omitted.
    background : array of float, optional
        Background level in photons per pixel.
    uncertainty_nm : array of float, optional
        Lateral localization uncertainty in nm.

    Examples
    --------
    >>> locs = Localizations(frame=[0, 0, 1], x_nm=[50.0, 150.0, 75.0], y_nm=[50.0, 50.0, 20.0])
    >>> len(locs), locs.n_frames
    (3, 2)
    >>> len(locs.in_frame(0))
    2
    """

    frame: np.ndarray
    x_nm: np.ndarray
    y_nm: np.ndarray
    photons: np.ndarray | None = None
    background: np.ndarray | None = None
    uncertainty_nm: np.ndarray | None = field(default=None)

    def __post_init__(self):
        frame = _column(self.frame, "frame", np.float64)
        if frame.size and (np.any(frame < 0) or np.any(frame != np.round(frame))):
            raise InputError("localization frames must be non-negative integers (0-based)")
        object.__setattr__(self, "frame", frame.astype(np.int64))
        object.__setattr__(self, "x_nm", _column(self.x_nm, "x_nm", np.float64))
        object.__setattr__(self, "y_nm", _column(self.y_nm, "y_nm", np.float64))
        n = self.frame.size
        photons = np.ones(n) if self.photons is None else _column(self.photons, "photons", np.float64)
        object.__setattr__(self, "photons", photons)
        for name in ("background", "uncertainty_nm"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _column(value, name, np.float64))
        for name in ("x_nm", "y_nm", "photons", "background", "uncertainty_nm"):
            value = getattr(self, name)
            if value is not None and value.size != n:
                raise InputError(f"localization column {name!r} has {value.size} rows, frame has {n}")

    def __len__(self) -> int:
        return int(self.frame.size)

    @classmethod
    def empty(cls) -> "Localizations":
        """A table with no rows.

        Examples
        --------
        >>> len(Localizations.empty())
        0
        """
        return cls(frame=np.zeros(0, np.int64), x_nm=np.zeros(0), y_nm=np.zeros(0))

    @classmethod
    def concatenate(cls, parts) -> "Localizations":
        """Join tables row-wise; optional columns survive only if every part has them.

        Parameters
        ----------
        parts : iterable of Localizations
            Tables to join, in order.

        Returns
        -------
        Localizations
            All rows of ``parts``; an empty table when ``parts`` is empty.

        Examples
        --------
        >>> a = Localizations(frame=[0], x_nm=[1.0], y_nm=[2.0], background=[3.0])
        >>> b = Localizations(frame=[1], x_nm=[4.0], y_nm=[5.0])
        >>> both = Localizations.concatenate([a, b])
        >>> both.frame.tolist(), both.background is None
        ([0, 1], True)
        """
        parts = list(parts)
        if not parts:
            return cls.empty()

        def cat(name):
            values = [getattr(p, name) for p in parts]
            if any(v is None for v in values):
                return None
            return np.concatenate(values)

        return cls(
            frame=cat("frame"),
            x_nm=cat("x_nm"),
            y_nm=cat("y_nm"),
            photons=cat("photons"),
            background=cat("background"),
            uncertainty_nm=cat("uncertainty_nm"),
        )

    @property
    def n_frames(self) -> int:
        """One more than the largest frame index (0 for an empty table)."""
        return int(self.frame.max()) + 1 if len(self) else 0

    @property
    def xy_nm(self) -> np.ndarray:
        """Positions as an ``(n, 2)`` array of ``(x, y)`` in nm."""
        return np.stack([self.x_nm, self.y_nm], axis=1)

    def select(self, mask) -> "Localizations":
        """Rows where ``mask`` (boolean or index array) selects.

        Parameters
        ----------
        mask : array_like of bool or int
            Boolean mask of length ``len(self)`` or row indices.

        Returns
        -------
        Localizations
            The selected rows, every column kept.

        Examples
        --------
        >>> locs = Localizations(frame=[0, 1, 1], x_nm=[1.0, 2.0, 3.0], y_nm=[0.0, 0.0, 0.0])
        >>> locs.select(locs.x_nm > 1.5).x_nm.tolist()
        [2.0, 3.0]
        """
        mask = np.asarray(mask)

        def pick(v):
            return None if v is None else v[mask]

        return Localizations(
            frame=self.frame[mask],
            x_nm=self.x_nm[mask],
            y_nm=self.y_nm[mask],
            photons=pick(self.photons),
            background=pick(self.background),
            uncertainty_nm=pick(self.uncertainty_nm),
        )

    def in_frame(self, frame: int) -> "Localizations":
        """Rows of one frame (0-based index).

        Examples
        --------
        >>> Localizations(frame=[0, 1, 1], x_nm=[1.0, 2.0, 3.0], y_nm=[0.0, 0.0, 0.0]).in_frame(1).x_nm.tolist()
        [2.0, 3.0]
        """
        return self.select(self.frame == frame)

    def sorted(self) -> "Localizations":
        """Rows sorted by frame, then y, then x (a stable, reproducible order).

        Examples
        --------
        >>> Localizations(frame=[1, 0, 0], x_nm=[5.0, 9.0, 1.0], y_nm=[0.0, 0.0, 0.0]).sorted().x_nm.tolist()
        [1.0, 9.0, 5.0]
        """
        return self.select(np.lexsort((self.x_nm, self.y_nm, self.frame)))

    def to_pixels(self, pixel_size_nm: float) -> tuple[np.ndarray, np.ndarray]:
        """Continuous (row, column) coordinates in pixels of ``pixel_size_nm``.

        The centre of pixel (i, j) is at (i + 0.5, j + 0.5).

        Parameters
        ----------
        pixel_size_nm : float
            Size of a pixel of the target grid, in nm.

        Returns
        -------
        rows, cols : ndarray of float64
            ``y_nm / pixel_size_nm`` and ``x_nm / pixel_size_nm``.

        Examples
        --------
        >>> rows, cols = Localizations(frame=[0], x_nm=[37.5], y_nm=[62.5]).to_pixels(25.0)
        >>> rows.tolist(), cols.tolist()
        ([2.5], [1.5])
        """
        if not pixel_size_nm > 0:
            raise InputError(f"pixel_size_nm must be positive, got {pixel_size_nm}")
        return self.y_nm / pixel_size_nm, self.x_nm / pixel_size_nm

    @classmethod
    def from_pixels(cls, frame, rows, cols, *, pixel_size_nm: float, photons=None) -> "Localizations":
        """Build from pixel indices (or sub-pixel positions) of a grid of ``pixel_size_nm``.

        Integer indices map to pixel centres: x = (col + 0.5) * pixel_size_nm.

        Parameters
        ----------
        frame : int or array_like of int
            0-based frame of each row (a scalar applies to all rows).
        rows, cols : array_like of float
            Pixel indices or sub-pixel positions (an integer is a pixel centre).
        pixel_size_nm : float
            Size of a grid pixel in nm.
        photons : array_like of float, optional
            Intensity of each row; ones if omitted.

        Returns
        -------
        Localizations

        Examples
        --------
        >>> Localizations.from_pixels([0], [2], [1], pixel_size_nm=25.0).x_nm
        array([37.5])
        """
        if not pixel_size_nm > 0:
            raise InputError(f"pixel_size_nm must be positive, got {pixel_size_nm}")
        rows = np.asarray(rows, dtype=np.float64)
        cols = np.asarray(cols, dtype=np.float64)
        return cls(
            frame=np.broadcast_to(np.asarray(frame), rows.shape),
            x_nm=(cols + 0.5) * pixel_size_nm,
            y_nm=(rows + 0.5) * pixel_size_nm,
            photons=photons,
        )
