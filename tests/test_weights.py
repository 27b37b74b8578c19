"""The one weights format: record, loader errors, tensor shapes, the optics check, the manifest."""

import json

import pytest
import torch

from pointillist import InputError, Optics
from pointillist.io.weights import (
    Architecture,
    TrainedOptics,
    WeightsRecord,
    check_weights_optics,
    load_weights,
    manifest_text,
    read_weights,
    save_weights,
    shipped_weights_path,
)

ARCHS = {"linear": torch.nn.Linear}


def _record(**kw):
    base = dict(method="demo", architecture=Architecture("linear", {"in_features": 3, "out_features": 2}),
                optics=TrainedOptics(100.0, 258.21, 4), config={"seed": 0}, data={"n_train": 1}, epochs=1,
                best_epoch=1, best_val_loss=0.5)
    return WeightsRecord(**{**base, **kw})


@pytest.fixture
def saved(tmp_path):
    net = torch.nn.Linear(3, 2)
    return save_weights(tmp_path / "w.pt", net.state_dict(), _record()), net


def test_round_trip_gives_the_network_and_its_record_not_attributes(saved):
    path, net = saved
    loaded = load_weights(path, architectures=ARCHS)
    assert torch.equal(loaded.net.weight, net.weight) and not loaded.net.training
    assert loaded.record.path == str(path) and len(loaded.record.sha256) == 64
    assert not hasattr(loaded.net, "record") and not hasattr(loaded.net, "sha256")
    assert WeightsRecord.from_dict(loaded.record.to_dict()) == loaded.record


def test_loading_leaves_the_global_rng_alone(saved):
    state = torch.get_rng_state()
    load_weights(saved[0], architectures=ARCHS)
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: p.write_bytes(b"not a checkpoint at all"), "truncated or corrupt"),
    (lambda p: torch.save(torch.nn.Linear(2, 2), p), "objects other than tensors"),
    (lambda p: torch.save({"format": "other", "state_dict": {}}, p), "not a pointillist weights file"),
    (lambda p: torch.save({"format": "pointillist-lsparcom/1"}, p), "convert it with scripts/convert_weights.py"),
])
def test_bad_files_give_a_clear_input_error(tmp_path, make, message):
    path = tmp_path / "bad.pt"
    make(path)
    with pytest.raises(InputError, match=message) as err:
        load_weights(path, architectures=ARCHS)
    assert "weights_only=False" not in str(err.value)


def test_missing_truncated_and_misrecorded_files(tmp_path, saved):
    with pytest.raises(InputError, match="not found"):
        read_weights(tmp_path / "none.pt")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(saved[0].read_bytes()[:300])
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_weights(cut)
    torch.save({"format": "pointillist-weights/1", "record": {"method": "x", "colour": 1}, "state_dict": {}},
               tmp_path / "rec.pt")
    with pytest.raises(InputError, match="not a weights record"):
        read_weights(tmp_path / "rec.pt")


def test_wrong_tensor_shapes_are_an_input_error(tmp_path):
    path = save_weights(tmp_path / "w.pt", torch.nn.Linear(4, 2).state_dict(), _record())
    with pytest.raises(InputError, match=r"weight has shape \(2, 4\) in the file, \(2, 3\) expected"):
        load_weights(path, architectures=ARCHS)
    with pytest.raises(InputError, match="holds a .linear. network; expected one of other"):
        load_weights(path, architectures={"other": torch.nn.Linear})
    with pytest.raises(InputError, match="not for 'deepcel0'"):
        load_weights(path, method="deepcel0", architectures=ARCHS)


def test_optics_check_raises_on_a_mismatch_and_force_returns_the_list():
    rec = _record()
    assert check_weights_optics(rec, Optics(pixel_size_nm=101, psf_fwhm_nm=260, upsample=4)) == []
    other = Optics(pixel_size_nm=100, psf_fwhm_nm=300, upsample=2)
    with pytest.raises(InputError, match="trained for other optics: PSF FWHM 300 nm.*upsample 2.*--force"):
        check_weights_optics(rec, other)
    assert check_weights_optics(rec, other, force=True) == ["PSF FWHM 300 nm (trained for 258.21 nm)",
                                                            "upsample 2 (trained for 4)"]
    assert check_weights_optics(_record(optics=None), other) == []


def test_optics_check_in_camera_pixels_for_scale_free_weights():
    rec = _record(method="lsparcom", optics=TrainedOptics(100.0, 258.21, 4, None, 0.15))
    # the same PSF width in camera pixels at another pixel size is fine; 16 % wider is not
    assert check_weights_optics(rec, Optics(pixel_size_nm=160, psf_fwhm_nm=258.21 * 1.6, upsample=4)) == []
    assert check_weights_optics(rec, Optics(pixel_size_nm=100, psf_fwhm_nm=258.21 * 1.14, upsample=4)) == []
    wide = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21 * 1.16, upsample=4)
    with pytest.raises(InputError, match="sigma .*pointillist train --method lsparcom") as err:
        check_weights_optics(rec, wide, force_option=None)
    assert "--force" not in str(err.value)


def test_shipped_manifest_is_one_file_and_up_to_date():
    folder = shipped_weights_path("lsparcom").parent
    assert manifest_text(folder) == (folder / "manifest.json").read_text()
    files = [e["file"] for e in json.loads((folder / "manifest.json").read_text())["weights"]]
    assert files == ["deepcel0-subpixel.pt", "deepcel0.pt", "deepstorm-relu-subpixel.pt", "deepstorm-relu.pt",
                     "deepstorm.pt", "gs-denoiser.pt", "lsparcom.pt"]
    assert not list(folder.glob("*.manifest.json"))
