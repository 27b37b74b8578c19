"""Exceptions raised by pointillist for bad input.

``InputError`` is what public functions raise when the data or a parameter
is unusable; the command line turns it into one line on stderr and exit
code 2, never a traceback.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["InputError", "real_number"]


class InputError(ValueError):
    """Bad input: the message names the problem and, where possible, the fix.

    Examples
    --------
    >>> raise InputError("pixel_size_nm must be positive, got -1")
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: pixel_size_nm must be positive, got -1
    """


def real_number(name: str, value, *, low: float = -math.inf, high: float = math.inf,
                include_low: bool = True, include_high: bool = False) -> float:
    """``value`` as a float when it is a real number in the range, else an ``InputError`` naming ``name``.

    Parameters
    ----------
    name : str
        The option's name, for the error message.
    value : object
        What the caller passed: accepted when it is a finite int or float
        (NumPy scalars included, bool excluded) inside the range.
    low, high : float
        The range ``low <= value < high`` (``low < value`` when
        ``include_low`` is False; ``value <= high`` when ``include_high`` is
        True). Default: the whole real line.
    include_low : bool
        Whether ``low`` itself is accepted.
    include_high : bool, default False
        Whether ``high`` itself is accepted.

    Returns
    -------
    float
        ``float(value)``.

    Raises
    ------
    InputError
        When ``value`` is not a finite real number in the range; the message
        names ``name`` and the range.

    Examples
    --------
    >>> real_number("threshold", 0.5, low=0, high=1)
    0.5
    >>> real_number("threshold", None, low=0, high=1)
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: threshold must be a number in [0, 1), got None
    >>> real_number("lambda_ratio", 1, low=0, high=1, include_low=False, include_high=True)
    1.0
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and (value >= low if include_low else value > low) and (value <= high if include_high else value < high)):
        span = f"{'[' if include_low else '('}{low:g}, {high:g}{']' if include_high else ')'}"
        raise InputError(f"{name} must be a number in {span}, got {value!r}")
    return float(value)
