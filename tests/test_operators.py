import math

import numpy as np
import pytest
import torch
from scipy.special import erf

from operator_cases import OPERATORS, _gaussian_kernel
from pointillist.errors import InputError
from pointillist.operators import Binning, Convolution, check_adjoint, imaging_operator
from pointillist.optics import Optics


def dense_matrix(op):
    """The operator as an explicit matrix (columns = images of unit vectors)."""
    n_in = math.prod(op.in_shape)
    eye = torch.eye(n_in, dtype=torch.float64).reshape(n_in, *op.in_shape)
    return op.forward(eye).reshape(n_in, -1).T.numpy()


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_adjoint_float64(name):
    op = OPERATORS[name]()
    assert check_adjoint(op, rng=0) < 1e-10
    assert check_adjoint(op, rng=1, batch=(3,)) < 1e-10


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_adjoint_matches_dense_transpose(name):
    op = OPERATORS[name]()
    a = dense_matrix(op)
    n_out = math.prod(op.out_shape)
    eye = torch.eye(n_out, dtype=torch.float64).reshape(n_out, *op.out_shape)
    at = op.adjoint(eye).reshape(n_out, -1).numpy()  # rows = A^T e_i = columns of A^T
    np.testing.assert_allclose(at, a, atol=1e-12)


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_norm_is_largest_singular_value(name):
    op = OPERATORS[name]()
    expected = np.linalg.norm(dense_matrix(op), 2)
    assert op.norm() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_float32_follows_input_and_input_not_mutated(name):
    op = OPERATORS[name]()
    x = torch.rand(2, *op.in_shape, dtype=torch.float32)
    before = x.clone()
    y = op.forward(x)
    assert y.dtype == torch.float32 and y.shape == (2, *op.out_shape)
    assert torch.equal(x, before)
    np.testing.assert_allclose(y.numpy(), op.forward(x.double()).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_cuda_matches_cpu(name):
    op = OPERATORS[name]()
    x = torch.rand(*op.in_shape, dtype=torch.float64)
    np.testing.assert_allclose(op.forward(x.cuda()).cpu().numpy(), op.forward(x).numpy(), atol=1e-10)


def test_point_source_is_the_integrated_gaussian():
    optics = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4)
    psi = imaging_operator(optics, (9, 9))
    j_row, j_col = 17, 21  # fine pixel; its centre is at ((j + 0.5) * 25) nm
    x = torch.zeros(36, 36, dtype=torch.float64)
    x[j_row, j_col] = 1.0
    img = psi(x).numpy()
    sigma = optics.sigma_nm
    x0, y0 = (j_col + 0.5) * 25.0, (j_row + 0.5) * 25.0
    edges = np.arange(10) * 100.0

    def profile(c):
        cdf = 0.5 * (1 + erf((edges - c) / (sigma * math.sqrt(2))))
        return np.diff(cdf)

    np.testing.assert_allclose(img, np.outer(profile(y0), profile(x0)), atol=1e-14)
    # the emitter's camera pixel is the brightest one
    assert np.unravel_index(img.argmax(), img.shape) == (j_row // 4, j_col // 4)


@pytest.mark.parametrize("measured", [False, True])
def test_constant_image_gives_q_squared_inside(measured):
    q = 3
    if measured:
        optics = Optics(pixel_size_nm=90.0, upsample=q, psf_image=_gaussian_kernel(13, 1.5))
    else:
        optics = Optics(pixel_size_nm=90.0, psf_fwhm_nm=100.0, upsample=q)
    psi = imaging_operator(optics, (20, 20))
    out = psi(torch.full((60, 60), 2.5, dtype=torch.float64)).numpy()
    # zero boundary: light leaks out near the edges, so compare far from them
    np.testing.assert_allclose(out[6:-6, 6:-6], 2.5 * q**2, rtol=1e-12)
    assert out[0, 0] < 2.5 * q**2


def test_measured_gaussian_psf_equals_separable_form():
    q = 2
    sigma_fine = 2.0
    kernel = _gaussian_kernel(41, sigma_fine)
    fwhm = sigma_fine * (100.0 / q) * 2 * math.sqrt(2 * math.log(2))
    a = imaging_operator(Optics(pixel_size_nm=100.0, psf_fwhm_nm=fwhm, upsample=q), (8, 8))
    b = imaging_operator(Optics(pixel_size_nm=100.0, upsample=q, psf_image=kernel), (8, 8))
    x = torch.rand(3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    # the measured kernel is truncated at 10 sigma, so the two agree to rounding
    np.testing.assert_allclose(a(x).numpy(), b(x).numpy(), atol=1e-12)


def test_convolution_matches_direct_sum():
    rng = np.random.default_rng(5)
    k = rng.random((4, 3))
    x = rng.random((6, 5))
    out = Convolution(k, shape=(6, 5))(torch.as_tensor(x)).numpy()
    c0, c1 = 2, 1
    ref = np.zeros_like(x)
    for i in range(6):
        for j in range(5):
            for u in range(4):
                for v in range(3):
                    si, sj = i - (u - c0), j - (v - c1)
                    if 0 <= si < 6 and 0 <= sj < 5:
                        ref[i, j] += k[u, v] * x[si, sj]
    np.testing.assert_allclose(out, ref, atol=1e-12)


def test_shape_errors_name_the_expected_shape():
    op = Binning(fine_shape=(8, 8), factor=2)
    with pytest.raises(InputError, match=r"must end with shape \(8, 8\)"):
        op.forward(torch.zeros(7, 8))
    with pytest.raises(InputError, match="multiple of the binning factor"):
        Binning(fine_shape=(9, 8), factor=2)
    with pytest.raises(InputError, match="cannot compose"):
        Binning(fine_shape=(4, 4), factor=2) @ Binning(fine_shape=(4, 4), factor=2)


def test_optics_validation():
    with pytest.raises(InputError, match="pixel_size_nm"):
        Optics(pixel_size_nm=-1, psf_fwhm_nm=200)
    with pytest.raises(InputError, match="upsample"):
        Optics(pixel_size_nm=100, psf_fwhm_nm=200, upsample=0)
    with pytest.raises(InputError, match="give the PSF"):
        Optics(pixel_size_nm=100)
    with pytest.raises(InputError, match="inconsistent pixel sizes"):
        Optics(pixel_size_nm=100, upsample=4, psf_image=np.ones((3, 3)), psf_pixel_size_nm=12.5)
    assert Optics.from_wavelength(pixel_size_nm=106, wavelength_nm=525, na=1.33, convention="rayleigh").psf_fwhm_nm == pytest.approx(240.79, abs=0.01)
