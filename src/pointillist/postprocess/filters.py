"""Keep or drop localizations: by local density, photons and frame range."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..localizations import Localizations
from ._checks import check_locs, count, optional_bound, positive

__all__ = ["density_filter", "filter_localizations"]


def density_filter(locs: Localizations, *, radius_nm: float, min_neighbors: int) -> Localizations:
    """Keep the localizations with at least ``min_neighbors`` others within ``radius_nm``.

    Neighbours are counted over all frames (the localization itself is not
    counted), which removes isolated false detections while keeping
    structures that were localized repeatedly.

    Parameters
    ----------
    locs : Localizations
        Table to filter.
    radius_nm : float
        Neighbourhood radius in nm (a neighbour at exactly this distance counts).
    min_neighbors : int
        Fewest neighbours a localization needs to be kept.

    Returns
    -------
    Localizations
        The kept rows, in their original order, every column kept.

    Examples
    --------
    >>> locs = Localizations(frame=[0, 1, 2, 3], x_nm=[0.0, 5.0, 8.0, 900.0], y_nm=[0.0, 0.0, 3.0, 0.0])
    >>> density_filter(locs, radius_nm=20.0, min_neighbors=2).x_nm.tolist()
    [0.0, 5.0, 8.0]
    """
    from scipy.spatial import cKDTree

    check_locs(locs)
    radius = positive("radius_nm", radius_nm)
    needed = count("min_neighbors", min_neighbors)
    if not len(locs):
        return locs
    xy = locs.xy_nm
    neighbours = cKDTree(xy).query_ball_point(xy, radius, return_length=True) - 1
    return locs.select(neighbours >= needed)


def filter_localizations(
    locs: Localizations,
    *,
    min_intensity: float | None = None,
    max_intensity: float | None = None,
    first_frame: int | None = None,
    last_frame: int | None = None,
) -> Localizations:
    """Keep the localizations inside every given bound (bounds included; None means no bound).

    Parameters
    ----------
    locs : Localizations
        Table to filter.
    min_intensity, max_intensity : float, optional
        Range of ``locs.photons``.
    first_frame, last_frame : int, optional
        Range of 0-based frames.

    Returns
    -------
    Localizations
        The kept rows, in their original order.

    Examples
    --------
    >>> locs = Localizations(frame=[0, 1, 2], x_nm=[1.0, 2.0, 3.0], y_nm=[0.0, 0.0, 0.0], photons=[50.0, 500.0, 900.0])
    >>> filter_localizations(locs, min_intensity=100.0, last_frame=1).x_nm.tolist()
    [2.0]
    """
    check_locs(locs)
    low, high = optional_bound("min_intensity", min_intensity), optional_bound("max_intensity", max_intensity)
    first = None if first_frame is None else count("first_frame", first_frame)
    last = None if last_frame is None else count("last_frame", last_frame)
    if low is not None and high is not None and low > high:
        raise InputError(f"min_intensity={low:g} is above max_intensity={high:g}; swap them")
    if first is not None and last is not None and first > last:
        raise InputError(f"first_frame={first} is after last_frame={last}; swap them")
    keep = np.ones(len(locs), bool)
    if low is not None:
        keep &= locs.photons >= low
    if high is not None:
        keep &= locs.photons <= high
    if first is not None:
        keep &= locs.frame >= first
    if last is not None:
        keep &= locs.frame <= last
    return locs.select(keep)
