"""An output folder written as one unit: staged beside the target, moved into place in one step.

Every command that writes a result folder (``simulate``, ``reconstruct``,
``localize``) writes into a hidden staging folder next to the target and,
only once everything (``run.json`` last) is written, renames it onto the
target. A failure, Ctrl-C, SIGTERM or a full disk leaves the target exactly
as it was and removes the staging folder; a staging folder left by a killed
process is removed by the next run on the same target. ``--overwrite``
replaces the whole folder, never a part of it, and refuses when the folder
holds the run's input or files that no pointillist command writes.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError

__all__ = ["output_folder", "POINTILLIST_FILES", "staging_folders"]

#: every file name a pointillist command writes into an output folder (what --overwrite may replace)
POINTILLIST_FILES = frozenset({
    "run.json", "meta.json", "preview.png", "convergence.png",
    "stack.tif", "ground_truth.csv", "support.tif", "mean_intensity.tif", "variance.tif",
    "intensity.tif", "background.tif", "localizations.csv", "render.tif",
    "support.zarr", "intensity.zarr", "background.zarr", "render.zarr",
    "angles.csv", "depth.tif", "brightness.tif", "volume.tif", "angles.png", "depth.zarr", "volume.zarr",
    "locs.csv", "drift.csv", "drift.png", "render.png", "frc.png", "locs.hdf5", "locs.yaml", "locs_smlm.csv",
})
#: the per-angle stacks of ``simulate matirf`` (angle_01.tif, ...)
_NUMBERED = re.compile(r"angle_\d{2,}\.tif")
_STAGING = ".pointillist-staging-"
_ASIDE = ".pointillist-replaced-"


def staging_folders(target) -> list[Path]:
    """Hidden folders that runs on ``target`` stage into or move an earlier result aside to."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    prefix = f".{target.name}"
    return sorted(p for p in target.parent.iterdir()
                  if p.name.startswith(prefix + _STAGING) or p.name.startswith(prefix + _ASIDE))


def _recover(target: Path) -> None:
    """Clean up after a killed run: put back a result moved aside and never replaced, drop stale staging."""
    for path in staging_folders(target):
        if _ASIDE in path.name and not target.exists():
            os.rename(path, target)
        else:
            shutil.rmtree(path, ignore_errors=True)


def _is_ours(name: str) -> bool:
    """A file name some pointillist command writes into an output folder."""
    return name in POINTILLIST_FILES or bool(_NUMBERED.fullmatch(name))


def _is_temporary(name: str) -> bool:
    """A temporary file of pointillist's atomic writers (``.intensity-1a2b3c.tmp.tif``), left by a killed run."""
    return name.startswith(".") and ".tmp" in name


def _check_replaceable(target: Path, inputs, force: bool) -> None:
    resolved = target.resolve()
    for item in inputs:
        item = Path(item).resolve()
        if item == resolved or resolved in item.parents:
            raise InputError(f"the output folder {target} holds the input {item.name}; --overwrite would delete it. "
                             "Write the results to another folder")
    foreign = sorted(p.name + ("/" if p.is_dir() else "") for p in target.iterdir()
                     if not _is_ours(p.name) and not _is_temporary(p.name))
    if foreign and not force:
        shown = ", ".join(foreign[:8]) + (f" and {len(foreign) - 8} more" if len(foreign) > 8 else "")
        raise InputError(f"the output folder {target} holds files that pointillist does not write ({shown}); "
                         "--overwrite replaces the whole folder, so choose another folder or pass --force-overwrite")


@contextmanager
def output_folder(target, *, overwrite: bool = False, force: bool = False, inputs=()):
    """Stage an output folder and publish it as a whole when the block succeeds.

    Parameters
    ----------
    target : path
        The result folder.
    overwrite : bool
        Replace an existing, non-empty ``target`` as a whole (else refuse before any work).
    force : bool
        With ``overwrite``, replace it even when it holds files no pointillist command writes.
    inputs : iterable of path
        Files the run reads; a folder that holds one is never replaced.

    Yields
    ------
    pathlib.Path
        The staging folder to write into (empty, on the same file system as ``target``).

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out"
    >>> with output_folder(target) as stage:
    ...     _ = (stage / "run.json").write_text("{}")
    >>> sorted(p.name for p in target.iterdir())
    ['run.json']
    >>> with output_folder(target, overwrite=True) as stage:
    ...     _ = (stage / "run.json").write_text("half")
    ...     raise RuntimeError("disk full")
    Traceback (most recent call last):
    ...
    RuntimeError: disk full
    >>> sorted(p.name for p in target.iterdir()), staging_folders(target)
    (['run.json'], [])
    """
    target = Path(target)
    for parent in (target, *target.parents):
        if parent.exists() and not parent.is_dir():
            what = "output" if parent == target else f"{parent}, a file, so the output {target}"
            raise InputError(f"{what} cannot be a folder: {parent} exists and is not a folder")
    _recover(target)
    replace = target.is_dir() and any(target.iterdir())
    if replace:
        if not overwrite:
            raise InputError(f"output folder {target} exists and is not empty; pass --overwrite to replace it")
        _check_replaceable(target, inputs, force)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        stage = target.parent / f".{target.name}{_STAGING}{secrets.token_hex(4)}"
        stage.mkdir()
    except OSError as exc:
        raise InputError(f"cannot write the output folder {target}: {exc.strerror or exc}") from None
    aside = target.parent / f".{target.name}{_ASIDE}{secrets.token_hex(4)}"
    try:
        yield stage
        if target.exists():
            os.rename(target, aside)
        os.rename(stage, target)
    except BaseException:
        # BaseException: an interrupt must not leave a half-written folder behind either
        if aside.exists() and not target.exists():
            os.rename(aside, target)
        shutil.rmtree(stage, ignore_errors=True)
        raise
    shutil.rmtree(aside, ignore_errors=True)
