"""Exceptions raised by pointillist for bad input.

``InputError`` is what public functions raise when the data or a parameter
is unusable; the command line turns it into one line on stderr and exit
code 2, never a traceback.
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input: the message names the problem and, where possible, the fix.

    Examples
    --------
    >>> raise InputError("pixel_size_nm must be positive, got -1")
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: pixel_size_nm must be positive, got -1
    """
