"""Write files atomically: a reader sees the old file or the complete new one.

Every file pointillist writes goes through :func:`atomic_output` (or the
helpers built on it), so an interrupted run never leaves a truncated TIFF,
CSV or JSON behind and an existing result is only replaced when asked.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import InputError

__all__ = ["atomic_output", "atomic_path", "write_json", "write_text", "to_json_text"]


def _check_target(path: Path, overwrite: bool) -> None:
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a file name to write to")
    if path.exists() and not overwrite:
        raise InputError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    if not path.parent.is_dir():
        raise InputError(f"cannot write {path}: folder {path.parent} does not exist; create it first")


@contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` on success.

    For writers that insist on a file name rather than a file object. The
    temporary name is hidden (starts with a dot) and keeps the suffix of
    ``path``, so libraries that pick a format from the extension still work.
    The caller creates the file; if the block raises, whatever was written
    is removed and ``path`` is left untouched.

    Parameters
    ----------
    path : str or path-like
        Final destination.
    overwrite : bool, default False
        Replace ``path`` if it exists; otherwise refuse with
        :class:`~pointillist.errors.InputError` before anything is written.

    Yields
    ------
    pathlib.Path
        Where to write.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    _check_target(path, overwrite)
    tmp = path.with_name(f".{path.stem}-{secrets.token_hex(6)}.tmp{path.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            raise InputError(f"nothing was written to the temporary file for {path}")
        # A second check narrows the window in which another process could
        # have created ``path`` while we were writing.
        if path.exists() and not overwrite:
            raise InputError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
        os.replace(tmp, path)
    except BaseException:
        # BaseException: Ctrl-C must not leave a stray temporary file either.
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_output(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    mode: str = "wb",
    encoding: str = "utf-8",
) -> Iterator[IO]:
    """Open a temporary file beside ``path``; it replaces ``path`` only on success.

    The temporary file lives in the destination folder so that the final
    ``os.replace`` is an atomic rename on the same file system. If the block
    raises, the temporary file is removed and ``path`` is left untouched.
    Permissions follow the process umask, as for a plain ``open``.

    Parameters
    ----------
    path : str or path-like
        Final destination. Its folder must exist.
    overwrite : bool, default False
        Replace ``path`` if it exists; otherwise refuse with
        :class:`~pointillist.errors.InputError` before anything is written.
    mode : {"wb", "w"}, default "wb"
        Binary or text. Text mode writes ``"\\n"`` line endings on every
        platform, so files are byte-identical everywhere.
    encoding : str, default "utf-8"
        Text encoding (text mode only).

    Yields
    ------
    file object
        Open for writing; closed (and flushed to disk) before the rename.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_output(target, mode="w") as f:
    ...     _ = f.write("hello\\n")
    >>> target.read_text()
    'hello\\n'
    >>> with atomic_output(target, mode="w") as f:  # doctest: +ELLIPSIS
    ...     _ = f.write("again\\n")
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: ... exists; pass overwrite=True (--overwrite) to replace it
    """
    if mode not in ("wb", "w"):
        raise InputError(f"mode must be 'wb' or 'w', got {mode!r}")
    with atomic_path(path, overwrite=overwrite) as tmp:
        # "x": exclusive creation, never writing through a file (or link)
        # someone else created; permissions follow the umask like open().
        if mode == "wb":
            f = open(tmp, "xb")
        else:
            f = open(tmp, "x", encoding=encoding, newline="\n")
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def write_text(path: str | os.PathLike, text: str, *, overwrite: bool = False) -> Path:
    """Write ``text`` as UTF-8 with ``"\\n"`` line endings, atomically.

    Examples
    --------
    >>> import tempfile
    >>> p = write_text(Path(tempfile.mkdtemp()) / "note.txt", "line\\n")
    >>> p.read_bytes()
    b'line\\n'
    """
    if not isinstance(text, str):
        raise InputError(f"text must be a str, got {type(text).__name__}")
    path = Path(path)
    with atomic_output(path, overwrite=overwrite, mode="w") as f:
        f.write(text)
    return path


def _jsonable(obj: Any, where: str) -> Any:
    """Plain JSON types from numpy scalars/arrays, paths, tuples and dataclasses."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        if not math.isfinite(value):
            # JSON has no NaN/Infinity; Python would write them anyway and
            # produce a file that strict parsers reject.
            raise InputError(f"{where} is {value}, which JSON cannot store; use None for a missing value")
        return value
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise InputError(f"{where} is an array of dtype {obj.dtype}; only numeric arrays can be written to JSON")
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj.tolist())]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise InputError(f"{where} has a key {key!r} of type {type(key).__name__}; JSON keys must be str")
            out[key] = _jsonable(value, f"{where}.{key}")
        return out
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    raise InputError(f"{where} has type {type(obj).__name__}, which cannot be written to JSON")


def to_json_text(obj: Any) -> str:
    """The exact text :func:`write_json` writes: sorted keys, indent 2, final newline.

    Examples
    --------
    >>> print(to_json_text({"b": np.float32(0.5), "a": np.arange(2)}), end="")
    {
      "a": [
        0,
        1
      ],
      "b": 0.5
    }
    """
    return json.dumps(_jsonable(obj, "value"), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike, obj: Any, *, overwrite: bool = False) -> Path:
    """Write ``obj`` as deterministic JSON (UTF-8), atomically.

    Keys are sorted and indented by 2 with a trailing newline, so the same
    content always gives the same bytes. NumPy scalars and arrays become
    numbers and lists, paths become strings, tuples lists, dataclasses
    objects. NaN and infinity are refused (JSON has no such values).

    Parameters
    ----------
    path : str or path-like
        Destination; its folder must exist.
    obj : dict, list or scalar
        What to write. Dictionary keys must be strings.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> p = write_json(Path(tempfile.mkdtemp()) / "run.json", {"seed": np.int64(3), "rmse_nm": 12.5})
    >>> p.read_text()
    '{\\n  "rmse_nm": 12.5,\\n  "seed": 3\\n}\\n'
    """
    text = to_json_text(obj)
    return write_text(path, text, overwrite=overwrite)
