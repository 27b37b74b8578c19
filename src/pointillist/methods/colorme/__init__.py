"""COL0RME: covariance-domain support estimation and intensity estimation."""

from .api import DEFAULT_RESTARTS, DEFAULT_TILE_SIZE, ColormeResult, colorme, tile_layout
from .intensity import IntensityResult, estimate_intensity
from .support import DEFAULT_LAMBDA_RATIO, PENALTIES, SupportResult, estimate_support, lambda_max

__all__ = [
    "colorme",
    "ColormeResult",
    "tile_layout",
    "DEFAULT_TILE_SIZE",
    "DEFAULT_RESTARTS",
    "estimate_support",
    "SupportResult",
    "lambda_max",
    "PENALTIES",
    "DEFAULT_LAMBDA_RATIO",
    "estimate_intensity",
    "IntensityResult",
]
