"""``angles.csv``: the incidence angle of each stack of a multi-angle TIRF acquisition.

One row per stack, with the columns ``file`` (the stack's file name) and
``angle [deg]``; other columns (``simulate matirf`` adds the penetration
depth and I0) are ignored. Stacks are matched to rows by file name.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from ..errors import InputError

__all__ = ["read_angles", "match_angles", "ANGLE_COLUMNS"]

ANGLE_COLUMNS = ("file", "angle [deg]")


def read_angles(path: str | os.PathLike) -> dict[str, float]:
    """The ``{file name: angle in degrees}`` of an angles.csv.

    Raises
    ------
    InputError
        When the file is missing or unreadable, lacks a column, names a file
        twice, or holds an angle that is not a finite number.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "angles.csv"
    >>> _ = p.write_text("file,angle [deg]\\na.tif,63.2\\nb.tif,65\\n")
    >>> read_angles(p)
    {'a.tif': 63.2, 'b.tif': 65.0}
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such angles file: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            fields = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in ANGLE_COLUMNS if c not in fields]
            if missing:
                raise InputError(f"{path} lacks the column(s) {', '.join(repr(c) for c in missing)} "
                                 f"(it has {', '.join(repr(c) for c in fields) or 'none'}); write one row per stack "
                                 "with 'file' and 'angle [deg]'")
            out: dict[str, float] = {}
            for line, row in enumerate(reader, start=2):
                row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
                name, text = row["file"], row["angle [deg]"]
                if not name:
                    raise InputError(f"{path}, line {line}: the file name is empty")
                try:
                    angle = float(text)
                except ValueError:
                    raise InputError(f"{path}, line {line}: the angle {text!r} is not a number of degrees") from None
                if not math.isfinite(angle):
                    raise InputError(f"{path}, line {line}: the angle {text!r} is not a finite number")
                if name in out:
                    raise InputError(f"{path} gives the file {name} twice (lines with angles {out[name]:g} and "
                                     f"{angle:g})")
                out[name] = angle
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path} is not a readable CSV file: {exc}") from None
    if not out:
        raise InputError(f"{path} holds no rows: write one row per stack")
    return out


def match_angles(angles: dict[str, float], stacks) -> list[float]:
    """The angle of each stack, matched by file name.

    Raises
    ------
    InputError
        When a stack has no angle, or an angle names no given stack.

    Examples
    --------
    >>> match_angles({"a.tif": 63.2, "b.tif": 65.0}, ["data/b.tif", "data/a.tif"])
    [65.0, 63.2]
    >>> match_angles({"a.tif": 63.2}, ["a.tif", "c.tif"])
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: no angle for the stack c.tif in the angles file (it lists a.tif)
    """
    names = [Path(s).name for s in stacks]
    twins = sorted({n for n in names if names.count(n) > 1})
    if twins:
        raise InputError(f"two stacks share the file name {twins[0]}: angles are matched by file name")
    without = [n for n in names if n not in angles]
    if without:
        raise InputError(f"no angle for the stack {without[0]} in the angles file (it lists "
                         f"{', '.join(sorted(angles))})")
    unused = sorted(set(angles) - set(names))
    if unused:
        raise InputError(f"the angles file lists {', '.join(unused)}, which is not among the stacks given")
    return [angles[n] for n in names]
