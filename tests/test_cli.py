import json
import subprocess
import sys

import pytest

from pointillist.cli.main import main


def run_cli(*args, capsys=None):
    code = main([str(a) for a in args])
    return code


def test_simulate_smlm_twice_gives_identical_files_and_perfect_self_score(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert main(["simulate", "smlm", str(out), "--frames", "20", "--density", "6", "--snr", "12", "--seed", "1",
                     "--size", "32"]) == 0
    names = sorted(p.name for p in a.iterdir())
    assert names == ["ground_truth.csv", "meta.json", "preview.png", "stack.tif"]
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    capsys.readouterr()
    assert main(["evaluate", str(a / "ground_truth.csv"), str(a / "ground_truth.csv"), "--tolerance-nm", "50", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["jaccard"] == 100 and scores["fp"] == 0 and scores["fn"] == 0 and scores["tp"] > 100
    assert set(scores) >= {"jaccard", "recall", "precision", "rmse_nm", "tp", "fp", "fn"}


def test_simulate_fluct_writes_fine_grid_truth(tmp_path):
    out = tmp_path / "f"
    assert main(["simulate", "fluct", str(out), "--frames", "30", "--size", "16", "--seed", "2", "--no-preview"]) == 0
    from pointillist.io import read_stack

    support = read_stack(out / "support.tif")
    assert support.data.shape == (1, 64, 64) and support.pixel_size_nm == pytest.approx(25.0)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["seed"] == 2 and meta["optics"]["upsample"] == 4


def test_existing_output_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "o"
    args = ["simulate", "smlm", str(out), "--frames", "2", "--size", "16", "--seed", "1", "--no-preview"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--overwrite" in err
    assert main(args + ["--overwrite"]) == 0


@pytest.mark.parametrize("content", [None, "just some text\n"])
def test_info_on_bad_files_is_one_line_and_code_2(tmp_path, capsys, content):
    path = tmp_path / "x.tif"
    if content is not None:
        path.write_text(content)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pointillist: error:") and err.count("\n") == 1 and "Traceback" not in err


def test_info_reports_shape_and_pixel_size(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["simulate", "smlm", str(out), "--frames", "3", "--size", "16", "--seed", "1", "--no-preview",
                 "--pixel-size", "106"]) == 0
    capsys.readouterr()
    assert main(["info", str(out / "stack.tif"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert list(info["shape"]) == [3, 16, 16] and info["pixel_size_nm"] == pytest.approx(106.0)


def test_inconsistent_option_is_a_clear_error(tmp_path, capsys):
    assert main(["simulate", "smlm", str(tmp_path / "z"), "--wavelength", "600"]) == 2
    assert "--na" in capsys.readouterr().err


def test_help_mentions_units(capsys):
    with pytest.raises(SystemExit):
        main(["simulate", "smlm", "--help"])
    text = capsys.readouterr().out
    assert "nm" in text and "photons" in text and "um^2" in text


def test_console_script_runs_without_traceback(tmp_path):
    missing = tmp_path / "missing.tif"
    proc = subprocess.run([sys.executable, "-m", "pointillist.cli.main", "info", str(missing)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and str(missing) in proc.stderr


def test_import_is_lean():
    code = ("import sys, pointillist; "
            "bad = [m for m in ('torch', 'matplotlib', 'scipy') if m in sys.modules]; "
            "print(','.join(bad))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def test_evaluate_binary_prediction_is_one_line(tmp_path, capsys):
    gt = tmp_path / "gt.csv"
    gt.write_text("frame,x [nm],y [nm]\n1,10,20\n")
    pred = tmp_path / "pred.csv"
    pred.write_bytes(bytes(range(256)) * 4)
    assert main(["evaluate", str(pred), str(gt), "--tolerance-nm", "50"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pred.csv is not a text CSV file (binary content at byte 0)" in err


@pytest.mark.parametrize(("tolerance", "code", "expected"), [
    ("1e9", 0, "pointillist: warning: --tolerance-nm 1e+09 nm is beyond any usual matching radius"),
    ("inf", 2, "pointillist: error: --tolerance-nm must be a finite number of nm >= 0, got inf"),
    ("nan", 2, "pointillist: error: --tolerance-nm must be a finite number of nm >= 0, got nan"),
    ("250", 0, ""),
])
def test_evaluate_tolerance_out_of_range(tmp_path, capsys, tolerance, code, expected):
    gt = tmp_path / "gt.csv"
    gt.write_text("frame,x [nm],y [nm]\n1,10,20\n")
    assert main(["evaluate", str(gt), str(gt), "--tolerance-nm", tolerance]) == code
    err = capsys.readouterr().err
    assert err.startswith(expected) and err.count("\n") == (1 if expected else 0)
