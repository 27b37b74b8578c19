"""Penalties and their proximal maps: l1, weighted l1, CEL0, TV, non-negativity."""

from .base import NonNegative, Penalty
from .sparse import CEL0, L1, WeightedL1, cel0_phi
from .tv import TV, div2d, grad2d

__all__ = ["Penalty", "NonNegative", "L1", "WeightedL1", "CEL0", "TV", "grad2d", "div2d", "cel0_phi"]
