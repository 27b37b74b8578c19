"""Linear operators with adjoints (torch): imaging, and later covariance operators."""

from .base import Composition, LinearOperator, check_adjoint, power_iteration
from .imaging import (
    Binning,
    Convolution,
    SeparableMatrices,
    fine_blur_operator,
    gaussian_blur_matrix,
    gaussian_psi_matrix,
    imaging_operator,
)

__all__ = [
    "LinearOperator",
    "Composition",
    "check_adjoint",
    "power_iteration",
    "Binning",
    "Convolution",
    "SeparableMatrices",
    "gaussian_psi_matrix",
    "gaussian_blur_matrix",
    "imaging_operator",
    "fine_blur_operator",
]
