"""SMLM post-processing of localization tables: drift correction, merging, filtering, FRC resolution.

Every function takes a :class:`~pointillist.localizations.Localizations`
table and returns a new one (or a small result), never modifying its input.
Writers for Picasso HDF5 and SMLM challenge CSV live in :mod:`pointillist.io`.

Examples
--------
>>> from pointillist.localizations import Localizations
>>> from pointillist.postprocess import merge_localizations
>>> locs = Localizations(frame=[0, 1, 2], x_nm=[10.0, 11.0, 12.0], y_nm=[5.0, 5.0, 5.0])
>>> len(merge_localizations(locs, max_distance_nm=20.0, max_off_frames=0))
1
"""

from __future__ import annotations

from .drift import DriftResult, correct_drift, drift_fiducials, drift_rcc
from .filters import density_filter, filter_localizations
from .merge import merge_localizations, track_localizations
from .resolution import frc_resolution, split_localizations

__all__ = [
    "DriftResult",
    "correct_drift",
    "density_filter",
    "drift_fiducials",
    "drift_rcc",
    "filter_localizations",
    "frc_resolution",
    "merge_localizations",
    "split_localizations",
    "track_localizations",
]
