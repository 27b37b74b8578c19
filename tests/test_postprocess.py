"""SMLM post-processing: drift (RCC, fiducials), merging, filters, FRC, Picasso and SMLM challenge writers."""

import math

import h5py
import numpy as np
import pytest

from pointillist.errors import InputError
from pointillist.io import read_localizations, write_picasso_hdf5, write_smlm_challenge_csv
from pointillist.localizations import Localizations
from pointillist.postprocess import (
    DriftResult,
    correct_drift,
    density_filter,
    drift_fiducials,
    drift_rcc,
    filter_localizations,
    frc_resolution,
    merge_localizations,
)

N_FRAMES = 2000


def _true_drift():
    t = np.arange(N_FRAMES)
    # linear plus sinusoidal, about 200 nm peak to peak on each axis
    dx = 150.0 * t / N_FRAMES + 50.0 * np.sin(2 * np.pi * t / 1000.0)
    dy = -100.0 * t / N_FRAMES + 80.0 * np.cos(2 * np.pi * t / 1500.0)
    return dx, dy


def _blinking(sites, *, p_on, sigma_nm, seed, drift=True):
    """Each site is on in a frame with probability ``p_on``; localized with Gaussian error ``sigma_nm``."""
    rng = np.random.default_rng(seed)
    frame, site = np.nonzero(rng.random((N_FRAMES, len(sites))) < p_on)
    xy = sites[site] + rng.normal(0.0, sigma_nm, (frame.size, 2))
    if drift:
        dx, dy = _true_drift()
        xy[:, 0] += dx[frame]
        xy[:, 1] += dy[frame]
    return Localizations(frame=frame, x_nm=xy[:, 0], y_nm=xy[:, 1], photons=rng.uniform(500, 1500, frame.size))


def _rms_error(drift: DriftResult) -> float:
    dx, dy = _true_drift()
    ex = (drift.x_nm - drift.x_nm.mean()) - (dx - dx.mean())
    ey = (drift.y_nm - drift.y_nm.mean()) - (dy - dy.mean())
    return float(np.sqrt(np.mean(ex**2 + ey**2)))


def test_rcc_recovers_a_linear_plus_sinusoidal_drift():
    rng = np.random.default_rng(1)
    # random points plus two filaments, so the structure is not a lattice
    points = rng.uniform(500, 8500, size=(200, 2))
    s = rng.uniform(0, 1, size=(100, 1))
    filaments = np.vstack([[1000, 2000] + s * [6000, 4000], [7000, 1000] + s * [-3000, 7000]])
    locs = _blinking(np.vstack([points, filaments]), p_on=0.05, sigma_nm=10.0, seed=2)
    drift = drift_rcc(locs, segment_frames=100, pixel_size_nm=20.0)
    assert drift.frames.tolist() == list(range(N_FRAMES))
    assert abs(drift.x_nm.mean()) < 1e-9 and abs(drift.y_nm.mean()) < 1e-9
    assert _rms_error(drift) < 10.0
    # a drift of the wrong sign or axis would be ~100 nm RMS off: make sure the test can tell
    flipped = DriftResult(frames=drift.frames, x_nm=-drift.x_nm, y_nm=drift.y_nm)
    assert _rms_error(flipped) > 50.0
    corrected = correct_drift(locs, drift)
    assert corrected.frame.tolist() == locs.frame.tolist() and np.array_equal(corrected.photons, locs.photons)


def test_rcc_refuses_a_single_block():
    locs = Localizations(frame=[0, 5], x_nm=[0.0, 1.0], y_nm=[0.0, 1.0])
    with pytest.raises(InputError, match="segment_frames"):
        drift_rcc(locs, segment_frames=100)


def test_fiducials_recover_the_drift_and_fill_missing_frames():
    rng = np.random.default_rng(3)
    beads = np.array([[1000.0, 1000.0], [5000.0, 2000.0], [3000.0, 6000.0]])
    locs = _blinking(beads, p_on=0.9, sigma_nm=5.0, seed=4)
    # background structure far from the beads must not enter the estimate
    clutter = _blinking(rng.uniform(7000, 9000, (50, 2)), p_on=0.05, sigma_nm=10.0, seed=5)
    drift = drift_fiducials(Localizations.concatenate([locs, clutter]), beads, radius_nm=400.0)
    assert _rms_error(drift) < 10.0
    assert _rms_error(DriftResult(frames=drift.frames, x_nm=drift.y_nm, y_nm=drift.x_nm)) > 50.0


def test_fiducial_without_localizations_is_refused():
    locs = Localizations(frame=[0, 1], x_nm=[0.0, 1.0], y_nm=[0.0, 0.0])
    with pytest.raises(InputError, match="fiducial 0"):
        drift_fiducials(locs, [[5000.0, 5000.0]], radius_nm=100.0)


def test_correct_drift_subtracts_per_frame():
    locs = Localizations(frame=[0, 1, 2], x_nm=[10.0, 20.0, 30.0], y_nm=[1.0, 2.0, 3.0])
    drift = DriftResult(frames=np.arange(3), x_nm=np.array([-10.0, 0.0, 10.0]), y_nm=np.array([1.0, 2.0, 3.0]))
    out = drift.apply(locs)
    assert out.x_nm.tolist() == [20.0, 20.0, 20.0] and out.y_nm.tolist() == [0.0, 0.0, 0.0]
    assert locs.x_nm.tolist() == [10.0, 20.0, 30.0]  # input untouched
    with pytest.raises(InputError, match="covers frames"):
        correct_drift(Localizations(frame=[5], x_nm=[0.0], y_nm=[0.0]), drift)


def test_merge_max_frames_splits_a_long_event():
    locs = Localizations(frame=np.arange(10), x_nm=np.full(10, 100.0), y_nm=np.full(10, 50.0))
    assert len(merge_localizations(locs, max_off_frames=0)) == 1
    split = merge_localizations(locs, max_off_frames=0, max_frames=4)
    assert split.frame.tolist() == [0, 4, 8] and split.photons.tolist() == [4.0, 4.0, 2.0]
    with pytest.raises(InputError, match="max_frames must be an integer >= 1"):
        merge_localizations(locs, max_frames=0)


def test_merge_one_emitter_on_for_five_frames():
    locs = Localizations(
        frame=[3, 4, 5, 6, 7],
        x_nm=[100.0, 104.0, 98.0, 102.0, 96.0],
        y_nm=[50.0, 52.0, 48.0, 50.0, 50.0],
        photons=[100.0, 200.0, 300.0, 200.0, 200.0],
        uncertainty_nm=[10.0] * 5,
    )
    merged = merge_localizations(locs, max_distance_nm=20.0, max_off_frames=0)
    assert len(merged) == 1
    assert merged.frame.tolist() == [3]
    assert merged.photons.tolist() == [1000.0]
    # photon-weighted mean: (100*100 + 104*200 + 98*300 + 102*200 + 96*200) / 1000
    assert merged.x_nm[0] == pytest.approx(99.8)
    assert merged.y_nm[0] == pytest.approx(49.8)
    assert merged.uncertainty_nm[0] == pytest.approx(10.0 / math.sqrt(5))
    plain = merge_localizations(locs, max_distance_nm=20.0, max_off_frames=0, weighted=False)
    assert plain.x_nm[0] == pytest.approx(100.0)


def test_merge_keeps_emitters_farther_than_max_distance_apart():
    frame = np.repeat(np.arange(5), 2)
    x = np.tile([100.0, 150.0], 5)
    merged = merge_localizations(Localizations(frame=frame, x_nm=x, y_nm=np.zeros(10)), max_distance_nm=20.0)
    assert len(merged) == 2
    assert sorted(merged.x_nm.tolist()) == [100.0, 150.0]
    assert merged.photons.tolist() == [5.0, 5.0]


def test_merge_gap_longer_than_max_off_frames_splits():
    # frames 0, 1, then dark for 2 frames (2, 3), back at 4
    locs = Localizations(frame=[0, 1, 4], x_nm=[0.0, 1.0, 2.0], y_nm=[0.0, 0.0, 0.0])
    assert len(merge_localizations(locs, max_distance_nm=20.0, max_off_frames=1)) == 2
    assert len(merge_localizations(locs, max_distance_nm=20.0, max_off_frames=2)) == 1


def test_merge_follows_the_last_position_not_the_first():
    # a slow walk: each step is 15 nm, the total 60 nm; ThunderSTORM compares with the last position
    locs = Localizations(frame=np.arange(5), x_nm=15.0 * np.arange(5), y_nm=np.zeros(5))
    assert len(merge_localizations(locs, max_distance_nm=20.0, max_off_frames=0)) == 1


def test_density_filter_removes_isolated_points():
    rng = np.random.default_rng(6)
    cluster = rng.normal(1000.0, 10.0, (50, 2))
    isolated = np.array([[5000.0, 5000.0], [8000.0, 2000.0], [3000.0, 9000.0]])
    xy = np.vstack([cluster, isolated])
    locs = Localizations(frame=np.arange(len(xy)), x_nm=xy[:, 0], y_nm=xy[:, 1])
    kept = density_filter(locs, radius_nm=50.0, min_neighbors=3)
    assert len(kept) == 50
    assert np.all(np.hypot(kept.x_nm - 1000.0, kept.y_nm - 1000.0) < 100.0)


def test_filter_localizations_bounds_are_inclusive():
    locs = Localizations(frame=[0, 1, 2, 3], x_nm=[1.0, 2.0, 3.0, 4.0], y_nm=[0.0] * 4,
                         photons=[50.0, 100.0, 200.0, 300.0])
    assert filter_localizations(locs, min_intensity=100.0, max_intensity=200.0).x_nm.tolist() == [2.0, 3.0]
    assert filter_localizations(locs, first_frame=1, last_frame=2).x_nm.tolist() == [2.0, 3.0]
    assert len(filter_localizations(locs)) == 4
    with pytest.raises(InputError, match="swap"):
        filter_localizations(locs, first_frame=3, last_frame=1)


@pytest.mark.parametrize("sigma_nm", [8.0, 20.0])
def test_frc_resolution_follows_the_localization_blur(sigma_nm):
    rng = np.random.default_rng(7)
    sites = rng.uniform(0, 3000, (300, 2))
    per_site = 30
    xy = np.repeat(sites, per_site, axis=0) + rng.normal(0.0, sigma_nm, (300 * per_site, 2))
    locs = Localizations(frame=np.arange(len(xy)), x_nm=xy[:, 0], y_nm=xy[:, 1])
    res = frc_resolution(locs, pixel_size_nm=sigma_nm / 4, split="random", seed=0).resolution_nm
    # FRC of n/2 blurred copies per site crosses 1/7 near 2 pi sigma / sqrt(ln(3 n)) (about 3 sigma here)
    expected = 2 * math.pi * sigma_nm / math.sqrt(math.log(3 * per_site))
    assert 0.8 * expected < res < 1.25 * expected
    odd_even = frc_resolution(locs, pixel_size_nm=sigma_nm / 4, split="odd-even").resolution_nm
    assert 0.8 * expected < odd_even < 1.25 * expected


def test_frc_split_name_is_checked():
    locs = Localizations(frame=[0, 1], x_nm=[0.0, 1000.0], y_nm=[0.0, 1000.0])
    with pytest.raises(InputError, match="split"):
        frc_resolution(locs, pixel_size_nm=10.0, split="halves")


def test_picasso_file_has_the_documented_layout(tmp_path):
    locs = Localizations(frame=[0, 4, 9], x_nm=[50.0, 160.0, 1000.0], y_nm=[150.0, 50.0, 2050.0],
                         photons=[1000.0, 2000.0, 3000.0], background=[10.0, 11.0, 12.0])
    h5, meta = write_picasso_hdf5(tmp_path / "run.hdf5", locs, pixel_size_nm=100.0, image_shape=(32, 48),
                                  psf_sigma_nm=130.0, uncertainty_nm=15.0)
    assert meta == tmp_path / "run.yaml" and meta.exists()
    with h5py.File(h5, "r") as f:
        table = f["locs"][()]
    names = ["frame", "x", "y", "photons", "sx", "sy", "bg", "lpx", "lpy"]
    assert list(table.dtype.names) == names
    assert table.dtype["frame"] == np.uint32
    assert all(table.dtype[n] == np.float32 for n in names[1:])
    assert table["frame"].tolist() == [0, 4, 9]
    # camera pixels, pixel centre at integer coordinates
    np.testing.assert_allclose(table["x"], [0.0, 1.1, 9.5], atol=1e-6)
    np.testing.assert_allclose(table["y"], [1.0, 0.0, 20.0], atol=1e-6)
    np.testing.assert_allclose(table["lpx"], 0.15, rtol=1e-6)
    np.testing.assert_allclose(table["sx"], 1.3, rtol=1e-6)
    np.testing.assert_allclose(table["bg"], [10.0, 11.0, 12.0])
    text = meta.read_text()
    for line in ("Width: 48", "Height: 32", "Frames: 10", "Pixelsize: 100.0", 'Generated by: "pointillist"'):
        assert line in text.splitlines()
    with pytest.raises(InputError, match="overwrite"):
        write_picasso_hdf5(h5, locs, pixel_size_nm=100.0, image_shape=(32, 48), uncertainty_nm=15.0)
    write_picasso_hdf5(h5, locs, pixel_size_nm=100.0, image_shape=(32, 48), uncertainty_nm=15.0, overwrite=True)


def test_picasso_needs_a_precision(tmp_path):
    locs = Localizations(frame=[0], x_nm=[50.0], y_nm=[50.0])
    with pytest.raises(InputError, match="uncertainty_nm"):
        write_picasso_hdf5(tmp_path / "a.hdf5", locs, pixel_size_nm=100.0, image_shape=(8, 8))
    assert not list(tmp_path.iterdir())


def test_smlm_challenge_csv_reads_back(tmp_path):
    locs = Localizations(frame=[0, 0, 7], x_nm=[1.5, 2.25, 3000.0], y_nm=[4.0, 5.0, 6.125],
                         photons=[100.0, 2000.5, 3.0])
    path = write_smlm_challenge_csv(tmp_path / "gt.csv", locs)
    assert path.read_text().splitlines()[0] == "frame,x [nm],y [nm],intensity"
    back = read_localizations(path)
    assert back.frame.tolist() == [0, 0, 7]
    assert back.x_nm.tolist() == locs.x_nm.tolist() and back.y_nm.tolist() == locs.y_nm.tolist()
    assert back.photons.tolist() == locs.photons.tolist()
    with pytest.raises(InputError, match="overwrite"):
        write_smlm_challenge_csv(path, locs)


def test_rcc_least_squares_drops_an_outlier_pair():
    from pointillist.postprocess.drift import _solve_pairs

    truth = np.array([[0.0, 0.0], [10.0, -5.0], [25.0, 0.0], [30.0, 12.0]])
    pairs = np.array([(i, j) for i in range(4) for j in range(i + 1, 4)])
    shifts = truth[pairs[:, 1]] - truth[pairs[:, 0]]
    shifts[2] += [300.0, -200.0]  # one failed correlation
    np.testing.assert_allclose(_solve_pairs(pairs, shifts, 4, max_residual=5.0), truth, atol=1e-9)
