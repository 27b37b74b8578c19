"""``run.json``: the one record written beside every result (what ran, on what, with what, how long)."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from .atomic import write_json

__all__ = ["run_record", "write_run_record", "versions"]

_PACKAGES = ("numpy", "scipy", "torch", "tifffile")


def versions() -> dict:
    """Versions of pointillist, Python and the libraries that decide the numbers.

    Examples
    --------
    >>> sorted(versions())
    ['numpy', 'pointillist', 'python', 'scipy', 'tifffile', 'torch']
    """
    from .. import __version__

    out = {"pointillist": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def run_record(*, command: str, acquisition=None, result=None, optics=None, **extra) -> dict:
    """The content of ``run.json``.

    Parameters
    ----------
    command : str
        The CLI command (``reconstruct``, ``localize``, ...).
    acquisition : Acquisition, optional
        The input: path and sha256, shape, dtype, pixel size in the file, calibration.
    result : Result, optional
        Its ``summary()`` gives the method, the resolved parameters, numbers and timings.
    optics : Optics, optional
        Defaults to the result's.
    **extra
        Further top-level entries (e.g. what ``intensity.tif`` holds).

    Returns
    -------
    dict

    Examples
    --------
    >>> rec = run_record(command="info")
    >>> rec["command"], sorted(rec["versions"])[:2]
    ('info', ['numpy', 'pointillist'])
    """
    from .. import __version__

    record = {"command": command, "pointillist_version": __version__, "versions": versions()}
    if result is not None:
        record["method"] = result.method
    if acquisition is not None:
        record["input"] = acquisition.input_record()
        record["calibration"] = acquisition.calibration.as_dict()
    optics = optics if optics is not None else getattr(result, "optics", None)
    if optics is not None:
        record["optics"] = optics.as_dict()
    if result is not None:
        record.update(result.summary())
    record.update(extra)
    return record


def write_run_record(path, *, overwrite: bool = False, **kwargs) -> Path:
    """Write :func:`run_record` ``(**kwargs)`` as deterministic JSON at ``path``, atomically."""
    return write_json(path, run_record(**kwargs), overwrite=overwrite)
