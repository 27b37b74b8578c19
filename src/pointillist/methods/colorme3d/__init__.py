"""3D-COL0RME: depth from multi-angle TIRF fluctuation stacks."""

from .api import Colorme3DResult, colorme_3d
from .axial import AxialResult, axial_reconstruction

__all__ = ["Colorme3DResult", "colorme_3d", "AxialResult", "axial_reconstruction"]
