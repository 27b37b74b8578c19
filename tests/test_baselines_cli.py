"""`pointillist reconstruct --method sofi|srrf|sparcom|lsparcom`: the contracted files and option checks."""

import json

import numpy as np
import pytest

from pointillist.cli.main import main
from pointillist.io import read_stack


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "sim"
    assert main(["simulate", "fluct", str(out), "--size", "16", "--frames", "200", "--seed", "5",
                 "--n-structures", "1", "--no-preview"]) == 0
    return out


def _args(sim_dir, out, method, *extra):
    return ["reconstruct", str(sim_dir / "stack.tif"), "-o", str(out), "--method", method, "--pixel-size", "100",
            "--psf-fwhm", "258.21", "--upsample", "4", "--offset", "100", "--quiet", *extra]


@pytest.mark.parametrize("method, sparse, extra", [
    ("sofi", False, ()),
    ("sofi", False, ("--order", "3", "--cumulant", "ac")),
    ("srrf", False, ("--temporal", "var")),
    ("srrf", False, ("--variant", "esrrf")),
    ("sparcom", True, ()),
    ("lsparcom", True, ()),
])
def test_each_baseline_writes_the_contracted_files(sim_dir, tmp_path, capsys, method, sparse, extra):
    out = tmp_path / "rec"
    assert main(_args(sim_dir, out, method, *extra)) == 0
    names = {p.name for p in out.iterdir()}
    expected = {"intensity.tif", "run.json", "preview.png"} | ({"support.tif"} if sparse else set())
    assert expected <= names and ("support.tif" in names) == sparse
    image = read_stack(out / "intensity.tif")
    assert image.data.shape == (1, 64, 64) and image.pixel_size_nm == pytest.approx(25.0)
    assert np.all(np.isfinite(image.data)) and image.data.std() > 0
    run = json.loads((out / "run.json").read_text())
    assert run["method"] == method and run["seconds"] > 0 and "image" in run and "parameters" in run
    if sparse:
        truth = sim_dir / "support.tif"
        capsys.readouterr()
        assert main(["evaluate", str(out / "support.tif"), str(truth), "--tolerance-nm", "40", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["jaccard"] > 40
    # nothing is overwritten without --overwrite
    assert main(_args(sim_dir, out, method, *extra)) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(_args(sim_dir, out, method, *extra, "--overwrite")) == 0


@pytest.mark.parametrize("method, option", [
    ("sofi", ("--ring-radius", "1")),
    ("srrf", ("--order", "3")),
    ("sparcom", ("--balanced",)),
    ("lsparcom", ("--lambda-ratio", "0.1")),
    ("colorme", ("--temporal", "var")),
])
def test_an_option_of_another_method_is_refused(sim_dir, tmp_path, capsys, method, option):
    assert main(_args(sim_dir, tmp_path / "o", method, *option)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"not used by --method {method}" in err and option[0] in err
    assert not (tmp_path / "o").exists()


def test_lsparcom_refuses_optics_its_weights_were_not_trained_for(sim_dir, tmp_path, capsys):
    args = _args(sim_dir, tmp_path / "o", "lsparcom")
    args[args.index("--psf-fwhm") + 1] = "400"
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "trained for" in err and "pointillist train --method lsparcom" in err
    assert not (tmp_path / "o").exists()


def test_overwrite_with_another_method_leaves_no_stale_files(sim_dir, tmp_path, capsys):
    out = tmp_path / "rec"
    assert main(_args(sim_dir, out, "sparcom")) == 0
    assert {"support.tif", "convergence.png"} <= {p.name for p in out.iterdir()}
    assert main(_args(sim_dir, out, "sofi", "--overwrite")) == 0
    # the folder is replaced as a whole: nothing of the sparcom run is left
    assert sorted(p.name for p in out.iterdir()) == ["intensity.tif", "preview.png", "run.json"]


@pytest.mark.parametrize("method, option, message", [
    ("srrf", ("--gain", "0"), "gain must be a positive number"),
    ("sofi", ("--lag", "500"), "lag 500"),
    ("sparcom", ("--max-iter", "0"), "max_iter must be a positive integer"),
    ("sofi", ("--order", "3"), "--cumulant ac"),
])
def test_a_refused_run_leaves_no_folder(sim_dir, tmp_path, capsys, method, option, message):
    assert main(_args(sim_dir, tmp_path / "o", method, *option)) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_balanced_sofi_says_what_its_image_is(sim_dir, tmp_path):
    assert main(_args(sim_dir, tmp_path / "b", "sofi", "--balanced")) == 0
    run = json.loads((tmp_path / "b" / "run.json").read_text())
    assert "balanced" in run["image"] and run["parameters"]["balanced"] is True
