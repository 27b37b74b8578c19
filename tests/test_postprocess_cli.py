"""``pointillist postprocess``: the steps, their files and run.json, on a synthetic drifting acquisition."""

import csv
import json

import numpy as np
import pytest

from pointillist.cli.main import main
from pointillist.io import Localizations, read_localizations, write_localizations

N_FRAMES = 1000
DRIFT_X_NM = 200.0  # linear over the acquisition
DRIFT_Y_NM = -100.0
BEAD = (3200.0, 3200.0)  # 700 nm from any site


def true_drift(frame):
    return DRIFT_X_NM * frame / N_FRAMES, DRIFT_Y_NM * frame / N_FRAMES


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """40 sites on in about a third of 1000 frames, plus one bead in every frame, all drifting linearly."""
    rng = np.random.default_rng(3)
    sites = rng.uniform(300.0, 2700.0, (40, 2))
    on = rng.random((N_FRAMES, len(sites))) < 0.3
    frame, site = np.nonzero(on)
    xy = sites[site] + rng.normal(0.0, 8.0, (len(site), 2))
    bead_frames = np.arange(N_FRAMES)
    frame = np.concatenate([frame, bead_frames])
    xy = np.concatenate([xy, np.asarray(BEAD) + rng.normal(0.0, 3.0, (N_FRAMES, 2))])
    dx, dy = true_drift(frame)
    locs = Localizations(frame=frame, x_nm=xy[:, 0] + dx, y_nm=xy[:, 1] + dy,
                         photons=rng.uniform(500.0, 3000.0, len(frame)), uncertainty_nm=np.full(len(frame), 8.0))
    folder = tmp_path_factory.mktemp("postprocess")
    path = write_localizations(folder / "locs_in.csv", locs)
    return path, len(locs)


@pytest.fixture(scope="module")
def full_run(table, tmp_path_factory):
    path, n = table
    out = tmp_path_factory.mktemp("runs") / "out"
    code = main(["postprocess", str(path), "-o", str(out), "--drift", "rcc", "--drift-segment", "200", "--merge",
                 "--frc", "--picasso", "--camera-pixel", "100", "--smlm-csv"])
    return code, out, n


def test_full_run_writes_every_file(full_run):
    code, out, _ = full_run
    assert code == 0
    names = {p.name for p in out.iterdir()}
    assert names == {"locs.csv", "drift.csv", "drift.png", "render.tif", "render.png", "frc.png", "locs.hdf5",
                     "locs.yaml", "locs_smlm.csv", "run.json"}


def test_drift_csv_recovers_the_drift(full_run):
    _, out, _ = full_run
    with open(out / "drift.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["frame", "drift x [nm]", "drift y [nm]"]
    table = np.array(rows[1:], dtype=float)
    assert table.shape == (N_FRAMES, 3)
    np.testing.assert_array_equal(table[:, 0], np.arange(1, N_FRAMES + 1))
    tx, ty = true_drift(np.arange(N_FRAMES))
    for est, true in ((table[:, 1], tx), (table[:, 2], ty)):
        err = (est - est.mean()) - (true - true.mean())
        assert np.sqrt(np.mean(err ** 2)) < 10.0


def test_run_json_records_the_steps(full_run, capsys):
    _, out, n = full_run
    record = json.loads((out / "run.json").read_text())
    assert record["command"] == "postprocess"
    assert [s["step"] for s in record["steps"]] == ["drift", "merge"]
    drift, merge = record["steps"]
    assert drift["parameters"] == {"method": "rcc", "segment_frames": 200}
    assert drift["before"] == drift["after"] == n
    assert merge["parameters"] == {"max_distance_nm": 20.0, "max_off_frames": 1, "max_frames": None}
    assert merge["before"] == n and merge["after"] < 0.7 * n  # blinking events of a few frames merge
    assert record["localizations"] == merge["after"] == len(read_localizations(out / "locs.csv"))
    assert record["render"]["sigma_from"] == "median localization uncertainty"
    assert record["render"]["sigma_nm"] == 8.0
    # 40 sites localized hundreds of times: finer than 2 render pixels (20 nm), which FRC reports as None
    frc = record["frc"]
    assert frc["split"] == "random" and frc["pixel_size_nm"] == 10.0
    assert frc["resolution_nm"] is None or frc["resolution_nm"] < 60.0
    assert len(record["input"]["sha256"]) == 64


def test_picasso_files(full_run):
    h5py = pytest.importorskip("h5py")
    _, out, _ = full_run
    with h5py.File(out / "locs.hdf5", "r") as f:
        table = f["locs"][()]
    merged = read_localizations(out / "locs.csv")
    assert len(table) == len(merged)
    np.testing.assert_allclose(table["x"], merged.x_nm / 100.0 - 0.5, atol=1e-3)
    assert "Pixelsize: 100" in (out / "locs.yaml").read_text()


def test_overwrite_is_refused_without_the_option(table, tmp_path, capsys):
    path, _ = table
    out = tmp_path / "out"
    assert main(["postprocess", str(path), "-o", str(out), "--render", "histogram"]) == 0
    before = (out / "run.json").read_bytes()
    assert main(["postprocess", str(path), "-o", str(out), "--first-frame", "11"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "run.json").read_bytes() == before
    assert main(["postprocess", str(path), "-o", str(out), "--first-frame", "11", "--overwrite"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["steps"][0]["step"] == "filter"
    assert record["steps"][0]["parameters"]["first_frame"] == 11
    assert record["steps"][0]["after"] < record["steps"][0]["before"]
    assert read_localizations(out / "locs.csv").frame.min() == 10  # 0-based in memory


def test_fiducial_drift_and_density_filter(table, tmp_path):
    path, n = table
    beads = tmp_path / "beads.csv"
    beads.write_text(f"x [nm],y [nm]\n{BEAD[0]},{BEAD[1]}\n")
    out = tmp_path / "out"
    assert main(["postprocess", str(path), "-o", str(out), "--drift", "fiducials", "--fiducials", str(beads),
                 "--fiducial-radius", "300", "--density-radius", "30", "--density-min", "5"]) == 0
    table = np.loadtxt(out / "drift.csv", delimiter=",", skiprows=1)
    tx, _ = true_drift(np.arange(N_FRAMES))
    err = (table[:, 1] - table[:, 1].mean()) - (tx - tx.mean())
    assert np.sqrt(np.mean(err ** 2)) < 10.0
    steps = json.loads((out / "run.json").read_text())["steps"]
    assert [s["step"] for s in steps] == ["drift", "density_filter"]
    assert steps[1]["parameters"] == {"radius_nm": 30.0, "min_neighbors": 5}


@pytest.mark.parametrize(("content", "options", "message"), [
    (None, [], "no such file"),
    ('"id","frame","x [nm]","y [nm]"\n', [], "holds no localizations"),
    ("a,b,c\n1,2,3\n", [], "unrecognised header"),
    ("frame,x [nm],y [nm]\n1,10,20\n", ["--picasso"], "--picasso needs --camera-pixel"),
    ("frame,x [nm],y [nm]\n1,10,20\n", ["--drift", "fiducials"], "--drift fiducials needs --fiducials"),
    ("frame,x [nm],y [nm]\n1,10,20\n", ["--density-radius", "20"], "needs both --density-radius"),
    ("frame,x [nm],y [nm]\n1,10,20\n", ["--min-intensity", "100"], "has no intensity column"),
])
def test_bad_input_is_one_line(tmp_path, capsys, content, options, message):
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_text(content)
    assert main(["postprocess", str(path), "-o", str(tmp_path / "out"), *options]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pointillist: error:") and message in err
    assert not (tmp_path / "out").exists()


def test_drift_of_a_simulated_stack_is_recovered_after_localization(tmp_path):
    """Issue 19's known answer: a stack drifting 200 nm (linear in x, sinusoidal in y), DeepCEL0, then RCC."""
    from pointillist import localize
    from pointillist.optics import Optics
    from pointillist.simulate import simulate_smlm

    optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
    n = 200
    f = np.arange(n)
    drift = np.stack([200.0 * f / (n - 1), 100.0 * np.sin(2 * np.pi * f / n)], axis=1)
    sim = simulate_smlm(optics=optics, shape=(32, 32), n_frames=n, structure="tubes", snr_db=15, drift_nm=drift,
                        seed=3)
    write_localizations(tmp_path / "locs.csv", localize(sim.stack, optics=optics, method="deepcel0"))
    out = tmp_path / "post"
    assert main(["postprocess", str(tmp_path / "locs.csv"), "-o", str(out), "--drift", "rcc",
                 "--drift-segment", "10"]) == 0
    with open(out / "drift.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    est = np.array([[float(r["drift x [nm]"]), float(r["drift y [nm]"])] for r in rows])
    truth = drift - drift.mean(axis=0)
    assert np.sqrt(np.mean(truth ** 2)) > 50  # the drift to find is large
    assert np.sqrt(np.mean((est - est.mean(axis=0) - truth) ** 2)) < 10  # measured 4.0 nm


def test_simulated_drift_must_give_one_shift_per_frame():
    from pointillist.errors import InputError
    from pointillist.optics import Optics
    from pointillist.simulate import simulate_smlm

    optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
    with pytest.raises(InputError, match=r"drift_nm must be finite .* shape \(5, 2\)"):
        simulate_smlm(optics=optics, shape=(8, 8), n_frames=5, drift_nm=np.zeros((4, 2)), seed=0)


def test_simulate_smlm_drift_option_records_the_drift(tmp_path):
    assert main(["simulate", "smlm", str(tmp_path / "sim"), "--size", "16", "--frames", "21", "--drift", "200",
                 "--seed", "0", "--no-preview"]) == 0
    drift = np.array(json.loads((tmp_path / "sim" / "meta.json").read_text())["drift_nm"])
    assert drift.shape == (21, 2)
    assert drift[0].tolist() == [0.0, 0.0] and drift[-1, 0] == 200.0 and np.isclose(drift[5, 1], 100.0)
    assert main(["simulate", "smlm", str(tmp_path / "bad"), "--size", "16", "--frames", "5", "--drift", "nan",
                 "--no-preview"]) == 2
