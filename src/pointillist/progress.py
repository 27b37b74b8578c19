"""Progress bars of long computations, and a way for a host program to follow and cancel them.

Every bar of the library comes from :func:`progress_bar`: a tqdm bar on the
terminal (shown only when stderr is a terminal), or, inside
:func:`follow_progress`, a silent bar that hands each step to the host's
callback (the napari plugin's progress bar). The callback may raise
:class:`Cancelled` to stop the computation at its next step; the library's
``try``/``finally`` blocks then clean up as for any error.

Examples
--------
>>> steps = []
>>> with follow_progress(lambda desc, n, total: steps.append((desc, n, total))):
...     total = sum(progress_bar(range(3), desc="sum"))
>>> total, steps[-1]
(3, ('sum', 3, 3))
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Cancelled", "follow_progress", "progress_bar"]

_REPORTER: ContextVar = ContextVar("pointillist_progress", default=None)


class Cancelled(Exception):
    """Raised by a progress callback to stop a computation (the user pressed Cancel)."""


class _Silent:
    """A file that drops what tqdm writes: the host draws the progress itself."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass


def _reporting_bar_class():
    from tqdm import tqdm

    class ReportingBar(tqdm):
        """A tqdm bar that hands every step to a callback instead of drawing it."""

        def __init__(self, *args, reporter, **kwargs):
            self._reporter = reporter
            super().__init__(*args, file=_Silent(), mininterval=0, miniters=1, leave=False, **kwargs)

        def update(self, n=1):
            shown = super().update(n)
            self._reporter(self.desc, self.n, self.total)
            return shown

    return ReportingBar


def progress_bar(iterable=None, *, desc: str, total: int | None = None, unit: str = "it", enabled: bool = True):
    """A progress bar (tqdm's interface): iterate through it or call ``update(n)``, then ``close()``.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over; ``total`` defaults to its length.
    desc : str
        What is being done ("SOFI", "SPARCOM iterations").
    total : int, optional
        Number of steps, when known.
    unit : str
        What one step is ("it", "chunk", "task").
    enabled : bool
        False: no terminal bar (a host following the progress still sees the steps).

    Returns
    -------
    tqdm
        Drawn on stderr when it is a terminal; inside :func:`follow_progress`, silent and reporting.
    """
    reporter = _REPORTER.get()
    if reporter is not None:
        return _reporting_bar_class()(iterable, desc=desc, total=total, unit=unit, reporter=reporter)
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=False, disable=None if enabled else True)


@contextmanager
def follow_progress(callback):
    """Within the block, every bar made in this thread calls ``callback(desc, n, total)`` at each step.

    Parameters
    ----------
    callback : callable
        ``callback(desc: str, n: int, total: int | None)``; it runs in the thread that advances the bar
        (a worker thread of the computation) and may raise :class:`Cancelled` to stop it.
    """
    token = _REPORTER.set(callback)
    try:
        yield
    finally:
        _REPORTER.reset(token)
