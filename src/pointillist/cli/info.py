"""``pointillist info STACK.tif``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    """Add ``pointillist info`` to the sub-command parsers ``sub`` (see :mod:`pointillist.cli`)."""
    parser = sub.add_parser("info", help="describe a TIFF stack", description="Shape, dtype, value range and "
                            "pixel size (nm, if the file says) of a TIFF stack.")
    parser.add_argument("stack", type=Path, metavar="STACK.tif")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``pointillist info STACK.tif``: prints the shape, dtype, value range and pixel size of a TIFF stack; returns
    the exit code (see :mod:`pointillist.cli`).
    """
    from ..io import tiff_info
    from ..io.atomic import to_json_text

    info = tiff_info(args.stack)
    if args.json:
        print(to_json_text(info), end="")
        return 0
    for key, value in info.items():
        print(f"{key}: {value}")
    return 0
