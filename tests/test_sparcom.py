import numpy as np
import pytest
import torch

from pointillist.errors import InputError
from pointillist.methods.baselines import sparcom
from pointillist.methods.baselines.sparcom import DEFAULT_LAMBDA_RATIO
from pointillist.metrics import support_jaccard
from pointillist.operators import gaussian_psi_matrix
from pointillist.operators.covariance import CovarianceOperator
from pointillist.operators.fourier import CirculantCovarianceOperator, fourier_imaging_operator, fourier_psi_matrix
from pointillist.optics import Optics
from pointillist.simulate import Camera, simulate_fluctuation

OPTICS = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4)


def test_fourier_model_is_the_binning_model_away_from_the_edges():
    phi = fourier_psi_matrix(16, 4, OPTICS.sigma_fine_px)
    g = gaussian_psi_matrix(16, 4, OPTICS.sigma_fine_px)
    inner = slice(20, 44)
    assert np.abs(phi[:, inner] - g[:, inner]).max() < 1e-3 * g.max() * 10
    # periodic: a source at the last fine pixel lights the first camera pixel too
    assert phi[0, -1] > 0.01 * phi.max()


@pytest.mark.parametrize("shape", [(6, 6), (5, 7)])
def test_fft_normal_operator_equals_dense_adjoint_of_forward(shape):
    op = CirculantCovarianceOperator(fourier_imaging_operator(Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21,
                                                                     upsample=2), shape))
    r = torch.rand(op.in_shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    dense = op.adjoint(op.forward(r))  # A^T (Phi diag(r) Phi^T) with explicit M^2 x M^2 matrices
    torch.testing.assert_close(op.normal(r), dense, rtol=1e-10, atol=1e-12)
    evals = np.linalg.eigvalsh(np.kron(op.m_rows, op.m_cols))
    assert op.lipschitz == pytest.approx(evals[-1], rel=1e-10)


def test_circulant_operator_refuses_the_binning_model():
    from pointillist.operators import imaging_operator

    with pytest.raises(InputError, match="circulant"):
        CirculantCovarianceOperator(imaging_operator(OPTICS, (6, 6)))


def _sim(seed, **kw):
    camera = Camera(background=50.0, read_noise=0.0, gain=1.0, offset=0.0, quantize=False)
    args = dict(optics=OPTICS, shape=(20, 20), n_frames=300, structure="filaments", n_structures=2, camera=camera,
                snr_db=15.0, seed=seed)
    return simulate_fluctuation(**{**args, **kw})


def test_sparcom_recovers_simulated_filaments():
    sim = _sim(3)
    res = sparcom(sim.stack, optics=OPTICS)
    b = 12
    crop = (slice(b, -b), slice(b, -b))
    jac = support_jaccard(res.support[crop], sim.support[crop].astype(bool), tolerance_px=1.6).jaccard
    assert jac > 60
    # objective of FISTA with restart ends lower than it starts, and lambda is the asked fraction
    assert res.history["objective"][-1] < res.history["objective"][0]
    assert res.extra["lambda"] == pytest.approx(DEFAULT_LAMBDA_RATIO * res.extra["lambda_max"])
    # a lambda above lambda_max gives nothing; far below, many more pixels
    dense = sparcom(sim.stack, optics=OPTICS, lambda_ratio=0.001, threshold=0.0)
    assert dense.support.sum() > 2 * res.support.sum()


def test_sparcom_is_deterministic_and_calibrated():
    sim = _sim(4, shape=(12, 12), n_frames=100)
    a = sparcom(sim.stack, optics=OPTICS, max_iter=50)
    b = sparcom(sim.stack * 2.0 + 7.0, optics=OPTICS, max_iter=50, offset=7.0, gain=2.0)
    np.testing.assert_allclose(a.image, b.image, rtol=1e-5, atol=1e-5 * a.image.max())
    np.testing.assert_array_equal(a.image, sparcom(sim.stack, optics=OPTICS, max_iter=50).image)


@pytest.mark.parametrize("kw, message", [
    ({"lambda_ratio": 1.5}, "lambda_ratio"), ({"threshold": 1.0}, "threshold"), ({"max_iter": 0}, "max_iter"),
    ({"gain": 0.0}, "gain"), ({"pad": -1}, "pad"),
])
def test_sparcom_validation(kw, message):
    stack = np.random.default_rng(0).normal(size=(10, 8, 8))
    with pytest.raises(InputError, match=message):
        sparcom(stack, optics=OPTICS, **kw)


def test_sparcom_rejects_bad_stacks():
    with pytest.raises(InputError, match="constant"):
        sparcom(np.ones((5, 8, 8)), optics=OPTICS)
    bad = np.random.default_rng(0).normal(size=(5, 8, 8))
    bad[2, 3, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        sparcom(bad, optics=OPTICS)
