"""Shared pieces of the baselines: memory-mapped stacks, option checks, resampling."""

import numpy as np
import pytest

from pointillist.errors import InputError
from pointillist.methods.baselines import lsparcom, sofi, sparcom, srrf
from pointillist.methods.baselines.common import real_number, trig_interpolation_matrix, to_fine_grid
from pointillist.optics import Optics
from pointillist.simulate import simulate_fluctuation

OPTICS = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4)


@pytest.fixture(scope="module")
def memmapped(tmp_path_factory):
    sim = simulate_fluctuation(optics=OPTICS, shape=(12, 12), n_frames=120, n_structures=1, seed=3)
    path = tmp_path_factory.mktemp("mm") / "stack.u16"
    mm = np.memmap(path, dtype=np.uint16, mode="w+", shape=sim.stack.shape)
    mm[:] = np.clip(np.rint(sim.stack), 0, 65535)
    mm.flush()
    return np.memmap(path, dtype=np.uint16, mode="r", shape=sim.stack.shape)


@pytest.mark.parametrize("method", [sofi, srrf, sparcom, lsparcom])
def test_a_memmapped_uint16_stack_gives_the_in_memory_result(memmapped, method):
    on_disk = method(memmapped, optics=OPTICS, offset=100, gain=2.0).image
    in_memory = method(np.array(memmapped, dtype=np.float64), optics=OPTICS, offset=100, gain=2.0).image
    np.testing.assert_allclose(on_disk, in_memory, rtol=1e-6, atol=1e-9 * np.abs(in_memory).max())


def test_number_checks():
    assert real_number("x", np.float32(0.25), low=0, high=1) == 0.25
    for value in (None, "0.1", True, 1.0, -0.1, np.inf):
        with pytest.raises(InputError, match="x must be a number in"):
            real_number("x", value, low=0, high=1)


@pytest.mark.parametrize("method", [sofi, srrf, lsparcom])
def test_stack_problems_are_named(method):
    with pytest.raises(InputError, match="NaN"):
        method(np.full((3, 8, 8), np.nan), optics=OPTICS)
    with pytest.raises(InputError, match="constant in time"):
        method(np.ones((100, 8, 8)), optics=OPTICS)
    with pytest.raises(InputError, match="at least 2 frames"):
        method(np.ones((8, 8)), optics=OPTICS)
    with pytest.raises(InputError, match="frames, rows, columns"):
        method(np.ones((2, 2, 8, 8)), optics=OPTICS)


def test_band_limited_resampling_is_accurate_to_the_edges():
    # a smooth image sampled on SOFI's virtual-pixel grid (step 1/2) and resampled to the q = 4 grid
    n, step = 23, 0.5
    x = 0.5 + step * np.arange(n)
    g = lambda u: np.exp(-((u - 6.1) ** 2) / (2 * 1.2**2))  # noqa: E731
    fine = to_fine_grid(np.outer(g(x), g(x)), start=0.5, step=step, upsample=4)
    centres = (np.arange(fine.shape[0]) + 0.5) / 4
    inside = (centres >= x[0]) & (centres <= x[-1])
    assert np.abs(fine - np.outer(g(centres), g(centres)))[np.ix_(inside, inside)].max() < 1e-4
    # the weights reproduce the samples themselves
    np.testing.assert_allclose(trig_interpolation_matrix(9, 0.5, 1.0, np.arange(9) + 0.5), np.eye(9), atol=1e-12)
