"""How the CLI reads its input: the camera offset (warning, --offset auto) and a pixel size that overrides the
file's (issue 14)."""

import json

import numpy as np
import pytest

from pointillist.cli.main import main

OPTICS = ["--psf-fwhm", "258.21", "--upsample", "4", "--quiet"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "sim"
    # uint16 frames with a camera offset of 100 ADU (simulate fluct's default)
    assert main(["simulate", "fluct", str(out), "--size", "12", "--frames", "80", "--seed", "5", "--no-preview"]) == 0
    return out


def _sofi(sim, out, *extra):
    return main(["reconstruct", str(sim / "stack.tif"), "-o", str(out), "--method", "sofi", *OPTICS, *extra])


def test_an_offset_left_out_is_warned_about_once(sim, tmp_path, capsys):
    assert _sofi(sim, tmp_path / "a") == 0
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "--offset" in err and "ADU" in err
    assert _sofi(sim, tmp_path / "b", "--offset", "100") == 0
    assert "warning" not in capsys.readouterr().err


def test_offset_auto_measures_and_records_the_dark_level(sim, tmp_path, capsys):
    assert _sofi(sim, tmp_path / "a", "--offset", "auto") == 0
    err = capsys.readouterr().err
    assert "--offset auto: camera offset" in err and "warning" not in err
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    level = run["calibration"]["offset"]
    # the true offset is 100 ADU; the dark level sits at or a little above it (the darkest pixels' background)
    assert 95 <= level <= 160 and "auto" in run["calibration"]["calibration_note"]
    assert run["parameters"]["offset"] == level
    with pytest.raises(SystemExit) as stop:  # argparse's own one-line usage error
        main(["reconstruct", str(sim / "stack.tif"), "-o", str(tmp_path / "b"), "--offset", "lots"])
    assert stop.value.code == 2 and "expected a number of ADU or 'auto'" in capsys.readouterr().err


def test_pixel_size_option_overrides_the_file_with_a_notice(sim, tmp_path, capsys):
    assert _sofi(sim, tmp_path / "a", "--offset", "100", "--pixel-size", "107") == 0
    assert "--pixel-size 107 nm overrides the 100 nm recorded in" in capsys.readouterr().err
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["optics"]["pixel_size_nm"] == 107 and run["input"]["pixel_size_nm_in_file"] == 100
    assert _sofi(sim, tmp_path / "b", "--offset", "100", "--pixel-size", "100") == 0
    assert "overrides" not in capsys.readouterr().err


@pytest.mark.parametrize("option, value, message", [
    ("--snr", "nan", "--snr (dB) must be a number in"), ("--density", "inf", "--density must be a number in"),
])
def test_simulate_messages_name_the_option(tmp_path, capsys, option, value, message):
    assert main(["simulate", "smlm", str(tmp_path / "s"), "--size", "8", "--frames", "2", option, value]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "s").exists()


def test_block_frames_reach_colorme_and_are_checked(sim, tmp_path, capsys):
    def colorme(out, *extra):
        return main(["reconstruct", str(sim / "stack.tif"), "-o", str(tmp_path / out), "--method", "colorme",
                     "--penalty", "l1", "--offset", "100", *OPTICS, *extra])

    assert colorme("a", "--block-frames", "40") == 0
    assert json.loads((tmp_path / "a" / "run.json").read_text())["parameters"]["block_frames"] == 40
    assert colorme("b", "--block-frames", "0") == 0  # 0: the whole stack
    assert json.loads((tmp_path / "b" / "run.json").read_text())["parameters"]["block_frames"] is None
    capsys.readouterr()
    assert colorme("c", "--block-frames", "1") == 2
    assert "block_frames must be a whole number of frames >= 2" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
    assert _sofi(sim, tmp_path / "d", "--offset", "100", "--block-frames", "40") == 2
    assert "--block-frames" in capsys.readouterr().err
