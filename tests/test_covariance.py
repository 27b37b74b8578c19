"""The COL0RME covariance operator, its statistics and the fit, against explicit dense constructions."""

import numpy as np
import pytest
import torch

from pointillist.covariance import CovarianceFit, covariance_statistics
from pointillist.errors import InputError
from pointillist.io import read_stack, write_tiff
from pointillist.operators import imaging_operator
from pointillist.operators.covariance import CovarianceOperator
from pointillist.optics import Optics

OPTICS = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=2)  # N = 6, q = 2


def small_problem(seed=0, t=40):
    psi = imaging_operator(OPTICS, (6, 6))
    rng = np.random.default_rng(seed)
    stack = rng.normal(size=(t, 6, 6)) * 3 + 100 + rng.random((6, 6)) * 10
    dense_psi = np.kron(psi.rows, psi.cols)  # (36, 144), row-major vectorisation
    return psi, stack, dense_psi


def dense_covariance(stack):
    flat = stack.reshape(stack.shape[0], -1)
    return np.cov(flat, rowvar=False)  # T - 1 normalisation


def test_normal_operator_and_norms_match_dense_khatri_rao():
    psi, _, p = small_problem()
    op = CovarianceOperator(psi)
    a = np.stack([np.outer(p[:, j], p[:, j]).ravel() for j in range(p.shape[1])], axis=1)  # (36^2, 144)
    r = np.random.default_rng(1).random(op.in_shape)
    rt = torch.as_tensor(r)
    np.testing.assert_allclose(op.normal(rt).numpy().ravel(), a.T @ a @ r.ravel(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(op.norms.ravel(), np.linalg.norm(a, axis=0), rtol=1e-12)
    assert op.lipschitz == pytest.approx(np.linalg.eigvalsh(a.T @ a)[-1], rel=1e-10)


def test_float32_normal_operator_is_the_float64_one_to_float32_precision():
    psi = imaging_operator(Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4), (16, 16))
    exact, fast = CovarianceOperator(psi), CovarianceOperator(psi, normal_dtype=torch.float32)
    r = torch.rand(exact.in_shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    r[r < 0.9] = 0.0  # sparse, as the support step's iterates
    out = fast.normal(r)
    assert out.dtype == torch.float64
    ref = exact.normal(r)
    err = float((out - ref).abs().max() / ref.abs().max())
    assert err < 1e-6 and err > 0  # float32 round-off, not a float64 product


def test_fit_from_the_normal_product_is_the_fit():
    # fista evaluates the value and the gradient from A^T A r it already has (linear_part): same numbers
    psi, stack, _ = small_problem()
    fit = CovarianceFit(CovarianceOperator(psi), covariance_statistics(stack, psi))
    r = torch.rand(fit.v.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) * 0.05
    nr = fit.linear_part(r)
    assert fit.value_from(r, nr) == fit.value(r)
    torch.testing.assert_close(fit.grad_from(r, nr), fit.grad(r), rtol=0, atol=0)


@pytest.mark.parametrize("chunk", [7, 64])
def test_streaming_statistics_match_dense(chunk):
    psi, stack, p = small_problem()
    st = covariance_statistics(stack, psi, chunk=chunk)
    ry = dense_covariance(stack)
    np.testing.assert_allclose(st.v.ravel(), np.einsum("mj,mn,nj->j", p, ry, p), rtol=1e-10)
    assert st.trace == pytest.approx(np.trace(ry), rel=1e-12)
    assert st.frob2 == pytest.approx((ry**2).sum(), rel=1e-10)
    np.testing.assert_allclose(st.mean, stack.mean(axis=0), rtol=1e-12)
    assert st.scale == pytest.approx(ry.max(), rel=1e-12)


@pytest.mark.parametrize("block", [7, 10, 39])
def test_blocked_statistics_pool_the_covariance_of_each_block(block):
    psi, stack, p = small_problem()
    st = covariance_statistics(stack, psi, block=block)
    # brute force: each block centred on its own mean, cross-products pooled over T - number of blocks
    pooled, dof = np.zeros((36, 36)), 0
    for a in range(0, len(stack), block):
        flat = stack[a : a + block].reshape(-1, 36)
        d = flat - flat.mean(axis=0)
        pooled += d.T @ d
        dof += len(flat) - 1
    ry = pooled / dof
    np.testing.assert_allclose(st.v.ravel(), np.einsum("mj,mn,nj->j", p, ry, p), rtol=1e-10)
    assert st.trace == pytest.approx(np.trace(ry), rel=1e-12)
    assert st.frob2 == pytest.approx((ry**2).sum(), rel=1e-10)
    np.testing.assert_allclose(st.mean, stack.mean(axis=0), rtol=1e-12)


def test_blocks_remove_a_slow_trend_and_a_block_of_the_whole_stack_is_the_global_centring():
    psi, stack, _ = small_problem(t=400)
    trend = np.linspace(0.0, 30.0, 400)[:, None, None] * np.ones((1, 6, 6))  # bleaching-like drift of every pixel
    white = covariance_statistics(stack, psi)
    drifting = covariance_statistics(stack + trend, psi)
    blocked = covariance_statistics(stack + trend, psi, block=40)
    assert drifting.trace > 5 * white.trace  # the drift swamps the noise variance (9 per pixel)
    assert blocked.trace == pytest.approx(white.trace, rel=0.1)
    whole = covariance_statistics(stack, psi, block=400)
    np.testing.assert_allclose(whole.v, white.v, rtol=1e-12)


@pytest.mark.parametrize("block", [1, 0, 2.5])
def test_a_block_under_two_frames_is_refused(block):
    psi, stack, _ = small_problem()
    with pytest.raises(InputError, match="block"):
        covariance_statistics(stack, psi, block=block)


def test_statistics_of_a_memory_mapped_tiff(tmp_path):
    psi, stack, _ = small_problem()
    write_tiff(tmp_path / "s.tif", np.rint(stack).astype(np.uint16), dtype=np.uint16)
    mm = read_stack(tmp_path / "s.tif")
    assert mm.is_memmap
    st = covariance_statistics(mm.data, psi, chunk=5)
    assert st.trace == pytest.approx(np.trace(dense_covariance(np.rint(stack))), rel=1e-12)


def test_fit_value_and_gradient_match_dense_objective():
    psi, stack, p = small_problem()
    st = covariance_statistics(stack, psi)
    fit = CovarianceFit(CovarianceOperator(psi), st)
    ry = torch.as_tensor(dense_covariance(stack) / st.scale)
    pt = torch.as_tensor(p)
    r = torch.rand(fit.v.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 0.05
    r.requires_grad_(True)
    s = 0.02

    def dense_f(r, s):
        model = pt @ torch.diag(r.reshape(-1)) @ pt.T + s * torch.eye(36, dtype=torch.float64)
        return 0.5 * ((ry - model) ** 2).sum()

    f = dense_f(r, s)
    (g,) = torch.autograd.grad(f, r)
    assert fit.value(r.detach(), s) == pytest.approx(f.item(), rel=1e-10)
    s_opt = fit.s_star(r.detach())
    with torch.no_grad():
        expected = dense_f(r, s_opt)
    assert fit.value(r.detach()) == pytest.approx(expected.item(), rel=1e-10)
    # the gradient of the reduced fit is the partial gradient at the optimal s
    r2 = r.detach().clone().requires_grad_(True)
    (g_opt,) = torch.autograd.grad(dense_f(r2, s_opt), r2)
    np.testing.assert_allclose(fit.grad(r.detach()).numpy(), g_opt.numpy(), rtol=1e-9, atol=1e-12)
    assert g.shape == g_opt.shape


def test_closed_form_s_is_optimal():
    psi, stack, _ = small_problem(seed=4)
    fit = CovarianceFit(CovarianceOperator(psi), covariance_statistics(stack, psi))
    r = torch.rand(fit.v.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 0.01
    s_star = fit.s_star(r)
    grid = np.linspace(max(0.0, s_star - 0.05), s_star + 0.05, 2001)
    values = [fit.value(r, s) for s in grid]
    assert abs(grid[int(np.argmin(values))] - s_star) <= grid[1] - grid[0]
    # clipped at zero when the model already explains more than the trace
    big = torch.full_like(r, 10.0)
    assert fit.s_star(big) == 0.0


def test_statistics_validation():
    psi, stack, _ = small_problem()
    with pytest.raises(InputError, match="at least 2 frames"):
        covariance_statistics(stack[:1], psi)
    with pytest.raises(InputError, match="expects"):
        covariance_statistics(stack[:, :5], psi)
