"""Evaluation: one-to-one matching of localizations and detection / image scores.

Ratios are in percent. See ``SPEC.md`` section 5 for the protocols.

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
