"""Local maxima, plateaus, thresholds and 3x3 centroids on super-resolved grids."""

from __future__ import annotations

import numpy as np
import pytest

from pointillist.detection import find_peaks, grid_to_localizations
from pointillist.errors import InputError

# Sub-pixel (row, col) positions, each at least 0.2 px from a pixel centre so
# that an unrefined position is off by more than the 0.1 px tolerance.
POSITIONS = np.array([[5.3, 6.25], [12.0 - 0.3, 20.2], [20.35, 4.8], [25.2, 25.75]])


def gaussian_image(positions, shape=(32, 32), sigma=0.6, amplitude=10.0):
    rows, cols = np.indices(shape, dtype=np.float64)
    image = np.zeros(shape)
    for r0, c0 in positions:
        image += amplitude * np.exp(-((rows - r0) ** 2 + (cols - c0) ** 2) / (2 * sigma**2))
    return image


def test_gaussians_refined_to_subpixel():
    rows, cols, values = find_peaks(gaussian_image(POSITIONS), threshold=1.0)
    assert rows.size == len(POSITIONS)
    np.testing.assert_allclose(rows, POSITIONS[:, 0], atol=0.1)
    np.testing.assert_allclose(cols, POSITIONS[:, 1], atol=0.1)
    assert np.all(values > 5.0)
    raw_rows, raw_cols, _ = find_peaks(gaussian_image(POSITIONS), threshold=1.0, refine=False)
    np.testing.assert_array_equal(raw_rows, np.round(POSITIONS[:, 0]))
    np.testing.assert_array_equal(raw_cols, np.round(POSITIONS[:, 1]))


def test_plateau_gives_one_peak_at_first_raster_pixel():
    image = np.zeros((6, 6))
    image[2:4, 1:3] = 5.0
    rows, cols, values = find_peaks(image, threshold=0.0, refine=False)
    assert (rows.tolist(), cols.tolist(), values.tolist()) == ([2.0], [1.0], [5.0])
    # A plateau touching only diagonally is still one plateau.
    diagonal = np.zeros((6, 6))
    diagonal[1, 1] = diagonal[2, 2] = diagonal[3, 3] = 1.0
    assert find_peaks(diagonal, threshold=0.0)[0].size == 1


def test_equal_maxima_within_footprint_merge():
    # Two equal maxima two pixels apart with a dip between them: separate
    # peaks with a 3x3 footprint, one (the first) with a 5x5 footprint.
    image = np.zeros((7, 9))
    image[3, 3] = image[3, 5] = 4.0
    image[3, 4] = 1.0
    assert find_peaks(image, threshold=0.0, refine=False)[1].tolist() == [3.0, 5.0]
    assert find_peaks(image, threshold=0.0, footprint=5, refine=False)[1].tolist() == [3.0]
    # A lower neighbour within the footprint is suppressed.
    image[3, 5] = 3.0
    assert find_peaks(image, threshold=0.0, footprint=5, refine=False)[1].tolist() == [3.0]


def test_threshold_is_strict():
    image = np.zeros((9, 9))
    image[2, 2] = 1.0
    image[6, 6] = 2.0
    assert find_peaks(image, threshold=1.0)[0].tolist() == [6.0]
    assert find_peaks(image, threshold=0.5)[0].tolist() == [2.0, 6.0]
    assert find_peaks(image, threshold=2.0)[0].size == 0


def test_border_peak_and_clamped_centroid():
    image = np.zeros((4, 4))
    image[0, 0] = 3.0
    image[0, 1] = 1.0
    image[1, 0] = -5.0  # negative values weigh 0 in the centroid
    rows, cols, _ = find_peaks(image, threshold=0.0)
    assert rows.tolist() == [0.0]
    assert cols.tolist() == [0.25]


def test_grid_to_localizations_units_frames_and_photons():
    stack = np.zeros((3, 8, 8))
    stack[0, 2, 3] = 2.0
    stack[0, 2, 4] = 2.0  # plateau with (2, 3): one peak
    stack[2, 5, 1] = 4.0
    stack[2, 5, 2] = 1.0
    stack[2, 4, 1] = -1.0
    locs = grid_to_localizations(stack, pixel_size_nm=25.0, threshold=0.5, first_frame=10)
    assert locs.frame.tolist() == [10, 12]
    # Plateau peak at (2, 3): 3x3 centroid is 1/2 px right of pixel 3.
    np.testing.assert_allclose(locs.x_nm, [(3.5 + 0.5) * 25.0, (1.2 + 0.5) * 25.0])
    np.testing.assert_allclose(locs.y_nm, [(2 + 0.5) * 25.0, (5 + 0.5) * 25.0])
    np.testing.assert_allclose(locs.photons, [4.0, 5.0])
    unrefined = grid_to_localizations(stack[0], pixel_size_nm=25.0, threshold=0.5, refine=False)
    assert (unrefined.x_nm.tolist(), unrefined.y_nm.tolist()) == ([87.5], [62.5])


def test_grid_to_localizations_matches_find_peaks_per_frame():
    rng = np.random.default_rng(3)
    stack = np.stack([gaussian_image(rng.uniform(2, 30, (6, 2))) for _ in range(4)])
    locs = grid_to_localizations(stack, pixel_size_nm=10.0, threshold=1.0)
    for k, image in enumerate(stack):
        rows, cols, _ = find_peaks(image, threshold=1.0)
        mine = locs.in_frame(k)
        np.testing.assert_allclose(mine.x_nm, (cols + 0.5) * 10.0)
        np.testing.assert_allclose(mine.y_nm, (rows + 0.5) * 10.0)


def test_empty_results():
    assert find_peaks(np.zeros((5, 5)), threshold=0.0)[0].size == 0
    assert len(grid_to_localizations(np.zeros((2, 5, 5)), pixel_size_nm=25.0, threshold=0.0)) == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"footprint": 4}, "footprint"),
        ({"footprint": 0}, "footprint"),
        ({"footprint": 3.0}, "footprint"),
        ({"threshold": np.nan}, "threshold"),
    ],
)
def test_option_validation(kwargs, message):
    options = {"threshold": 0.0, **kwargs}
    with pytest.raises(InputError, match=message):
        find_peaks(np.zeros((5, 5)), **options)
    with pytest.raises(InputError, match=message):
        grid_to_localizations(np.zeros((5, 5)), pixel_size_nm=25.0, **options)


def test_input_validation():
    with pytest.raises(InputError, match="2-D"):
        find_peaks(np.zeros((2, 5, 5)), threshold=0.0)
    with pytest.raises(InputError, match="3-D"):
        grid_to_localizations(np.zeros(5), pixel_size_nm=25.0, threshold=0.0)
    with pytest.raises(InputError, match="3-D"):
        grid_to_localizations(np.zeros((1, 2, 5, 5)), pixel_size_nm=25.0, threshold=0.0)
    bad = np.zeros((5, 5))
    bad[1, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        find_peaks(bad, threshold=0.0)
    with pytest.raises(InputError, match="pixel_size_nm"):
        grid_to_localizations(np.zeros((5, 5)), pixel_size_nm=0.0, threshold=0.0)
    with pytest.raises(InputError, match="first_frame"):
        grid_to_localizations(np.zeros((5, 5)), pixel_size_nm=25.0, threshold=0.0, first_frame=-1)


def test_many_frames_runs_quickly():
    # 361 frames of 256x256 with ~220 peaks each; not timed, only run.
    rng = np.random.default_rng(0)
    stack = np.zeros((361, 256, 256), np.float32)
    n = 361 * 220
    frame = np.repeat(np.arange(361), 220)
    rows, cols = rng.integers(2, 254, (2, n))
    stack[frame, rows, cols] = rng.uniform(1.0, 2.0, n)
    locs = grid_to_localizations(stack, pixel_size_nm=25.0, threshold=0.5)
    occupied = np.unique(frame * 65536 + rows * 256 + cols).size
    assert len(locs) <= occupied and len(locs) > 0.95 * occupied
    assert locs.n_frames == 361
