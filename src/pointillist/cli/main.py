"""Entry point: ``pointillist <command> ...``.

Bad input prints one line naming the problem and exits with code 2.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading

from .. import __version__
from ..errors import InputError
from . import batch, evaluate, info, localize, postprocess, reconstruct, reconstruct3d, simulate, train

COMMANDS = (simulate, reconstruct, reconstruct3d, localize, postprocess, batch, train, evaluate, info)


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
        The exit code: 0 on success, 2 for bad input or a file system that refuses a write (one line on
        stderr naming the problem), 130 when interrupted (Ctrl-C), 143 when terminated (SIGTERM). An
        interrupted command leaves its output folder as it was (see :mod:`pointillist.io.output_folder`).
    """
    previous = _terminate_as_interrupt()
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:
            if not getattr(args, "batch_passthrough", False):
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
            args.passthrough = extra  # batch hands the options it does not know to reconstruct / localize
        return int(args.func(args) or 0)
    except (InputError, OSError) as exc:
        print(error_message(exc), file=sys.stderr)
        return 2
    except Terminated:
        print("pointillist: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("pointillist: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
            sys.unraisablehook = sys.__unraisablehook__


_STAGED = re.compile(r"\.([^/\\]+)\.pointillist-staging-[0-9a-f]+")


def error_message(exc: BaseException) -> str:
    """The one line the command line prints for ``exc``: ``pointillist: error: ...`` for bad input and for a
    file system that refuses (a full disk, a read-only folder, a vanished file), else the exception's type.

    Examples
    --------
    >>> error_message(InputError("--upsample must be at least 1"))
    'pointillist: error: --upsample must be at least 1'
    """
    if isinstance(exc, InputError):
        return f"pointillist: error: {exc}"
    if isinstance(exc, OSError):
        # name the file the user asked for, not its place in the hidden staging folder
        where = ": " + _STAGED.sub(r"\1", str(exc.filename)) if exc.filename else ""
        return f"pointillist: error: {exc.strerror or exc}{where}"
    return f"pointillist: {type(exc).__name__}: {exc}"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that every clean-up (staging folders, temporary files) runs."""


def _raise_terminated(signum, frame):
    raise Terminated()


def _interrupt_later(unraisable):
    """An interrupt that landed where Python cannot raise (a finaliser, a callback) is delivered again, so that
    it reaches the main flow and its clean-up instead of being printed and dropped."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        signum = signal.SIGTERM if isinstance(unraisable.exc_value, Terminated) else signal.SIGINT
        # from another thread, a moment later: raised here it would land in the same finaliser again
        threading.Timer(0.01, signal.pthread_kill, (threading.main_thread().ident, signum)).start()
    else:
        sys.__unraisablehook__(unraisable)


def _terminate_as_interrupt():
    """Turn SIGTERM into :class:`Terminated` in the main thread; returns the previous handler (None elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    sys.unraisablehook = _interrupt_later
    return signal.signal(signal.SIGTERM, _raise_terminated)


if __name__ == "__main__":
    sys.exit(main())
