"""3D-COL0RME: depth from multi-angle TIRF fluctuation stacks (the axial step so far)."""

from .axial import AxialResult, axial_reconstruction

__all__ = ["AxialResult", "axial_reconstruction"]
