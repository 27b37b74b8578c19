"""Rendering localizations on a pixel grid (pointillist.io.render)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pointillist.errors import InputError
from pointillist.io import Localizations, render_localizations
from pointillist.io import render as render_module


def _locs(x, y, frame=None, photons=None):
    frame = np.zeros(len(x), int) if frame is None else frame
    return Localizations(frame=frame, x_nm=x, y_nm=y, photons=photons)


# ---------------------------------------------------------------- histogram


def test_histogram_hand_computed():
    # p = 100 nm, image 3 rows x 4 columns (x in [0, 400), y in [0, 300)).
    locs = _locs(
        x=[50.0, 100.0, 99.999, 399.9, 400.0, -0.001, 150.0, 150.0, 0.0],
        y=[50.0, 50.0, 0.0, 299.9, 10.0, 10.0, 250.0, 250.0, 300.0],
    )
    expected = np.array(
        [
            [2.0, 1.0, 0.0, 0.0],  # (50, 50) and (99.999, 0) in column 0; x = 100 is on the edge: column 1
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 2.0, 0.0, 1.0],  # two at (150, 250); (399.9, 299.9) in the last pixel
        ]
    )  # x = 400, x < 0 and y = 300 are outside and dropped
    image = render_localizations(locs, shape=(3, 4), pixel_size_nm=100.0)
    assert image.dtype == np.float64 and image.shape == (3, 4)
    np.testing.assert_array_equal(image, expected)


def test_histogram_photon_weights_and_frames():
    locs = _locs(x=[10.0, 10.0, 30.0], y=[10.0, 10.0, 10.0], frame=[0, 1, 2], photons=[100.0, 250.0, 7.0])
    image = render_localizations(locs, shape=(1, 2), pixel_size_nm=20.0, weights="photons")
    np.testing.assert_array_equal(image, [[350.0, 7.0]])
    image = render_localizations(locs, shape=(1, 2), pixel_size_nm=20.0, weights="photons", frames=[1, 2])
    np.testing.assert_array_equal(image, [[250.0, 7.0]])
    image = render_localizations(locs, shape=(1, 2), pixel_size_nm=20.0, frames=0)
    np.testing.assert_array_equal(image, [[1.0, 0.0]])
    image = render_localizations(locs, shape=(1, 2), pixel_size_nm=20.0, frames=range(1, 3))
    np.testing.assert_array_equal(image, [[1.0, 1.0]])


def test_histogram_matches_pixel_convention_of_from_pixels():
    rows, cols = np.array([0, 3, 3, 7]), np.array([5, 0, 2, 7])
    locs = Localizations.from_pixels(0, rows, cols, pixel_size_nm=16.0)
    image = render_localizations(locs, shape=(8, 8), pixel_size_nm=16.0)
    expected = np.zeros((8, 8))
    expected[rows, cols] = 1.0
    np.testing.assert_array_equal(image, expected)


def test_empty_table_renders_zeros():
    for method, sigma in (("histogram", None), ("gaussian", 10.0)):
        image = render_localizations(Localizations.empty(), shape=(4, 5), pixel_size_nm=10.0, method=method, sigma_nm=sigma)
        np.testing.assert_array_equal(image, np.zeros((4, 5)))


# ---------------------------------------------------------------- gaussian


def _brute_force(locs, shape, p, sigma, weights):
    """Full-image erf profiles for each localization, summed (no truncation)."""
    from scipy.special import erf

    rows, cols = shape
    image = np.zeros(shape)
    for x, y, w in zip(locs.x_nm, locs.y_nm, weights):
        ex = np.arange(cols + 1) * p
        ey = np.arange(rows + 1) * p
        px = 0.5 * np.diff(erf((ex - x) / (math.sqrt(2) * sigma)))
        py = 0.5 * np.diff(erf((ey - y) / (math.sqrt(2) * sigma)))
        image += w * np.outer(py, px)
    return image


def test_gaussian_sums_to_count_far_from_edges():
    rng = np.random.default_rng(3)
    n = 500
    locs = _locs(x=rng.uniform(200.0, 1800.0, n), y=rng.uniform(200.0, 1400.0, n))
    image = render_localizations(locs, shape=(80, 100), pixel_size_nm=20.0, method="gaussian", sigma_nm=25.0)
    assert image.shape == (80, 100) and image.dtype == np.float64
    assert image.sum() == pytest.approx(n, abs=n * 2e-6)
    assert image.min() >= 0.0


def test_gaussian_matches_brute_force_including_edges(monkeypatch):
    # Small batches so that the batch loop is exercised too.
    monkeypatch.setattr(render_module, "_BATCH_VALUES", 300)
    locs = _locs(x=[0.0, 55.0, 123.4, 199.0, -20.0, 260.0], y=[0.0, 40.0, 77.7, 149.0, 30.0, 20.0], photons=[1, 2, 3, 4, 5, 6])
    for weights, w in (("count", np.ones(6)), ("photons", locs.photons)):
        image = render_localizations(locs, shape=(15, 20), pixel_size_nm=10.0, method="gaussian", sigma_nm=12.0, weights=weights)
        np.testing.assert_allclose(image, _brute_force(locs, (15, 20), 10.0, 12.0, w), atol=1e-7 * w.sum())


def test_gaussian_is_centred_and_symmetric():
    # A point at the centre of pixel (2, 2): mass spreads symmetrically.
    locs = _locs(x=[25.0], y=[25.0])
    image = render_localizations(locs, shape=(5, 5), pixel_size_nm=10.0, method="gaussian", sigma_nm=6.0)
    assert np.unravel_index(image.argmax(), image.shape) == (2, 2)
    np.testing.assert_allclose(image, image.T, atol=1e-15)
    np.testing.assert_allclose(image, image[::-1, ::-1], atol=1e-15)
    central = math.erf(5.0 / (math.sqrt(2) * 6.0)) ** 2
    assert image[2, 2] == pytest.approx(central, rel=1e-12)


def test_gaussian_with_tiny_sigma_approaches_histogram():
    rng = np.random.default_rng(5)
    locs = _locs(x=rng.uniform(5.0, 95.0, 50), y=rng.uniform(5.0, 95.0, 50))
    # Keep points away from pixel edges so a 0.01 nm Gaussian stays in one pixel.
    locs = locs.select((np.abs(locs.x_nm % 10 - 5) < 4) & (np.abs(locs.y_nm % 10 - 5) < 4))
    hist = render_localizations(locs, shape=(10, 10), pixel_size_nm=10.0)
    gauss = render_localizations(locs, shape=(10, 10), pixel_size_nm=10.0, method="gaussian", sigma_nm=0.01)
    np.testing.assert_allclose(gauss, hist, atol=1e-12)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shape": (0, 4)}, r"shape must be two positive integers \(rows, columns\), got \(0, 4\)"),
        ({"shape": (4,)}, "shape must be two positive integers"),
        ({"shape": (4.5, 4)}, "shape must be two positive integers"),
        ({"pixel_size_nm": 0.0}, "pixel_size_nm must be a positive number"),
        ({"pixel_size_nm": float("nan")}, "pixel_size_nm must be a positive number"),
        ({"method": "splat"}, "method must be 'histogram' or 'gaussian', got 'splat'"),
        ({"method": "gaussian"}, "method='gaussian' needs sigma_nm"),
        ({"method": "gaussian", "sigma_nm": -1.0}, "sigma_nm must be a positive number"),
        ({"sigma_nm": 10.0}, "sigma_nm is only used by method='gaussian'"),
        ({"weights": "intensity"}, "weights must be 'count' or 'photons'"),
        ({"frames": [0.5]}, "frames must be an int or a sequence of ints"),
    ],
)
def test_validation(kwargs, message):
    args = {"shape": (4, 4), "pixel_size_nm": 10.0, **kwargs}
    with pytest.raises(InputError, match=message):
        render_localizations(_locs(x=[1.0], y=[1.0]), **args)


def test_needs_a_table():
    with pytest.raises(InputError, match="locs must be a Localizations table"):
        render_localizations(np.zeros((3, 2)), shape=(4, 4), pixel_size_nm=10.0)
