"""Optics refuse values no microscope has, naming the parameter and the accepted range (issue 14)."""

import pytest

from pointillist.cli.main import main
from pointillist.errors import InputError
from pointillist.optics import Optics


@pytest.mark.parametrize("kwargs, message", [
    ({"pixel_size_nm": 1e-9}, "pixel_size_nm 1e-09 nm is outside"),
    ({"pixel_size_nm": 1e7}, r"\[1, 10000\] nm"),
    ({"upsample": 100}, "upsample 100 is beyond any useful super-resolution factor"),
    ({"psf_fwhm_nm": 1e6}, "1e\\+04 camera pixels"),
    ({"psf_fwhm_nm": 5}, "0.05 camera pixels"),
])
def test_implausible_optics_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        Optics(**{"pixel_size_nm": 100, "psf_fwhm_nm": 258.21, "upsample": 4, **kwargs})


def test_the_edges_of_the_ranges_are_accepted():
    assert Optics(pixel_size_nm=100, psf_fwhm_nm=20, upsample=16).upsample == 16
    assert Optics(pixel_size_nm=1e4, psf_fwhm_nm=5e5, upsample=1).sigma_px > 0


def test_the_cli_refuses_before_any_work(tmp_path, capsys):
    assert main(["simulate", "fluct", str(tmp_path / "s"), "--size", "8", "--frames", "5", "--upsample", "100"]) == 2
    err = capsys.readouterr().err
    assert "upsample 100" in err and err.count("\n") == 1 and not (tmp_path / "s").exists()
    assert main(["simulate", "fluct", str(tmp_path / "s"), "--size", "8", "--frames", "5", "--pixel-size",
                 "1e-9"]) == 2
    assert "pixel_size_nm" in capsys.readouterr().err
