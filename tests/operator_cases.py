"""The one registry of linear operators that drives the generic operator tests.

Add a line here and every operator test (adjoint, norm, dtype, batch) covers it.
"""

from __future__ import annotations

import numpy as np

from pointillist.operators import (
    Binning,
    Convolution,
    SeparableMatrices,
    fine_blur_operator,
    gaussian_psi_matrix,
    imaging_operator,
)
from pointillist.operators.axial import DepthMixing
from pointillist.operators.covariance import CovarianceOperator, variance_operator
from pointillist.operators.fourier import CirculantCovarianceOperator, fourier_imaging_operator
from pointillist.optics import Optics
from pointillist.tirf import DEFAULT_ANGLES_DEG, TIRFExcitation, depth_bin_matrix, depth_edges


def _gaussian_kernel(size, sigma):
    from pointillist.operators import gaussian_blur_matrix

    # a centred, pixel-integrated Gaussian kernel of odd size
    col = gaussian_blur_matrix(size, sigma)[:, size // 2]
    return np.outer(col, col)


OPTICS = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4)

OPERATORS = {
    "binning": lambda: Binning(fine_shape=(12, 8), factor=4),
    "convolution-odd": lambda: Convolution(np.random.default_rng(0).random((5, 7)), shape=(9, 11)),
    "convolution-even": lambda: Convolution(np.random.default_rng(1).random((4, 6)), shape=(10, 7)),
    "separable": lambda: SeparableMatrices(np.random.default_rng(2).random((3, 7)), np.random.default_rng(3).random((5, 6))),
    "psi-gaussian": lambda: imaging_operator(OPTICS, (6, 5)),
    "psi-gaussian-q1": lambda: imaging_operator(Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=1), (7, 7)),
    "psi-measured": lambda: imaging_operator(
        Optics(pixel_size_nm=100.0, upsample=2, psf_image=_gaussian_kernel(9, 2.2)), (5, 6)
    ),
    "blur-gaussian": lambda: fine_blur_operator(OPTICS, (10, 12)),
    "psi-matrix": lambda: SeparableMatrices(gaussian_psi_matrix(4, 3, 2.0), gaussian_psi_matrix(5, 3, 2.0)),
    "covariance": lambda: CovarianceOperator(imaging_operator(Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=2), (6, 6))),
    "variance-q1": lambda: variance_operator(imaging_operator(Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=1), (7, 9))),
    "variance-q3": lambda: variance_operator(SeparableMatrices(gaussian_psi_matrix(3, 3, 2.0), gaussian_psi_matrix(4, 3, 2.0))),
    "covariance-rect": lambda: CovarianceOperator(SeparableMatrices(gaussian_psi_matrix(3, 3, 2.0), gaussian_psi_matrix(4, 3, 2.0))),
    "fourier-psi": lambda: fourier_imaging_operator(OPTICS, (5, 6)),
    "sparcom-covariance": lambda: CirculantCovarianceOperator(fourier_imaging_operator(
        Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=2), (5, 6))),
    "matirf-depth": lambda: DepthMixing(depth_bin_matrix(TIRFExcitation(DEFAULT_ANGLES_DEG), depth_edges(300, 20)),
                                        (6, 5)),
    "matirf-depth-flat": lambda: DepthMixing(np.random.default_rng(4).random((4, 3)), (7,)),
}
