"""Conventions shared by the matching and the scores: ratios in percent and tolerances."""

from __future__ import annotations

import math

from ..errors import InputError

__all__ = ["ratio_percent", "check_tolerance"]


def ratio_percent(num: int, den: int) -> float:
    """``100 num / den``, with 0/0 defined as 100 (nothing could be got wrong).

    Parameters
    ----------
    num, den : int
        Counts, ``0 <= num <= den``.

    Returns
    -------
    float
        The ratio in percent.

    Examples
    --------
    >>> ratio_percent(1, 4), ratio_percent(0, 0)
    (25.0, 100.0)
    """
    return 100.0 if den == 0 else 100.0 * num / den


def check_tolerance(tolerance, name: str) -> float:
    """A matching tolerance as a float, or an :class:`~pointillist.errors.InputError` naming ``name``.

    Parameters
    ----------
    tolerance : float
        Largest distance of a matched pair; must be finite and non-negative.
    name : str
        Parameter name used in the error message (e.g. ``"tolerance_nm"``).

    Returns
    -------
    float

    Examples
    --------
    >>> check_tolerance(50, "tolerance_nm")
    50.0
    >>> check_tolerance(-1, "tolerance_nm")
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: tolerance_nm must be a finite non-negative number, got -1
    """
    try:
        tol = float(tolerance)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a non-negative number, got {tolerance!r}") from None
    if not (math.isfinite(tol) and tol >= 0):
        raise InputError(f"{name} must be a finite non-negative number, got {tolerance!r}")
    return tol
