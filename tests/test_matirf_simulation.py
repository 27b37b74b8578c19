"""The multi-angle TIRF simulator: excitation per angle, ground truth, files and the CLI."""

import csv

import numpy as np
import pytest
import tifffile

from pointillist.cli.main import main
from pointillist.errors import InputError
from pointillist.optics import Optics
from pointillist.simulate import simulate_matirf
from pointillist.tirf import DEFAULT_ANGLES_DEG, TIRFExcitation

OPTICS = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4)
EXC = TIRFExcitation((62.6, 64.4, 66.8, 69.8))


def test_each_angle_sees_the_emitters_through_its_excitation():
    sim = simulate_matirf(optics=OPTICS, excitation=EXC, shape=(24, 24), n_frames=400, structure="points",
                          n_structures=30, snr_db=30, seed=2)
    rows, cols = np.nonzero(sim.support)
    z = sim.depth[rows, cols]
    assert np.all((z >= 0) & (z <= 300)) and np.isnan(sim.depth[sim.support == 0]).all()
    # the light of angle k over that of the first: the same emitters, each weighted by its excitation
    expected = EXC.excitation(z).sum(axis=1)
    totals = sim.stacks.astype(np.float64).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(totals / totals[0], expected / expected[0], rtol=0.05)
    # the shallowest angle sees deep emitters much better than the steepest one
    assert totals[0] > 1.5 * totals[-1]


def test_filaments_have_smooth_depths_that_differ_between_filaments():
    sim = simulate_matirf(optics=OPTICS, excitation=EXC, shape=(32, 32), n_frames=4, n_structures=5, seed=7)
    z = sim.depth
    # neighbours along a filament (4-connected fine pixels) differ by a few nm at most, mostly
    steps = np.concatenate([np.abs(np.diff(z, axis=0)).ravel(), np.abs(np.diff(z, axis=1)).ravel()])
    steps = steps[np.isfinite(steps)]
    assert np.median(steps) < 5
    assert np.nanmax(z) - np.nanmin(z) > 60  # filaments at different depths


def test_same_seed_same_bytes_and_the_volume_holds_the_brightness():
    a = simulate_matirf(optics=OPTICS, excitation=EXC, shape=(12, 12), n_frames=10, n_structures=2, seed=5)
    b = simulate_matirf(optics=OPTICS, excitation=EXC, shape=(12, 12), n_frames=10, n_structures=2, seed=5)
    assert a.stacks.tobytes() == b.stacks.tobytes() and np.array_equal(a.depth, b.depth, equal_nan=True)
    vol = a.volume(np.arange(0, 320, 20.0))
    assert vol.shape == (15, 48, 48)
    np.testing.assert_allclose(vol.sum(axis=0), a.brightness)
    # each emitter sits in the bin of its depth
    r, c = np.argwhere(a.support)[0]
    assert vol[int(a.depth[r, c] // 20), r, c] == a.brightness[r, c]


@pytest.mark.parametrize("kwargs, message", [
    ({"structure": "rings"}, "structure must be one of"),
    ({"depth_range_nm": (200, 100)}, "depth_range_nm"),
    ({"n_frames": 1}, "at least 2 frames"),
    ({"excitation": (63.0, 65.0)}, "TIRFExcitation"),
])
def test_bad_parameters_are_refused(kwargs, message):
    args = {"optics": OPTICS, "excitation": EXC, "shape": (8, 8), "n_frames": 4, "seed": 0, **kwargs}
    with pytest.raises(InputError, match=message):
        simulate_matirf(**args)


def test_cli_writes_one_stack_per_angle_and_angles_csv(tmp_path, capsys):
    out = tmp_path / "mt"
    args = ["simulate", "matirf", str(out), "--size", "16", "--frames", "20", "--angles", "62.6,66.2,69.8",
            "--upsample", "2", "--seed", "1"]
    assert main(args) == 0
    with open(out / "angles.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["file"] for r in rows] == ["angle_01.tif", "angle_02.tif", "angle_03.tif"]
    assert [float(r["angle [deg]"]) for r in rows] == [62.6, 66.2, 69.8]
    d = TIRFExcitation((62.6, 66.2, 69.8)).penetration_depths_nm
    np.testing.assert_allclose([float(r["penetration depth [nm]"]) for r in rows], d, atol=1e-3)
    assert tifffile.imread(out / "angle_02.tif").shape == (20, 16, 16)
    depth = tifffile.imread(out / "depth.tif")
    support = tifffile.imread(out / "support.tif")
    assert depth.shape == (32, 32) and np.isnan(depth[support == 0]).all() and np.isfinite(depth[support == 1]).all()
    assert tifffile.imread(out / "volume.tif").shape == (15, 32, 32)
    assert (out / "preview.png").exists()
    # a second run replaces the folder it wrote (its angle_NN.tif files are pointillist's)
    assert main(args + ["--overwrite"]) == 0
    # angles below the critical angle are refused, naming it
    assert main(["simulate", "matirf", str(tmp_path / "bad"), "--angles", "55,65", "--size", "8"]) == 2
    assert "critical angle" in capsys.readouterr().err
    assert len(DEFAULT_ANGLES_DEG) == 13
