"""Localization tables as CSV: ThunderSTORM and the EPFL SMLM challenge formats.

All three formats number frames from 1; :class:`~pointillist.io.Localizations`
numbers them from 0, and the functions here convert both ways.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError
from .atomic import atomic_output
from ..localizations import Localizations

__all__ = ["read_localizations", "localization_fields", "write_localizations", "write_smlm_challenge_csv",
           "CSV_FORMATS"]

# Recognised layouts: name -> (required columns, optional columns), mapping
# Localizations fields to header names (lower case, quotes stripped). The
# first alternative present wins for an optional field.
CSV_FORMATS = {
    "thunderstorm": (
        {"frame": ("frame",), "x_nm": ("x [nm]",), "y_nm": ("y [nm]",), "id": ("id",)},
        {
            "photons": ("intensity [photon]",),
            "background": ("offset [photon]",),
            "uncertainty_nm": ("uncertainty_xy [nm]", "uncertainty [nm]"),
        },
    ),
    # SMLM challenge ground truth: like ThunderSTORM without the id column.
    "smlm_challenge": (
        {"frame": ("frame",), "x_nm": ("x [nm]",), "y_nm": ("y [nm]",)},
        {
            "photons": ("intensity [photon]", "intensity"),
            "background": ("offset [photon]",),
            "uncertainty_nm": ("uncertainty_xy [nm]", "uncertainty [nm]"),
        },
    ),
    # SMLM challenge activations: Ground-truth,frame,xnano,ynano,znano,intensity.
    "smlm_challenge_activations": (
        {"id": ("ground-truth",), "frame": ("frame",), "x_nm": ("xnano",), "y_nm": ("ynano",)},
        {"photons": ("intensity",)},
    ),
}

_RECOGNISED = (
    '"id","frame","x [nm]","y [nm]"[,"intensity [photon]","offset [photon]","uncertainty_xy [nm]",...] '
    "(ThunderSTORM); frame,x [nm],y [nm][,...] (SMLM challenge ground truth); "
    "Ground-truth,frame,xnano,ynano,znano,intensity (SMLM challenge activations)"
)

_WRITE_HEADER = ("id", "frame", "x [nm]", "y [nm]", "intensity [photon]")


def _fmt(values: np.ndarray) -> list[str]:
    # repr is the shortest text that reads back to the same float64.
    return [repr(v) for v in values.tolist()]


def _write_rows(path, header: str, columns: list[list[str]], overwrite: bool) -> Path:
    lines = [header]
    lines.extend(",".join(row) for row in zip(*columns))
    with atomic_output(path, overwrite=overwrite, mode="w") as f:
        f.write("\n".join(lines) + "\n")
    return Path(path)


def write_localizations(path: str | os.PathLike, locs: Localizations, *, overwrite: bool = False) -> Path:
    """Write a ThunderSTORM-style CSV, atomically.

    Columns are ``"id","frame","x [nm]","y [nm]","intensity [photon]"``,
    then ``"offset [photon]"`` if ``locs.background`` is present and
    ``"uncertainty_xy [nm]"`` if ``locs.uncertainty_nm`` is present. Header
    names are double-quoted as ThunderSTORM writes them, values are not.
    ``id`` counts rows from 1 and ``frame`` is 1-based (``locs.frame + 1``).
    Floats are written with the shortest text that reads back exactly, so
    the same table always gives the same bytes.

    Parameters
    ----------
    path : str or path-like
        Destination; its folder must exist.
    locs : Localizations
        Table to write, in its current row order.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> locs = Localizations(frame=[0, 2], x_nm=[12.5, 300.0], y_nm=[40.0, 7.25], photons=[900.0, 1200.0])
    >>> path = write_localizations(Path(tempfile.mkdtemp()) / "locs.csv", locs)
    >>> print(path.read_text(), end="")
    "id","frame","x [nm]","y [nm]","intensity [photon]"
    1,1,12.5,40.0,900.0
    2,3,300.0,7.25,1200.0
    """
    if not isinstance(locs, Localizations):
        raise InputError(f"locs must be a Localizations table, got {type(locs).__name__}")
    header = list(_WRITE_HEADER)
    columns = [
        [str(i) for i in range(1, len(locs) + 1)],
        [str(f) for f in (locs.frame + 1).tolist()],
        _fmt(locs.x_nm),
        _fmt(locs.y_nm),
        _fmt(locs.photons),
    ]
    if locs.background is not None:
        header.append("offset [photon]")
        columns.append(_fmt(locs.background))
    if locs.uncertainty_nm is not None:
        header.append("uncertainty_xy [nm]")
        columns.append(_fmt(locs.uncertainty_nm))
    return _write_rows(path, ",".join(f'"{name}"' for name in header), columns, overwrite)


def write_smlm_challenge_csv(path: str | os.PathLike, locs: Localizations, *, overwrite: bool = False) -> Path:
    """Write the SMLM challenge 2016 layout ``frame,x [nm],y [nm],intensity``, atomically.

    The header is written unquoted, ``frame`` is 1-based (``locs.frame + 1``)
    and ``intensity`` is ``locs.photons``; :func:`read_localizations` reads
    the file back as the ``"smlm_challenge"`` format.

    Parameters
    ----------
    path : str or path-like
        Destination; its folder must exist.
    locs : Localizations
        Table to write, in its current row order.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> locs = Localizations(frame=[0, 2], x_nm=[12.5, 300.0], y_nm=[40.0, 7.25], photons=[900.0, 1200.0])
    >>> path = write_smlm_challenge_csv(Path(tempfile.mkdtemp()) / "challenge.csv", locs)
    >>> print(path.read_text(), end="")
    frame,x [nm],y [nm],intensity
    1,12.5,40.0,900.0
    3,300.0,7.25,1200.0
    """
    if not isinstance(locs, Localizations):
        raise InputError(f"locs must be a Localizations table, got {type(locs).__name__}")
    columns = [[str(f) for f in (locs.frame + 1).tolist()], _fmt(locs.x_nm), _fmt(locs.y_nm), _fmt(locs.photons)]
    return _write_rows(path, "frame,x [nm],y [nm],intensity", columns, overwrite)


def _match_format(names: list[str], path: Path) -> tuple[str, dict[str, int]]:
    """Pick the format whose required columns are all present; map fields to column indices."""
    index = {}
    for i, name in enumerate(names):
        if name in index:
            raise InputError(f"{path} has the column {name!r} twice; column names must be unique")
        index[name] = i
    for fmt, (required, optional) in CSV_FORMATS.items():
        if not all(any(alt in index for alt in alts) for alts in required.values()):
            continue
        cols = {}
        for field, alts in {**required, **optional}.items():
            hit = next((alt for alt in alts if alt in index), None)
            if hit is not None and field != "id":
                cols[field] = index[hit]
        return fmt, cols
    hint = ""
    if "x [px]" in index or "y [px]" in index:
        hint = " Positions are in pixels: export them in nm (ThunderSTORM: Camera setup, then export)."
    elif len(names) == 1 and any(sep in names[0] for sep in ("\t", ";")):
        hint = " The file does not look comma-separated."
    raise InputError(f"{path} has an unrecognised header {names}; recognised headers: {_RECOGNISED}.{hint}")


def _binary_at(path: Path, *, limit: int | None = None) -> int | None:
    """Offset of the first byte that is not text (a NUL byte, or not UTF-8), or None; reads ``limit`` bytes at most."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as f:
        while limit is None or offset < limit:
            block = f.read(2**16 if limit is None else min(2**16, limit - offset))
            if not block:
                break
            nul = block.find(b"\0")
            try:
                decoder.decode(block[: nul if nul >= 0 else None], final=False)
            except UnicodeDecodeError as exc:
                # exc.start counts from the bytes the decoder still held back from the previous block.
                held = len(exc.object) - len(block[: nul if nul >= 0 else None])
                return offset + exc.start - held
            if nul >= 0:
                return offset + nul
            offset += len(block)
    if limit is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset - 1
    return None


def _not_text(path: Path, at: int) -> InputError:
    return InputError(
        f"{path} is not a text CSV file (binary content at byte {at}); "
        "give a comma-separated UTF-8 text file (e.g. a ThunderSTORM export)"
    )


def _locate_bad_value(path: Path, usecols: list[int], n_columns: int) -> InputError:
    """Slow second pass, only after the fast parser failed: find the offending line."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            line = reader.line_num
            if len(row) != n_columns:
                return InputError(f"{path}, line {line}: {len(row)} values, the header has {n_columns} columns")
            for c in usecols:
                try:
                    float(row[c])
                except ValueError:
                    return InputError(f"{path}, line {line}, column {c + 1}: {row[c]!r} is not a number")
    return InputError(f"{path} could not be parsed as numbers")


def _line_of_row(path: Path, row: int) -> int:
    """File line number (1-based) of data row ``row`` (0-based), skipping blank lines as the parser does."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        next(f)
        seen = -1
        for number, text in enumerate(f, start=2):
            if text.strip():
                seen += 1
                if seen == row:
                    return number
    return -1


def _header(path: Path) -> tuple[list[str], str, dict[str, int]]:
    """The header's column names, the format they match and the column of each field read."""
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a CSV file")
    at = _binary_at(path, limit=2**16)
    if at is not None:
        raise _not_text(path, at)
    with open(path, newline="", encoding="utf-8-sig") as f:
        header_line = f.readline()
    if not header_line.strip():
        if path.read_text(encoding="utf-8-sig").strip():
            raise InputError(f"{path}: line 1 is blank; the first line must be the column header")
        raise InputError(f"{path} is empty; expected a header line, e.g. {_RECOGNISED.split(' (')[0]}")
    names = [name.strip().strip('"').strip().lower() for name in next(csv.reader(io.StringIO(header_line)))]
    return names, *_match_format(names, path)


def localization_fields(path: str | os.PathLike) -> set[str]:
    """The :class:`Localizations` columns a localization CSV holds (``photons`` only when it has an intensity).

    :func:`read_localizations` fills a missing intensity with ones; this tells whether it did.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "gt.csv"
    >>> _ = path.write_text("frame,x [nm],y [nm]\\n1,10.5,20\\n")
    >>> sorted(localization_fields(path))
    ['frame', 'x_nm', 'y_nm']
    """
    return set(_header(Path(path))[2])


def read_localizations(path: str | os.PathLike) -> Localizations:
    """Read a localization CSV, detecting its format from the header.

    Recognised formats (header names are case-insensitive, quotes optional):

    - ThunderSTORM: ``id, frame, x [nm], y [nm]`` and optionally
      ``intensity [photon]`` (photons), ``offset [photon]`` (background) and
      ``uncertainty_xy [nm]`` or ``uncertainty [nm]``; other columns such as
      ``sigma [nm]`` or ``bkgstd [photon]`` are ignored.
    - SMLM challenge ground truth: ``frame, x [nm], y [nm]`` (more columns
      allowed, read as above where they match).
    - SMLM challenge activations: ``Ground-truth, frame, xnano, ynano, znano,
      intensity`` (intensity read as photons, z ignored).

    Frames are 1-based in all three and become 0-based.

    Parameters
    ----------
    path : str or path-like
        Comma-separated file with one header line.

    Returns
    -------
    Localizations
        One row per line, in file order; empty if the file has only a header.

    Raises
    ------
    InputError
        For a missing or empty file, a binary (not UTF-8 text) file, an
        unrecognised header, a value that is not a number (with its line), or
        a frame that is not an integer >= 1.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "gt.csv"
    >>> _ = path.write_text("frame,x [nm],y [nm]\\n1,10.5,20\\n3,30,40\\n")
    >>> locs = read_localizations(path)
    >>> locs.frame, locs.x_nm
    (array([0, 2]), array([10.5, 30. ]))
    """
    path = Path(path)
    names, fmt, cols = _header(path)
    fields = list(cols)
    usecols = [cols[field] for field in fields]
    try:
        with warnings.catch_warnings():
            # A header without rows is a valid, empty table: nothing to warn about.
            warnings.filterwarnings("ignore", message="loadtxt: input contained no data", category=UserWarning)
            table = np.loadtxt(
                path,
                delimiter=",",
                skiprows=1,
                usecols=usecols,
                ndmin=2,
                dtype=np.float64,
                comments=None,
                quotechar='"',
                encoding="utf-8-sig",
            )
    except ValueError as exc:
        at = _binary_at(path)  # past the first 64 KiB: only looked for when parsing failed
        if at is not None:
            raise _not_text(path, at) from exc
        raise _locate_bad_value(path, usecols, len(names)) from exc
    values = {field: table[:, k] for k, field in enumerate(fields)}

    frame = values["frame"]
    if frame.size:
        bad = np.flatnonzero(~np.isfinite(frame) | (frame < 1) | (frame != np.round(frame)))
        if bad.size:
            line = _line_of_row(path, int(bad[0]))
            raise InputError(
                f"{path}, line {line}: frame {frame[bad[0]]:g} is not an integer >= 1 "
                f"(frames are 1-based in {fmt} files; {bad.size} such rows)"
            )
    for field, column in values.items():
        if not np.all(np.isfinite(column)):
            line = _line_of_row(path, int(np.flatnonzero(~np.isfinite(column))[0]))
            raise InputError(f"{path}, line {line}: {field} is NaN or infinite; every value must be a finite number")
    return Localizations(
        frame=(frame - 1).astype(np.int64),
        x_nm=values["x_nm"],
        y_nm=values["y_nm"],
        photons=values.get("photons"),
        background=values.get("background"),
        uncertainty_nm=values.get("uncertainty_nm"),
    )

