"""Localization extraction from super-resolved grid images.

Examples
--------
>>> import numpy as np
>>> from pointillist.detection import find_peaks
>>> img = np.zeros((4, 4)); img[1, 2] = 1.0
>>> find_peaks(img, threshold=0.5)[1].tolist()
[2.0]
"""

from __future__ import annotations

from .peaks import find_peaks, grid_to_localizations

__all__ = ["find_peaks", "grid_to_localizations"]
