import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from pointillist.errors import InputError
from pointillist.figures import save_simulation_preview
from pointillist.io import read_localizations, read_stack, write_simulation
from pointillist.operators import imaging_operator
from pointillist.optics import Optics
from pointillist.simulate import (
    Camera,
    add_noise_at_snr,
    blinking,
    emitter_circle,
    emitter_pair,
    filaments,
    render_events,
    simulate_fluctuation,
    simulate_smlm,
)

OPTICS = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4)


def test_render_matches_imaging_operator_at_fine_pixel_centres():
    # an emitter at a fine-pixel centre must render exactly as Psi of a unit spike
    rows, cols = np.array([5, 30, 31]), np.array([7, 12, 40])
    fine = OPTICS.fine_pixel_nm
    img = render_events(
        np.zeros(3, int), (cols + 0.5) * fine, (rows + 0.5) * fine, [100.0, 200.0, 300.0],
        n_frames=1, shape=(12, 12), pixel_size_nm=100.0, sigma_nm=OPTICS.sigma_nm,
    )[0]
    x = torch.zeros(48, 48, dtype=torch.float64)
    x[rows, cols] = torch.tensor([100.0, 200.0, 300.0], dtype=torch.float64)
    np.testing.assert_allclose(img, imaging_operator(OPTICS, (12, 12))(x).numpy(), atol=1e-10)


def test_render_centroid_is_the_emitter_position():
    img = render_events([0], [1234.0], [2345.0], [1.0], n_frames=1, shape=(40, 40), pixel_size_nm=100.0, sigma_nm=110.0)[0]
    yy, xx = np.mgrid[:40, :40]
    assert (img * (xx + 0.5) * 100).sum() / img.sum() == pytest.approx(1234.0, abs=1e-6)
    assert (img * (yy + 0.5) * 100).sum() / img.sum() == pytest.approx(2345.0, abs=1e-6)


def test_structures_lie_in_the_field_and_resolution_tests_are_exact():
    xy = filaments(4, fov_nm=(3000, 2000), diameter_nm=30, rng=2)
    assert xy.shape[0] > 100 and xy[:, 0].max() <= 2000 and xy[:, 1].max() <= 3000 and xy.min() >= 0
    # consecutive emitters of a thin filament are spacing_nm apart
    thin = filaments(1, fov_nm=(3000, 3000), spacing_nm=5.0, rng=3)
    np.testing.assert_allclose(np.linalg.norm(np.diff(thin, axis=0), axis=1), 5.0, rtol=1e-9)
    pair = emitter_pair(75.0, center_nm=(500.0, 500.0))
    assert np.linalg.norm(pair[0] - pair[1]) == pytest.approx(75.0) and pair[0, 0] == pair[1, 0]
    circle = emitter_circle(125.0, center_nm=(0, 0))
    np.testing.assert_allclose(np.linalg.norm(circle, axis=1), 125.0)


def test_blinking_statistics():
    ph = blinking(5000, 100, on_probability=0.2, brightness=10.0, rng=1)
    assert set(np.unique(ph)) == {0.0, 10.0}
    assert (ph > 0).mean() == pytest.approx(0.2, abs=0.005)
    tel = blinking(400, 400, on_probability=0.25, brightness=1.0, model="telegraph", mean_on_frames=3.0, rng=2)
    assert tel.mean() == pytest.approx(0.25, abs=0.02)  # stationary on-fraction
    assert tel.max() <= 1.0 + 1e-12 and tel.min() >= 0
    # telegraph is correlated in time, bernoulli is not
    lag1 = np.mean([np.corrcoef(tel[:-1, e], tel[1:, e])[0, 1] for e in range(50)])
    assert lag1 > 0.3


def test_snr_is_reached():
    rng = np.random.default_rng(0)
    clean = rng.random((5, 32, 32)) * 200 + 10
    for snr in (10.0, 15.0):
        noisy, achieved = add_noise_at_snr(clean, snr, rng=1)
        measured = 10 * np.log10((clean**2).sum(axis=(1, 2)) / ((noisy - clean) ** 2).sum(axis=(1, 2)))
        np.testing.assert_allclose(measured, achieved)
        np.testing.assert_allclose(measured, snr, atol=1e-9)
    with pytest.raises(InputError, match="Poisson noise alone"):
        add_noise_at_snr(np.full((1, 8, 8), 2.0), 30.0, rng=0)


def test_smlm_simulation_ground_truth_and_determinism():
    kw = dict(optics=OPTICS, shape=(32, 32), n_frames=10, density_per_um2=6.0)
    a = simulate_smlm(seed=3, **kw)
    b = simulate_smlm(seed=3, **kw)
    c = simulate_smlm(seed=4, **kw)
    assert np.array_equal(a.stack, b.stack) and not np.array_equal(a.stack, c.stack)
    # density: about 6 per um^2 on 3.2 x 3.2 um
    assert len(a.ground_truth) / 10 == pytest.approx(6 * 10.24, rel=0.25)
    assert a.stack.dtype == np.uint16
    # the camera offset and background are where they should be
    # offset + background + the photons of the emitters (a few % leave the field at the edges)
    signal = a.ground_truth.photons.sum() / a.stack.size
    assert 0.85 * signal < a.stack.mean() - (50 + 20) < signal


def test_smlm_snr_mode_is_float_photons():
    sim = simulate_smlm(optics=OPTICS, shape=(32, 32), n_frames=4, snr_db=12.0, seed=1)
    assert sim.stack.dtype == np.float32
    assert sim.meta["snr_db_achieved_mean"] == pytest.approx(12.0, abs=0.2)


def test_fluctuation_ground_truth_is_consistent():
    sim = simulate_fluctuation(optics=OPTICS, shape=(16, 16), n_frames=400, n_structures=2, on_probability=0.3,
                               brightness=200.0, seed=5)
    support = sim.support.astype(bool)
    assert support.sum() == sim.meta["n_emitters"] > 20
    assert np.all(sim.mean_intensity[~support] == 0)
    # each pixel's mean is a binomial average: 60 +- 4.6 photons over 400 frames
    assert sim.mean_intensity[support].mean() == pytest.approx(0.3 * 200, rel=0.02)
    assert np.abs(sim.mean_intensity[support] - 60).max() < 5 * 4.6
    np.testing.assert_allclose(sim.variance[support].mean(), 200**2 * 0.3 * 0.7, rtol=0.05)
    # temporal mean of the stack = Psi(mean intensity) + background + offset
    psi = imaging_operator(OPTICS, (16, 16))
    model = psi(torch.as_tensor(sim.mean_intensity)).numpy() + 50 + 100
    np.testing.assert_allclose(sim.stack.mean(axis=0), model, atol=3.0)
    # noise variance: background + read noise^2 + the signal's own shot noise
    assert 50 + 4 < sim.meta["noise_variance_photons"] < 50 + 4 + 0.3 * 200


def test_camera_validation():
    with pytest.raises(InputError, match="gain"):
        Camera(gain=0)
    with pytest.raises(InputError, match="structure must be one of"):
        simulate_smlm(optics=OPTICS, shape=(16, 16), n_frames=1, structure="stars", seed=0)
    with pytest.raises(InputError, match="seed"):
        simulate_smlm(optics=OPTICS, shape=(16, 16), n_frames=1, seed=-1)


def test_simulator_detection_and_metrics_load_neither_io_nor_matplotlib():
    code = (
        "import sys\n"
        "import pointillist.detection, pointillist.metrics\n"
        "from pointillist import Optics\n"
        "from pointillist.simulate import simulate_fluctuation, simulate_smlm\n"
        "o = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=2)\n"
        "simulate_smlm(optics=o, shape=(8, 8), n_frames=2, seed=0)\n"
        "simulate_fluctuation(optics=o, shape=(8, 8), n_frames=3, seed=0)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'\n"
        "             or m.startswith(('pointillist.io', 'pointillist.figures'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_written_smlm_simulation_reads_back_unchanged(tmp_path):
    sim = simulate_smlm(optics=OPTICS, shape=(16, 16), n_frames=3, seed=2)
    paths = write_simulation(sim, tmp_path / "sim")
    assert [p.name for p in paths] == ["stack.tif", "ground_truth.csv", "meta.json"]
    stack = read_stack(paths[0], mmap=False)
    assert np.array_equal(stack.data, sim.stack) and stack.pixel_size_nm == pytest.approx(100.0)
    gt = read_localizations(paths[1])
    assert np.array_equal(gt.frame, sim.ground_truth.frame)
    np.testing.assert_allclose(gt.xy_nm, sim.ground_truth.xy_nm, atol=1e-6)
    assert json.loads(paths[2].read_text()) == sim.meta
    with pytest.raises(InputError, match="exists"):
        write_simulation(sim, tmp_path / "sim")
    with pytest.raises(InputError, match="simulate_smlm, simulate_fluctuation or simulate_matirf"):
        write_simulation(sim.stack, tmp_path / "other")


def test_files_of_a_fluctuation_simulation(tmp_path):
    sim = simulate_fluctuation(optics=OPTICS, shape=(8, 8), n_frames=5, n_structures=1, seed=3)
    paths = write_simulation(sim, tmp_path / "b")
    paths.append(save_simulation_preview(tmp_path / "b" / "preview.png", sim))
    assert [p.name for p in paths] == [
        "stack.tif", "support.tif", "mean_intensity.tif", "variance.tif", "meta.json", "preview.png"]
    fine = read_stack(paths[1], mmap=False)
    assert np.array_equal(fine.data[0], sim.support) and fine.pixel_size_nm == pytest.approx(25.0)


@pytest.mark.parametrize(("kind", "option", "value", "message"), [
    ("smlm", "snr_db", float("nan"), r"snr_db \(dB\) must be a number in \[-40, 100\], got nan"),
    ("smlm", "snr_db", 1e6, r"snr_db \(dB\) must be a number in \[-40, 100\]"),
    ("smlm", "density_per_um2", float("inf"), r"density_per_um2 must be a number in \(0, 10000\), got inf"),
    ("smlm", "photons_mean", -1.0, r"photons_mean must be a number in \(0, 1e\+09\)"),
    ("smlm", "photons_std", float("nan"), r"photons_std must be a number in \[0, 1e\+09\)"),
    ("fluct", "snr_db", float("inf"), r"snr_db \(dB\) must be a number"),
    ("fluct", "on_probability", 2.0, r"on_probability must be a number in \(0, 1\], got 2.0"),
    ("fluct", "brightness", float("nan"), r"brightness \(photons per frame\) must be a number in \(0, 1e\+09\)"),
    ("fluct", "mean_on_frames", 0.0, r"mean_on_frames must be a number in \(0, 1e\+09\)"),
])
def test_non_finite_or_out_of_range_options_are_named(kind, option, value, message):
    from pointillist.optics import Optics
    from pointillist.simulate import simulate_fluctuation, simulate_smlm

    simulate = simulate_smlm if kind == "smlm" else simulate_fluctuation
    with pytest.raises(InputError, match=message):
        simulate(optics=Optics(pixel_size_nm=100, psf_fwhm_nm=258.21), shape=(8, 8), n_frames=3, seed=0,
                 **{option: value})
