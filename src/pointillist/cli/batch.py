"""``pointillist batch "data/*.tif" -o RESULTS --method colorme [options]`` or ``pointillist batch CONFIG.toml``.

Runs one method over many stacks: one output folder per stack (``RESULTS/<stack name>``, the files
``reconstruct`` or ``localize`` write) and ``RESULTS/summary.csv`` (one row per stack: file, method,
status, seconds, error, then the scalars of its ``run.json``). Every stack runs through the same
command line as a single run, so options, defaults and checks are those of ``reconstruct`` and
``localize``. A stack whose folder holds a ``run.json`` is done and skipped unless ``--overwrite``
(folders are written as one unit, so an interrupted stack leaves nothing that looks done); a stack
that fails is reported with its error and the others go on; Ctrl-C stops after the summary of the
stacks finished so far is written, and the next run resumes.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import glob
import io
import json
import time
from pathlib import Path

from ..errors import InputError
from ..io.ome_zarr import is_zarr
from . import localize, reconstruct

__all__ = ["register", "run", "run_batch", "find_stacks", "command_for", "SUMMARY_NAME"]

SUMMARY_NAME = "summary.csv"
#: file endings read as stacks when a folder is given
STACK_SUFFIXES = (".ome.tif", ".ome.tiff", ".tif", ".tiff", ".ome.zarr", ".zarr")
_FIXED = ("file", "output", "method", "status", "seconds", "error")


def register(sub) -> None:
    """Add ``pointillist batch`` to the sub-command parsers ``sub`` (see :mod:`pointillist.cli`)."""
    parser = sub.add_parser(
        "batch", help="run one method over a folder or glob of stacks, with a summary table",
        description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Options after the inputs that batch does not know are handed to reconstruct or localize, e.g. "
        "pointillist batch 'data/*.tif' -o results --method colorme --pixel-size 100 --offset 100. A TOML file "
        "holds the same: inputs = [...], output = '...', method = '...', and an [options] table whose keys are "
        "the long options without dashes (true for a flag).")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="stacks, folders (their .tif/.tiff/.ome.tif files and .zarr stores) or quoted globs; "
                        "or one CONFIG.toml")
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="RESULTS",
                        help="folder that receives one sub-folder per stack and summary.csv")
    parser.add_argument("--method", default=None,
                        help=f"one of {', '.join(reconstruct.METHODS + localize.METHODS)}")
    parser.add_argument("--overwrite", action="store_true", help="run stacks that are already done again")
    parser.add_argument("--quiet", action="store_true", help="no progress bar over the stacks")
    parser.set_defaults(func=run, batch_passthrough=True)


def command_for(method: str) -> str:
    """``"reconstruct"`` or ``"localize"``: the command that runs ``method``.

    Examples
    --------
    >>> command_for("colorme"), command_for("deepcel0")
    ('reconstruct', 'localize')
    """
    if method in reconstruct.METHODS:
        return "reconstruct"
    if method in localize.METHODS:
        return "localize"
    raise InputError(f"--method must be one of {', '.join(reconstruct.METHODS + localize.METHODS)}, got {method!r}")


def _is_stack(path: Path) -> bool:
    """A TIFF file or a Zarr store with a stack's name ending."""
    if not path.name.lower().endswith(STACK_SUFFIXES):
        return False
    return is_zarr(path) if path.name.lower().endswith(".zarr") else path.is_file()


def find_stacks(inputs) -> list[Path]:
    """The stacks named by ``inputs`` (paths, folders, globs), sorted and without repeats.

    Raises
    ------
    InputError
        When an input matches nothing, or two stacks would share an output folder name.
    """
    found = []
    for item in inputs:
        item = str(item)
        path = Path(item)
        if path.is_dir() and not is_zarr(path):
            hits = [p for p in sorted(path.iterdir()) if _is_stack(p)]
        elif any(c in item for c in "*?["):
            hits = [Path(p) for p in sorted(glob.glob(item, recursive=True)) if _is_stack(Path(p))]
        else:
            hits = [path] if path.exists() else []
        if not hits:
            raise InputError(f"{item}: no stack found (a file, a folder of .tif files, or a quoted glob)")
        found += hits
    stacks = list(dict.fromkeys(p.resolve() for p in found))
    names = {}
    for p in stacks:
        names.setdefault(stack_name(p), []).append(p)
    clash = {n: ps for n, ps in names.items() if len(ps) > 1}
    if clash:
        name, paths = next(iter(clash.items()))
        raise InputError(f"{len(paths)} stacks would share the output folder {name!r}: "
                         f"{', '.join(str(p) for p in paths)}; give them different names")
    return stacks


def stack_name(path: Path) -> str:
    """The output folder name of a stack: its file name without the image ending."""
    name = path.name
    for suffix in STACK_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _options_from_toml(table: dict) -> list[str]:
    args = []
    for key, value in table.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, (list, tuple)):
            args += [flag, *map(str, value)]
        else:
            args += [flag, str(value)]
    return args


def read_config(path: Path) -> dict:
    """A batch CONFIG.toml as ``{"inputs", "output", "method", "options"}`` (options as command-line words)."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: not a readable TOML file ({exc})") from None
    unknown = set(data) - {"inputs", "output", "method", "options"}
    if unknown:
        raise InputError(f"{path}: unknown keys {sorted(unknown)}; expected inputs, output, method, [options]")
    for key in ("inputs", "output", "method"):
        if key not in data:
            raise InputError(f"{path}: the key {key!r} is missing")
    inputs = data["inputs"] if isinstance(data["inputs"], list) else [data["inputs"]]
    base = path.parent
    resolve = (lambda p: p if Path(p).is_absolute() else str(base / p))
    return {"inputs": [resolve(p) for p in inputs], "output": Path(resolve(data["output"])),
            "method": data["method"], "options": _options_from_toml(data.get("options", {}))}


def _scalars(record: dict) -> dict:
    """The key numbers of a ``run.json``: its top-level numbers, flags and short words."""
    return {k: v for k, v in record.items() if k not in _FIXED and k not in ("command", "pointillist_version")
            and (isinstance(v, (int, float, bool)) or (isinstance(v, str) and len(v) <= 40))}


def run_batch(inputs, output, method: str, options=(), *, overwrite: bool = False, progress: bool = True) -> list[dict]:
    """Run ``method`` on every stack of ``inputs``; write ``output/<name>/`` and ``output/summary.csv``.

    Parameters
    ----------
    inputs : list of str or Path
        Stacks, folders or globs (see :func:`find_stacks`).
    output : Path
        The results folder (created).
    method : str
        A method of ``reconstruct`` or ``localize``.
    options : list of str
        Further command-line options of that command (``["--pixel-size", "100"]``).
    overwrite : bool
        Run stacks again whose folder is already complete.
    progress : bool
        A progress bar over the stacks.

    Returns
    -------
    list of dict
        One row per stack (the rows of ``summary.csv``).

    Raises
    ------
    KeyboardInterrupt
        After writing the summary of the stacks handled so far.
    """
    from ..io.atomic import write_text
    from ..progress import progress_bar

    command = command_for(method)
    stacks = find_stacks(inputs)
    output = Path(output)
    summary = output / SUMMARY_NAME
    if summary.exists() and not summary.read_text(errors="replace").startswith(",".join(_FIXED)):
        raise InputError(f"{summary} exists and was not written by pointillist batch; move it or choose another -o")
    output.mkdir(parents=True, exist_ok=True)
    rows = []
    interrupted = False
    with progress_bar(stacks, desc=f"batch {method}", unit="stack", enabled=progress) as bar:
        for path in bar:
            target = output / stack_name(path)
            row = {"file": str(path), "output": str(target), "method": method}
            if (target / "run.json").is_file() and not overwrite:
                rows.append(row | _read_record(target) | {"status": "skipped (done)", "seconds": "", "error": ""})
                continue
            argv = [command, str(path), "-o", str(target), "--method", method, *options, "--quiet"]
            if overwrite:
                argv.append("--overwrite")
            err = io.StringIO()
            t0 = time.perf_counter()
            with contextlib.redirect_stderr(err):
                code = _run_command(argv)
            seconds = round(time.perf_counter() - t0, 3)
            message = " ".join(line.removeprefix("pointillist: error: ").strip()
                               for line in err.getvalue().splitlines() if line.startswith("pointillist: error"))
            if code in (130, 143):  # Ctrl-C or SIGTERM: that stack's folder is as it was; stop here
                interrupted = True
                break
            status = "done" if code == 0 else "failed"
            rows.append(row | (_read_record(target) if code == 0 else {})
                        | {"status": status, "seconds": seconds, "error": message if code else ""})
            bar.set_postfix_str(f"{stack_name(path)}: {status}")
    columns = list(_FIXED) + sorted({k for r in rows for k in r} - set(_FIXED))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(summary, text.getvalue(), overwrite=True)
    if interrupted:
        raise KeyboardInterrupt
    return rows


def _run_command(argv) -> int:
    """One stack's ``reconstruct`` or ``localize``, in this process (its exit code)."""
    from .main import main

    return main(argv)


def _read_record(target: Path) -> dict:
    try:
        return _scalars(json.loads((target / "run.json").read_text()))
    except (OSError, json.JSONDecodeError):
        return {}


def run(args: argparse.Namespace) -> int:
    """``pointillist batch``: returns 0 when every stack is done or skipped, 1 when some failed."""
    extra = list(getattr(args, "passthrough", []))
    if len(args.inputs) == 1 and args.inputs[0].lower().endswith(".toml"):
        if args.output is not None or args.method is not None:
            raise InputError("with a CONFIG.toml, give output and method in the file, not as options")
        config = read_config(Path(args.inputs[0]))
        inputs, output, method, options = config["inputs"], config["output"], config["method"], config["options"]
        options += extra
    else:
        if args.output is None or args.method is None:
            raise InputError("batch needs -o RESULTS and --method (or one CONFIG.toml)")
        inputs, output, method, options = args.inputs, args.output, args.method, extra
    rows = run_batch(inputs, output, method, options, overwrite=args.overwrite, progress=not args.quiet)
    failed = [r for r in rows if r["status"] == "failed"]
    done = sum(r["status"] == "done" for r in rows)
    skipped = sum(r["status"].startswith("skipped") for r in rows)
    print(f"{done} done, {skipped} skipped, {len(failed)} failed; summary in {Path(output) / SUMMARY_NAME}")
    for r in failed:
        print(f"  {r['file']}: {r['error']}")
    return 1 if failed else 0
