"""Argument checks shared by the post-processing functions."""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError, real_number
from ..localizations import Localizations


def check_locs(locs, *, minimum: int = 0) -> Localizations:
    """``locs`` itself when it is a Localizations table with at least ``minimum`` rows."""
    if not isinstance(locs, Localizations):
        raise InputError(f"locs must be a Localizations table, got {type(locs).__name__}")
    if len(locs) < minimum:
        raise InputError(f"locs has {len(locs)} localizations; at least {minimum} are needed")
    return locs


def positive(name: str, value) -> float:
    """``value`` as a float when it is a finite number > 0."""
    return real_number(name, value, low=0.0, include_low=False)


def count(name: str, value, *, low: int = 0) -> int:
    """``value`` as an int when it is an integer >= ``low`` (bool refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def optional_bound(name: str, value) -> float | None:
    """None, or ``value`` as a finite float."""
    if value is None:
        return None
    return real_number(name, value, low=-math.inf)
