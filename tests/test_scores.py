"""Detection ratios, specificity on the fine grid, image scores and support matching."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pointillist.errors import InputError
from pointillist.localizations import Localizations
from pointillist.metrics import (
    binary_detections,
    jaccard,
    match_localizations,
    nmse,
    psnr,
    snr_db,
    specificity,
    support_jaccard,
)


def test_jaccard_hand_values():
    assert jaccard(3, 1, 2) == pytest.approx(50.0)
    assert jaccard(0, 4, 0) == 0.0
    assert jaccard(0, 0, 0) == 100.0


def test_specificity_formula():
    # 2 frames of 8x8 fine pixels: TN = 128 - 3 - 1 - 2 = 122.
    assert specificity(3, 1, 2, 2 * 64) == pytest.approx(100 * 122 / 123)
    assert specificity(0, 0, 5, 5) == 100.0


def test_specificity_deepstorm_binary_reading():
    # "Every positive pixel is a detection" with 90 % of 256^2 pixels positive
    # and ~217 molecules all found gives specificity ~ 10 %, the order of the
    # 12-13 % reported for Deep-STORM in the DeepCEL0 paper.
    n_pixels = 256 * 256
    fp = int(0.9 * n_pixels) - 217
    assert 9.0 < specificity(217, fp, 0, n_pixels) < 11.0


@pytest.mark.parametrize(
    "args, message",
    [((3, 1, 2, 5), "n_pixels"), ((-1, 0, 0, 10), "tp"), ((1.5, 0, 0, 10), "tp"), ((0, True, 0, 10), "fp")],
)
def test_specificity_validation(args, message):
    with pytest.raises(InputError, match=message):
        specificity(*args)


def test_snr_of_known_noise():
    clean = np.full((10, 100), 2.0)
    noise = np.where(np.arange(1000).reshape(10, 100) % 2 == 0, 0.2, -0.2)
    # |clean|^2 = 4000, |noise|^2 = 40: 20 dB.
    assert snr_db(clean, clean + noise) == pytest.approx(20.0)
    assert snr_db(clean, clean) == math.inf


def test_psnr_of_known_mse():
    reference = np.zeros((8, 8))
    reference[3, 4] = 4.0
    estimate = reference + np.where(np.indices((8, 8)).sum(0) % 2 == 0, 0.5, -0.5)
    # peak 4, MSE 0.25: 10 log10(64).
    assert psnr(reference, estimate) == pytest.approx(10 * math.log10(64))
    assert psnr(reference, estimate, data_range=1.0) == pytest.approx(10 * math.log10(4))
    assert psnr(reference, reference) == math.inf


def test_nmse():
    assert nmse([3.0, 4.0], [3.0, 3.0]) == pytest.approx(1 / 25)
    with pytest.raises(InputError, match="all zeros"):
        nmse([0.0, 0.0], [1.0, 1.0])


@pytest.mark.parametrize("func", [snr_db, psnr, nmse])
def test_image_scores_validation(func):
    with pytest.raises(InputError, match="shape"):
        func(np.ones((4, 4)), np.ones((4, 5)))
    with pytest.raises(InputError, match="NaN"):
        func(np.ones(3), np.array([1.0, np.nan, 1.0]))
    with pytest.raises(InputError, match="empty"):
        func(np.ones(0), np.ones(0))


def test_psnr_rejects_unusable_peak():
    with pytest.raises(InputError, match="data_range"):
        psnr(np.zeros(4), np.ones(4))
    with pytest.raises(InputError, match="data_range"):
        psnr(np.ones(4), np.ones(4), data_range=0.0)


def test_support_jaccard_diagonal_shift():
    truth = np.zeros((16, 16), bool)
    truth[[3, 8, 12], [4, 9, 2]] = True
    pred = np.roll(truth, (1, 1), axis=(0, 1))
    at_40nm = support_jaccard(pred, truth, tolerance_px=1.6)
    assert (at_40nm.tp, at_40nm.fp, at_40nm.fn) == (3, 0, 0)
    np.testing.assert_allclose(at_40nm.distances_nm, math.sqrt(2))
    at_25nm = support_jaccard(pred, truth, tolerance_px=1.0)
    assert (at_25nm.tp, at_25nm.fp, at_25nm.fn) == (0, 3, 3)
    in_nm = support_jaccard(pred, truth, tolerance_px=1.6, pixel_size_nm=25.0)
    assert in_nm.rmse_nm == pytest.approx(25.0 * math.sqrt(2))


def test_support_jaccard_crop_and_numeric_masks():
    truth = np.zeros((10, 10))
    truth[0, 0] = 1.0  # removed by the crop
    truth[5, 5] = 0.3
    pred = np.zeros((10, 10))
    pred[5, 5] = 2.0
    pred[9, 9] = 1.0  # removed by the crop
    full = support_jaccard(pred, truth, tolerance_px=0)
    assert (full.tp, full.fp, full.fn) == (1, 1, 1)
    cropped = support_jaccard(pred, truth, tolerance_px=0, crop=1)
    assert (cropped.tp, cropped.fp, cropped.fn) == (1, 0, 0)


def test_support_jaccard_validation():
    with pytest.raises(InputError, match="shape"):
        support_jaccard(np.ones((4, 4)), np.ones((4, 5)), tolerance_px=1)
    with pytest.raises(InputError, match="2-D"):
        support_jaccard(np.ones((2, 4, 4)), np.ones((2, 4, 4)), tolerance_px=1)
    with pytest.raises(InputError, match="crop"):
        support_jaccard(np.ones((4, 4)), np.ones((4, 4)), tolerance_px=1, crop=2)
    with pytest.raises(InputError, match="NaN"):
        support_jaccard(np.full((4, 4), np.nan), np.ones((4, 4)), tolerance_px=1)


def test_binary_detections_protocol():
    stack = np.zeros((2, 4, 4))
    stack[0, 1, 2] = 0.5
    stack[1, 3, 0] = 2.0
    stack[1, 0, 0] = -1.0
    f, r, c = binary_detections(stack)
    assert (f.tolist(), r.tolist(), c.tolist()) == ([0, 1], [1, 3], [2, 0])
    assert binary_detections(stack, threshold=1.0)[0].tolist() == [1]
    rows, cols = binary_detections(stack[0])
    assert (rows.tolist(), cols.tolist()) == ([1], [2])
    # Fed into the localization matcher at delta = 0 against grid-centred truth.
    pred = Localizations.from_pixels(f, r, c, pixel_size_nm=25.0)
    true = Localizations(frame=[0, 1], x_nm=[62.5, 12.5], y_nm=[37.5, 87.5])
    assert match_localizations(pred, true, tolerance_nm=0).tp == 2
    with pytest.raises(InputError, match="2-D"):
        binary_detections(np.ones(5))


def test_correlation_ignores_scale_and_offset_and_rejects_constants():
    from pointillist.metrics import correlation

    rng = np.random.default_rng(0)
    a = rng.normal(size=(8, 8))
    assert correlation(a, 3 * a + 2) == pytest.approx(1.0)
    assert correlation(a, -a) == pytest.approx(-1.0)
    assert abs(correlation(a, rng.normal(size=(8, 8)))) < 0.4
    with pytest.raises(InputError, match="constant"):
        correlation(a, np.ones((8, 8)))


def test_frc_resolution_follows_the_blur():
    from scipy.ndimage import gaussian_filter

    from pointillist.metrics import fourier_ring_correlation

    rng = np.random.default_rng(1)
    truth = np.zeros((128, 128))
    truth[rng.integers(0, 128, 300), rng.integers(0, 128, 300)] = 1.0
    res = {}
    for s in (2.0, 4.0):
        t = gaussian_filter(truth, s)
        a, b = (t + 0.002 * rng.normal(size=t.shape) for _ in range(2))
        res[s] = fourier_ring_correlation(a, b, pixel_size_nm=10.0).resolution_nm
    assert 25 < res[2.0] < 55 and 1.6 < res[4.0] / res[2.0] < 2.4
    # independent noise images do not correlate: beyond the first few (small, noisy) rings the curve is ~0
    noise = fourier_ring_correlation(rng.normal(size=(64, 64)), rng.normal(size=(64, 64)), pixel_size_nm=10.0)
    assert abs(noise.curve[4:].mean()) < 0.05 and noise.resolution_nm > 2 * res[2.0]
    with pytest.raises(InputError, match="same shape"):
        fourier_ring_correlation(np.zeros((20, 20)), np.zeros((20, 21)), pixel_size_nm=1.0)
