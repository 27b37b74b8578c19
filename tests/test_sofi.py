"""SOFI baseline: cumulants against direct computations, resolution and bSOFI parameters on simulated blinking."""

import importlib
import math

import numpy as np
import pytest

from pointillist.errors import InputError
from pointillist.methods.baselines.sofi import sofi
from pointillist.optics import Optics
from pointillist.simulate import simulate_fluctuation

# the package exports the function under the same name as the module
sofi_module = importlib.import_module("pointillist.methods.baselines.sofi")

OPTICS = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)  # sigma = 1.0966 camera pixels
OFFSET, GAIN = 3.0, 2.0


@pytest.fixture(scope="module")
def stack():
    return np.random.default_rng(7).gamma(2.0, 5.0, size=(50, 6, 7)) + OFFSET


def _centred(stack):
    data = (stack - OFFSET) / GAIN
    return data - data.mean(axis=0)


def _lagged(a, b, lag):
    """Mean over t < T - lag of the symmetrised lagged product of two pixel traces."""
    n = a.size - lag
    return 0.5 * (np.mean(a[:n] * b[lag:lag + n]) + np.mean(b[:n] * a[lag:lag + n]))


def _brute_xc(stack, lag, sigma):
    """Average, at each midpoint, the flattened XC2 of every pixel pair at distance 1, sqrt(2) or 2."""
    d = _centred(stack)
    _, h, w = d.shape
    total, count = np.zeros((2 * h - 1, 2 * w - 1)), np.zeros((2 * h - 1, 2 * w - 1))
    pixels = [(i, j) for i in range(h) for j in range(w)]
    for i1, j1 in pixels:
        for i2, j2 in pixels:
            d2 = (i1 - i2) ** 2 + (j1 - j2) ** 2
            if (i1, j1) < (i2, j2) and d2 in (1, 2, 4):
                xc = _lagged(d[:, i1, j1], d[:, i2, j2], lag)
                total[i1 + i2, j1 + j2] += xc / math.exp(-d2 / (4 * sigma**2))
                count[i1 + i2, j1 + j2] += 1
    out = total / np.maximum(count, 1)
    # corners: no pair has its midpoint there; auto-cumulant at lag max(lag, 1)
    for i, j in ((0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)):
        assert count[2 * i, 2 * j] == 0
        out[2 * i, 2 * j] = _lagged(d[:, i, j], d[:, i, j], max(lag, 1))
    assert np.all(count[1:-1, 1:-1] > 0)
    return out


def _brute_auto(stack, order, lag):
    d = _centred(stack)
    n = d.shape[0] - (order - 1) * lag
    f = [d[k * lag:k * lag + n] for k in range(order)]
    out = np.zeros(d.shape[1:])
    for i in range(d.shape[1]):
        for j in range(d.shape[2]):
            x = [g[:, i, j] for g in f]
            if order == 2:
                out[i, j] = np.mean(x[0] * x[1])
            elif order == 3:
                out[i, j] = np.mean(x[0] * x[1] * x[2])
            else:
                m = {(a, b): np.mean(x[a] * x[b]) for a in range(4) for b in range(4)}
                out[i, j] = (np.mean(x[0] * x[1] * x[2] * x[3]) - m[0, 1] * m[2, 3] - m[0, 2] * m[1, 3]
                             - m[0, 3] * m[1, 2])
    return out


@pytest.mark.parametrize("lag", [0, 2])
def test_xc2_matches_brute_force(stack, lag):
    res = sofi(stack, optics=OPTICS, mode="xc", lag=lag, offset=OFFSET, gain=GAIN)
    expected = _brute_xc(stack, lag, OPTICS.sigma_px)
    assert res.extra["native"].shape == (11, 13)
    np.testing.assert_allclose(res.extra["native"], expected, rtol=1e-10, atol=1e-12)
    assert (res.extra["native_start"], res.extra["native_step"]) == (0.5, 0.5)


@pytest.mark.parametrize(("order", "lag"), [(2, 0), (2, 2), (3, 0), (3, 1), (4, 0), (4, 2)])
def test_auto_cumulants_match_direct_formulas(stack, order, lag):
    res = sofi(stack, optics=OPTICS, order=order, mode="ac", lag=lag, offset=OFFSET, gain=GAIN)
    expected = _brute_auto(stack, order, lag)
    np.testing.assert_allclose(res.extra["native"], expected, rtol=1e-10, atol=1e-12)
    assert (res.extra["native_start"], res.extra["native_step"]) == (0.5, 1.0)
    fine = sofi_module.to_fine_grid(expected, start=0.5, step=1.0, upsample=OPTICS.upsample)
    np.testing.assert_allclose(res.image, fine if order == 2 else np.abs(fine), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("mode", ["xc", "ac"])
def test_chunking_does_not_change_the_result(stack, mode, monkeypatch):
    whole = sofi(stack, optics=OPTICS, mode=mode, lag=1)
    monkeypatch.setattr(sofi_module, "_CHUNK_VALUES", 7 * 6 * 7)  # chunks of 7 frames
    chunked = sofi(stack, optics=OPTICS, mode=mode, lag=1, progress=True)
    np.testing.assert_allclose(chunked.extra["native"], whole.extra["native"], rtol=1e-12, atol=1e-12)
    kappa4 = sofi(stack, optics=OPTICS, order=4, mode="ac", lag=3)
    np.testing.assert_allclose(kappa4.extra["native"], _brute_auto(stack, 4, 3) * GAIN**4, rtol=1e-10)


@pytest.fixture(scope="module")
def one_emitter():
    return simulate_fluctuation(optics=OPTICS, shape=(12, 12), n_frames=2000, structure="points", n_structures=1,
                                on_probability=0.3, brightness=2000.0, snr_db=30, seed=5)


def _fwhm(profile):
    """Full width at half maximum (samples) by linear interpolation of the half-maximum crossings."""
    k = int(np.argmax(profile))
    half = profile[k] / 2
    left = k - np.argmax(profile[k::-1] < half)
    right = k + np.argmax(profile[k:] < half)
    x_left = left + (half - profile[left]) / (profile[left + 1] - profile[left])
    x_right = right - 1 + (profile[right - 1] - half) / (profile[right - 1] - profile[right])
    return x_right - x_left


def _parabolic_peak(image):
    k = np.unravel_index(np.argmax(image), image.shape)
    out = []
    for axis in (0, 1):
        a = [image[tuple(np.add(k, np.eye(2, dtype=int)[axis] * dk))] for dk in (-1, 0, 1)]
        out.append(k[axis] + 0.5 * (a[0] - a[2]) / (a[0] - 2 * a[1] + a[2]))
    return np.array(out)


def test_sofi2_peaks_at_the_emitter_and_is_narrower(one_emitter):
    sim, q, sigma = one_emitter, OPTICS.upsample, OPTICS.sigma_px
    (row,), (col,) = np.nonzero(sim.support)
    res = sofi(sim.stack, optics=OPTICS)
    peak = np.unravel_index(np.argmax(res.image), res.image.shape)
    assert abs(peak[0] - row) <= 1 and abs(peak[1] - col) <= 1
    # sub-pixel peak (parabola through 3 fine pixels): within 0.5 fine pixel (0.16 here, noise), so forgetting the
    # quarter-camera-pixel shift between the virtual grid and the fine-pixel centres (1 fine pixel) fails
    assert np.all(np.abs(_parabolic_peak(res.image) - (row, col)) < 0.5)
    mean = sofi_module.to_fine_grid(sim.stack.mean(axis=0), start=0.5, step=1.0, upsample=q)
    ratio_rows = _fwhm(res.image[:, col]) / _fwhm(mean[:, col])
    ratio_cols = _fwhm(res.image[row]) / _fwhm(mean[row])
    assert 0.6 < ratio_rows < 0.85 and 0.6 < ratio_cols < 0.85
    # flattened virtual pixels follow U^2 of the pixel-integrated PSF (variance sigma^2 + 1/12): an unflattened
    # on-pixel site (factor exp(-1/sigma^2) = 0.44) or a half-pixel grid shift would miss by far more than 0.06
    native = res.extra["native"] / res.extra["native"].max()
    y0, x0 = (row + 0.5) / q, (col + 0.5) / q
    pos = 0.5 + np.arange(native.shape[0]) / 2
    model = np.exp(-np.add.outer((pos - y0) ** 2, (pos - x0) ** 2) / (sigma**2 + 1 / 12))
    assert np.max(np.abs(native - model / model.max())) < 0.06


@pytest.mark.parametrize("on_probability", [0.2, 0.4])
def test_bsofi_recovers_the_on_ratio(on_probability):
    # 4 isolated emitters, 4000 frames at 30 dB: over seeds 0-9 the on-ratio errors at the emitter pixels stay
    # within 0.03 (standard deviation about 0.008), so 0.05 leaves room; dropping the sign of c4 (rho = 0.4 gives
    # c4 < 0, as SOFItool's deconvolution does) gives no estimate at all.
    sim = simulate_fluctuation(optics=OPTICS, shape=(16, 16), n_frames=4000, structure="points", n_structures=4,
                               on_probability=on_probability, brightness=2000.0, snr_db=30, seed=3)
    res = sofi(sim.stack, optics=OPTICS, balanced=True)
    rows, cols = np.nonzero(sim.support)
    cam = (rows // OPTICS.upsample, cols // OPTICS.upsample)
    assert np.all(res.extra["parameter_mask"][cam] == 1)
    np.testing.assert_allclose(res.extra["on_ratio"][cam], on_probability, atol=0.05)
    # one emitter per pixel: the density estimate counts it
    np.testing.assert_allclose(res.extra["density"][cam], 1.0, atol=0.2)
    assert res.parameters["order"] == 4 and res.parameters["mode"] == "ac" and res.parameters["balanced"]
    assert res.image.shape == (64, 64) and res.image.min() >= 0
    for key in ("brightness", "on_ratio", "density", "native"):
        assert np.all(np.isfinite(res.extra[key]))
    assert np.all(res.extra["on_ratio"][res.extra["parameter_mask"] == 0] == 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": 5}, "order must be 2, 3 or 4"),
        ({"order": True}, "order must be 2, 3 or 4"),
        ({"mode": "cross"}, "mode must be 'xc'"),
        ({"order": 3}, "mode 'xc' .* order 2 only"),
        ({"lag": -1}, "lag must be a non-negative integer"),
        ({"lag": 1.5}, "lag must be a non-negative integer"),
        ({"order": 4, "mode": "ac", "lag": 20}, "needs more than 60 frames"),
        ({"balanced": True, "order": 3}, "balanced SOFI combines"),
        ({"gain": 0}, "gain must be a positive number"),
        ({"offset": float("nan")}, "offset must be a finite number"),
    ],
)
def test_bad_options(stack, kwargs, message):
    with pytest.raises(InputError, match=message):
        sofi(stack, optics=OPTICS, **kwargs)


def test_bad_stacks(stack):
    bad = stack.copy()
    bad[3, 2, 2] = np.nan
    with pytest.raises(InputError, match="NaN"):
        sofi(bad, optics=OPTICS)
    with pytest.raises(InputError, match="constant in time"):
        sofi(np.ones((10, 6, 6)), optics=OPTICS)
    with pytest.raises(InputError, match="at least 2 frames"):
        sofi(stack[0], optics=OPTICS)  # one image is one frame
    with pytest.raises(InputError, match="optics must be"):
        sofi(stack, optics=None)
    measured = Optics(pixel_size_nm=100, psf_image=np.ones((5, 5)), upsample=2)
    with pytest.raises(InputError, match="Gaussian PSF width"):
        sofi(stack, optics=measured)
    assert sofi(stack, optics=measured, mode="ac").image.shape == (12, 14)


@pytest.mark.parametrize("q", [1, 2, 4])
def test_shapes_and_repeatability(stack, q):
    optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=q)
    for kwargs in ({}, {"mode": "ac", "order": 3, "lag": 1}, {"balanced": True}):
        first = sofi(stack, optics=optics, **kwargs)
        again = sofi(stack, optics=optics, **kwargs)
        assert first.image.shape == (6 * q, 7 * q)
        np.testing.assert_array_equal(first.image, again.image)
        assert first.method == "sofi" and first.support is None
        assert first.parameters["n_frames"] == 50 and first.parameters["optics"]["upsample"] == q


def test_gain_scales_and_offset_cancels(stack):
    base = sofi(stack, optics=OPTICS, order=3, mode="ac").extra["native"]
    scaled = sofi(stack, optics=OPTICS, order=3, mode="ac", gain=2.0, offset=100.0).extra["native"]
    np.testing.assert_allclose(scaled, base / 8, rtol=1e-10)
