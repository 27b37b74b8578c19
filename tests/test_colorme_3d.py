"""3D-COL0RME end to end on simulated MA-TIRF stacks: lateral support, depth, and the input checks."""

import numpy as np
import pytest
from scipy.ndimage import distance_transform_edt

from pointillist.errors import InputError
from pointillist.methods.colorme3d import colorme_3d
from pointillist.metrics import support_jaccard
from pointillist.optics import Optics
from pointillist.simulate import simulate_matirf
from pointillist.tirf import DEFAULT_ANGLES_DEG, TIRFExcitation

OPTICS = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=4)
EXC = TIRFExcitation(DEFAULT_ANGLES_DEG)


@pytest.fixture(scope="module")
def sim():
    # seed 2: not the stack (seed 1) the shared-mu design was tried on
    return simulate_matirf(optics=OPTICS, excitation=EXC, shape=(24, 24), n_frames=300, n_structures=3, snr_db=15,
                           seed=2)


def test_support_and_depth_are_recovered(sim):
    res = colorme_3d(list(sim.stacks), excitation=EXC, optics=OPTICS, axial_mu=0.0)
    jaccard = support_jaccard(res.support, sim.support.astype(bool), tolerance_px=40 / 25).jaccard
    # depth at the found pixels against the nearest true emitter (within 40 nm)
    dist, (ri, ci) = distance_transform_edt(sim.support == 0, return_indices=True)
    found = res.support & (dist <= 40 / 25)
    truth = sim.depth[ri[found], ci[found]]
    err = res.depth[found] - truth
    assert np.isfinite(err).mean() > 0.95
    err = err[np.isfinite(err)]
    rmse = float(np.sqrt(np.mean(err**2)))
    # measured: Jaccard 81 %, RMSE 29 nm, 71 % within 20 nm; one mu per angle (the first design) gave 52 nm
    # and 16 %, and a constant guess scores the spread of the true depths
    assert jaccard > 70
    assert rmse < 40 and np.mean(np.abs(err) < 20) > 0.5
    assert rmse < 0.75 * float(np.std(truth))  # measured 0.63 (the spread of the true depths is 46 nm)
    assert np.isnan(res.depth[~res.support]).all()
    assert res.intensities.shape == (13, 96, 96) and res.volume.shape == (15, 96, 96)


def test_inputs_are_checked(sim):
    stacks = list(sim.stacks)
    with pytest.raises(InputError, match="12 stacks for 13 angles"):
        colorme_3d(stacks[:12], excitation=EXC, optics=OPTICS)
    with pytest.raises(InputError, match="different frame sizes"):
        colorme_3d(stacks[:12] + [stacks[12][:, :20, :20]], excitation=EXC, optics=OPTICS)
    with pytest.raises(InputError, match="TIRFExcitation"):
        colorme_3d(stacks, excitation=DEFAULT_ANGLES_DEG, optics=OPTICS)
    with pytest.raises(InputError, match="axial_input"):
        colorme_3d(stacks, excitation=EXC, optics=OPTICS, axial_input="both")


def test_reconstruct_3d_cli(tmp_path, capsys):
    import json

    import tifffile

    from pointillist.cli.main import main

    sim = tmp_path / "mt"
    assert main(["simulate", "matirf", str(sim), "--size", "12", "--frames", "60", "--angles", "62.6,64.4,66.8,69.8",
                 "--upsample", "2", "--snr", "20", "--seed", "4", "--no-preview"]) == 0
    stacks = [str(sim / f"angle_0{k}.tif") for k in (1, 2, 3, 4)]
    out = tmp_path / "rec"
    assert main(["reconstruct-3d", *stacks, "--angles", str(sim / "angles.csv"), "-o", str(out), "--upsample", "2",
                 "--quiet"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"support.tif", "intensity.tif", "depth.tif", "volume.tif", "run.json", "preview.png", "angles.png"} <= names
    support = tifffile.imread(out / "support.tif").astype(bool)
    depth = tifffile.imread(out / "depth.tif")
    assert tifffile.imread(out / "intensity.tif").shape == (4, 24, 24) and support.any()
    assert np.isnan(depth[~support]).all() and np.nanmax(depth) <= 300
    record = json.loads((out / "run.json").read_text())
    assert record["method"] == "colorme-3d" and len(record["inputs"]) == 4
    assert record["parameters"]["excitation"]["angles_deg"] == [62.6, 64.4, 66.8, 69.8]
    # a stack the angles file does not list is refused before anything is computed
    assert main(["reconstruct-3d", *stacks[:3], "--angles", str(sim / "angles.csv"), "-o", str(tmp_path / "bad"),
                 "--upsample", "2", "--quiet"]) == 2
    assert "angle_04.tif, which is not among the stacks" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
