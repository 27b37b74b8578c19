"""``pointillist batch``: a folder of stacks, one of them corrupt; resuming; a config file."""

import csv
import shutil

import pytest

from pointillist.cli import batch as batch_cli
from pointillist.cli.main import main
from pointillist.errors import InputError

OPTS = ["--pixel-size", "100", "--psf-fwhm", "258.21", "--upsample", "2", "--offset", "100"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    data = root / "data"
    data.mkdir()
    for seed in (1, 2, 3):
        assert main(["simulate", "fluct", str(root / f"s{seed}"), "--size", "12", "--frames", "40", "--seed",
                     str(seed), "--no-preview"]) == 0
        shutil.copy(root / f"s{seed}" / "stack.tif", data / f"cell{seed}.tif")
    (data / "broken.tif").write_bytes(b"II*\x00 this is not the rest of a TIFF")
    (data / "notes.txt").write_text("not a stack")
    return data


def _summary(out):
    with open(out / "summary.csv", newline="") as fh:
        return {row["file"].rsplit("/", 1)[-1]: row for row in csv.DictReader(fh)}


def test_a_folder_with_a_corrupt_stack_reports_it_and_does_the_others(folder, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["batch", str(folder), "-o", str(out), "--method", "sofi", *OPTS, "--quiet"]) == 1
    rows = _summary(out)
    assert sorted(rows) == ["broken.tif", "cell1.tif", "cell2.tif", "cell3.tif"]  # notes.txt is not a stack
    assert {rows[f"cell{i}.tif"]["status"] for i in (1, 2, 3)} == {"done"}
    assert rows["broken.tif"]["status"] == "failed" and "broken.tif" in rows["broken.tif"]["error"]
    for i in (1, 2, 3):
        assert (out / f"cell{i}" / "run.json").is_file()
        assert float(rows[f"cell{i}.tif"]["seconds"]) > 0 and rows[f"cell{i}.tif"]["method"] == "sofi"
    assert not (out / "broken").exists()
    assert "3 done, 0 skipped, 1 failed" in capsys.readouterr().out


def test_a_second_run_skips_what_is_done_and_overwrite_runs_it_again(folder, tmp_path):
    out = tmp_path / "res"
    stacks = [str(folder / f"cell{i}.tif") for i in (1, 2)]
    assert main(["batch", *stacks, "-o", str(out), "--method", "sofi", *OPTS, "--quiet"]) == 0
    shutil.rmtree(out / "cell2")
    first = (out / "cell1" / "run.json").stat().st_mtime_ns
    assert main(["batch", *stacks, "-o", str(out), "--method", "sofi", *OPTS, "--quiet"]) == 0
    rows = _summary(out)
    assert rows["cell1.tif"]["status"] == "skipped (done)" and rows["cell2.tif"]["status"] == "done"
    assert (out / "cell1" / "run.json").stat().st_mtime_ns == first
    assert main(["batch", *stacks, "-o", str(out), "--method", "sofi", *OPTS, "--quiet", "--overwrite"]) == 0
    assert {r["status"] for r in _summary(out).values()} == {"done"}


def test_an_interrupted_batch_keeps_what_finished_and_resumes(folder, tmp_path, monkeypatch):
    out = tmp_path / "res"
    real, calls = batch_cli._run_command, []

    def interrupted_on_the_second(argv):
        calls.append(argv[1])
        return 130 if len(calls) == 2 else real(argv)  # 130: what main returns after Ctrl-C, folder untouched

    monkeypatch.setattr(batch_cli, "_run_command", interrupted_on_the_second)
    stacks = [str(folder / f"cell{i}.tif") for i in (1, 2, 3)]
    assert main(["batch", *stacks, "-o", str(out), "--method", "sofi", *OPTS, "--quiet"]) == 130
    assert (out / "cell1" / "run.json").is_file() and not (out / "cell2").exists() and not (out / "cell3").exists()
    assert list(_summary(out)) == ["cell1.tif"] and len(calls) == 2
    monkeypatch.undo()
    assert main(["batch", *stacks, "-o", str(out), "--method", "sofi", *OPTS, "--quiet"]) == 0
    rows = _summary(out)
    assert rows["cell1.tif"]["status"] == "skipped (done)"
    assert rows["cell2.tif"]["status"] == rows["cell3.tif"]["status"] == "done"


def test_a_config_file_runs_the_same_batch(folder, tmp_path):
    config = tmp_path / "batch.toml"
    config.write_text(f'inputs = ["{folder}/cell*.tif"]\noutput = "res"\nmethod = "sofi"\n\n[options]\n'
                      'pixel-size = 100\npsf-fwhm = 258.21\nupsample = 2\noffset = 100\nquiet = true\n')
    assert main(["batch", str(config), "--quiet"]) == 0
    assert sorted(_summary(tmp_path / "res")) == ["cell1.tif", "cell2.tif", "cell3.tif"]


def test_inputs_that_match_nothing_or_clash_are_refused(folder, tmp_path, capsys):
    with pytest.raises(InputError, match="no stack found"):
        batch_cli.find_stacks([str(tmp_path / "*.tif")])
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(folder / "cell1.tif", other / "cell1.tif")
    with pytest.raises(InputError, match="share the output folder 'cell1'"):
        batch_cli.find_stacks([str(folder / "cell1.tif"), str(other / "cell1.tif")])
    assert main(["batch", str(folder), "-o", str(tmp_path / "r"), "--method", "nonsense"]) == 2
    assert "--method must be one of" in capsys.readouterr().err
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "summary.csv").write_text("my own table\n")
    with pytest.raises(InputError, match="not written by pointillist batch"):
        batch_cli.run_batch([str(folder / "cell1.tif")], foreign, "sofi", OPTS)
    assert (foreign / "summary.csv").read_text() == "my own table\n"
    with pytest.raises(SystemExit):  # only batch hands unknown options on
        main(["info", "x.tif", "--no-such-option"])
