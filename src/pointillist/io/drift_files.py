"""The drift files of ``pointillist postprocess``: ``drift.csv`` out, a fiducials CSV (bead positions) in."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from .atomic import write_text

__all__ = ["read_fiducials", "write_drift_csv"]


def read_fiducials(path: str | os.PathLike) -> np.ndarray:
    """The ``(x, y)`` positions in nm of a fiducials CSV (columns ``x [nm]`` and ``y [nm]``, more allowed).

    Parameters
    ----------
    path : str or path-like
        Comma-separated file with one header line.

    Returns
    -------
    ndarray of float64, shape (n, 2)

    Raises
    ------
    InputError
        For a missing file, missing columns, a value that is not a finite number, or no rows.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "beads.csv"
    >>> _ = p.write_text("x [nm],y [nm]\\n1200,340.5\\n")
    >>> read_fiducials(p).tolist()
    [[1200.0, 340.5]]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such fiducials file: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a text CSV file; expected columns 'x [nm]' and 'y [nm]'") from None
    if not rows:
        raise InputError(f"{path} is empty; expected a header with columns 'x [nm]' and 'y [nm]'")
    names = [name.strip().strip('"').strip().lower() for name in rows[0]]
    if "x [nm]" not in names or "y [nm]" not in names:
        raise InputError(f"{path}: the header must have columns 'x [nm]' and 'y [nm]', found {', '.join(names)}")
    ix, iy = names.index("x [nm]"), names.index("y [nm]")
    xy = []
    for line, row in enumerate(rows[1:], start=2):
        try:
            x, y = float(row[ix]), float(row[iy])
        except (IndexError, ValueError):
            raise InputError(f"{path}, line {line}: expected numbers in 'x [nm]' and 'y [nm]', got {row}") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise InputError(f"{path}, line {line}: positions must be finite, got {row}")
        xy.append((x, y))
    if not xy:
        raise InputError(f"{path} has a header but no fiducial; add one row per bead")
    return np.asarray(xy, dtype=np.float64)


def write_drift_csv(path: str | os.PathLike, drift, *, overwrite: bool = False) -> Path:
    """Write ``drift.csv``, atomically: columns ``frame`` (1-based), ``drift x [nm]``, ``drift y [nm]``.

    One row per frame of ``drift`` (a :class:`~pointillist.postprocess.DriftResult` or anything with
    ``frames``, ``x_nm`` and ``y_nm``): the drift that was subtracted from that frame.

    Examples
    --------
    >>> import tempfile
    >>> from types import SimpleNamespace
    >>> d = SimpleNamespace(frames=np.arange(2), x_nm=np.array([-1.5, 1.5]), y_nm=np.zeros(2))
    >>> print(write_drift_csv(Path(tempfile.mkdtemp()) / "drift.csv", d).read_text(), end="")
    "frame","drift x [nm]","drift y [nm]"
    1,-1.5,0.0
    2,1.5,0.0
    """
    lines = ['"frame","drift x [nm]","drift y [nm]"']
    lines += [f"{f + 1},{x!r},{y!r}" for f, x, y in zip(np.asarray(drift.frames).tolist(),
                                                        np.asarray(drift.x_nm, dtype=np.float64).tolist(),
                                                        np.asarray(drift.y_nm, dtype=np.float64).tolist())]
    return write_text(path, "\n".join(lines) + "\n", overwrite=overwrite)
