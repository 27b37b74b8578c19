"""Evaluation: one-to-one matching of localizations and detection / image scores.

Ratios are in percent (a ratio whose denominator is zero is 100). Each
function's docstring states its protocol: optimal one-to-one matching within
a tolerance (:func:`match_localizations`, :func:`support_jaccard`), the
DeepCEL0 specificity on the fine grid, the COL0RME image scores.

Examples
--------
>>> from pointillist.metrics import match_points, jaccard
>>> pi, ti, d = match_points([[0.0, 0.0]], [[3.0, 4.0]], 5.0)
>>> d.tolist(), jaccard(1, 0, 0)
([5.0], 100.0)
"""

from __future__ import annotations

from .matching import MatchResult, match_localizations, match_points
from .resolution import FRCResult, fourier_ring_correlation
from .scores import binary_detections, correlation, jaccard, nmse, psnr, snr_db, specificity, support_jaccard

__all__ = [
    "MatchResult",
    "match_points",
    "match_localizations",
    "jaccard",
    "specificity",
    "snr_db",
    "psnr",
    "nmse",
    "support_jaccard",
    "binary_detections",
    "correlation",
    "FRCResult",
    "fourier_ring_correlation",
]
