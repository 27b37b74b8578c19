"""The DeepCEL0 paper's on-grid tests and pixel scoring (a benchmark helper, benchmarks/paper_protocol.py)."""

import sys
from pathlib import Path

import numpy as np
import pytest

from pointillist import Optics
from pointillist.localizations import Localizations

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from paper_protocol import gt_counts, match_pixels, noisy_tests, paper_clean_frames, pixel_scores  # noqa: E402

OPTICS = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)


def test_counts_put_each_emitter_in_the_pixel_that_holds_it():
    gt = Localizations(frame=[0, 0, 0, 1], x_nm=[0.0, 24.99, 25.0, 99.0], y_nm=[0.0, 0.0, 50.0, 26.0])
    counts = gt_counts(gt, 2, (4, 4), 25.0)
    assert counts[0, 0, 0] == 2  # two emitters in one pixel: twice the light
    assert counts[0, 2, 1] == 1 and counts[1, 1, 3] == 1
    assert counts.sum() == 4


def test_clean_frames_are_the_binned_blur_and_keep_the_flux_of_a_central_emitter():
    x = np.zeros((1, 64, 64))
    x[0, 30, 33] = 1000.0
    y = paper_clean_frames(x, OPTICS)
    assert y.shape == (1, 16, 16)
    assert y.sum() == pytest.approx(1000.0, rel=1e-6)
    assert np.unravel_index(y[0].argmax(), (16, 16)) == (7, 8)  # fine (30, 33) lies in camera pixel (7, 8)


def test_noise_reaches_each_frames_snr():
    clean = np.full((4, 16, 16), 200.0)
    noisy = noisy_tests(clean, {"mixed": (10.0, 15.0), "fixed": (12.0, 12.0)}, seed=0)
    for name, (lo, hi) in (("mixed", (10.0, 15.0)), ("fixed", (12.0, 12.0))):
        err = ((noisy[name] - clean) ** 2).sum(axis=(1, 2))
        snr = 10 * np.log10((clean**2).sum(axis=(1, 2)) / err)
        assert np.all(snr > lo - 1e-3) and np.all(snr < hi + 1e-3)
    assert np.ptp(snr) < 1e-3  # "fixed": the same SNR in every frame


def test_chebyshev_accepts_the_diagonal_that_euclidean_refuses():
    true = np.array([[0, 10, 10]])
    pred = np.array([[0, 12, 12]])
    assert match_pixels(pred, true, 2, n_pixels=400).tp == 0  # hypot(2, 2) > 2
    assert match_pixels(pred, true, 2, metric="chebyshev", n_pixels=400).tp == 1


def test_matching_is_one_to_one_per_frame_and_maximal():
    true = np.array([[0, 5, 5], [0, 5, 7], [1, 5, 5]])
    pred = np.array([[0, 5, 6], [0, 5, 8], [1, 30, 30]])
    m = match_pixels(pred, true, 1, n_pixels=1000)
    # (5, 6) may take either truth; the optimum gives (5, 7) to (5, 8)
    assert (m.tp, m.fp, m.fn) == (2, 1, 1)


def test_every_positive_pixel_is_a_detection_and_specificity_counts_the_grid():
    truth = np.zeros((2, 10, 10), int)
    truth[0, 2, 2] = 2  # one molecule (a pixel), however many emitters
    truth[1, 7, 7] = 1
    images = np.zeros((2, 10, 10))
    images[0, 2, 3] = 5.0
    images[0, 8, 8] = 1e-6
    r = pixel_scores(images, truth, (1, 2))
    assert (r["tp"], r["fp"], r["fn"]) == (1, 1, 1)
    assert r["ji_1"] == pytest.approx(100 / 3)
    assert r["specificity"] == pytest.approx(100 * 197 / 198)  # TN = 200 - 3


def test_dense_maps_stay_cheap():
    truth = np.zeros((3, 256, 256), int)
    truth[:, 100:110, 50] = 1
    images = np.ones((3, 256, 256))  # Deep-STORM's "every pixel positive" map
    r = pixel_scores(images, truth, (2,))
    assert r["tp"] == 30 and r["fp"] == 3 * 256 * 256 - 30


def test_greedy_assignment_can_pair_fewer_than_the_optimum():
    true = np.array([[0, 5, 5], [0, 5, 7]])
    pred = np.array([[0, 5, 6], [0, 5, 3]])  # (5, 3) reaches (5, 5) only
    assert match_pixels(pred, true, 2, n_pixels=100).tp == 2
    assert match_pixels(pred, true, 2, n_pixels=100, assignment="greedy").tp == 1
