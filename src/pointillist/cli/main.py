"""Entry point: ``pointillist <command> ...``.

Bad input prints one line naming the problem and exits with code 2.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..errors import InputError
from . import evaluate, info, localize, reconstruct, simulate, train

COMMANDS = (simulate, reconstruct, localize, train, evaluate, info)


def build_parser() -> argparse.ArgumentParser:
    """The ``pointillist`` argument parser with every sub-command.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> build_parser().parse_args(["info", "s.tif"]).command
    'info'
    """
    parser = argparse.ArgumentParser(
        prog="pointillist",
        description="Sparse super-resolution fluorescence microscopy. Lengths are in nm, intensities in photons.",
    )
    parser.add_argument("--version", action="version", version=f"pointillist {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv=None) -> int:
    """Run ``pointillist`` with ``argv`` (default: the command line).

    Parameters
    ----------
    argv : list of str, optional

    Returns
    -------
    int
        The exit code: 0 on success, 2 for bad input (one line on stderr naming the problem), 130 when
        interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"pointillist: error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"pointillist: error: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pointillist: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
