"""Deep-STORM / DeepCEL0: network, losses, preprocessing, training data, training loop, weights."""

import json
import math

import numpy as np
import pytest
import torch

from pointillist import InputError, Optics
from pointillist.io import file_sha256
from pointillist.io.weights import check_weights_optics, manifest_entry, save_weights, shipped_weights_path
from pointillist.methods.smlm.inference import predict_frames
from pointillist.methods.smlm.losses import (
    blur,
    cel0_threshold,
    deepcel0_loss,
    deepstorm_loss,
    gaussian_kernel,
    heat_map,
)
from pointillist.methods.smlm.network import (
    NETWORK_METHODS,
    DeepSTORMNet,
    SubpixelNet,
    default_architecture,
    load_model,
    spike_scale,
)
from pointillist.methods.smlm.preprocess import Normalization, pad_to_multiple, prepare_input, scale01
from pointillist.methods.smlm.training import TrainingConfig, train_network
from pointillist.methods.smlm.training_data import PatchSettings, simulate_patches
from pointillist.training.files import companion_paths
from pointillist.penalties import cel0_phi

OPTICS = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)


# --- network -----------------------------------------------------------------------------------------


def test_network_layers_follow_the_deep_storm_architecture():
    net = DeepSTORMNet("linear")
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128, 512, 128, 64, 32, 1]
    assert all(c.bias is None for c in convs)
    assert [c.kernel_size for c in convs] == [(3, 3)] * 7 + [(1, 1)]
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in net.modules()) >= 1
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()) == 7


def test_relu_output_is_non_negative_and_linear_output_is_not():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 16, 16)
    assert (DeepSTORMNet("relu").eval()(x) >= 0).all()
    assert (DeepSTORMNet("linear").eval()(x) < 0).any()


def test_network_refuses_sides_that_are_not_multiples_of_8():
    with pytest.raises(ValueError, match="multiples of 8"):
        DeepSTORMNet()(torch.zeros(1, 1, 12, 16))
    with pytest.raises(ValueError, match="output"):
        DeepSTORMNet("sigmoid")


def test_subpixel_network_runs_on_the_camera_grid_and_shuffles_to_the_fine_grid():
    torch.manual_seed(0)
    net = SubpixelNet("relu", upsample=4, width=8, depth=3).eval()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 8, 8, 16] and all(c.bias is None for c in convs)
    x = torch.randn(2, 1, 5, 7)
    y = net(x)
    assert y.shape == (2, 1, 20, 28) and (y >= 0).all()
    # each camera pixel's q x q fine pixels come from the q^2 channels at that pixel
    channels = net.head[0](net.body(x))
    assert torch.equal(y[0, 0, 4 * 2 + 1, 4 * 3 + 2], torch.relu(channels[0, 1 * 4 + 2, 2, 3]))
    # the receptive field is local: a change at one corner leaves the far corner alone
    x2 = x.clone()
    x2[:, :, 0, 0] += 10
    assert torch.equal(net(x2)[:, :, -4:, -4:], y[:, :, -4:, -4:])
    with pytest.raises(ValueError, match="output"):
        SubpixelNet("sigmoid")


# --- losses ------------------------------------------------------------------------------------------


def test_gaussian_kernel_is_normalised_with_the_reference_norm():
    g = gaussian_kernel(dtype=torch.float64)
    assert g.shape == (7, 7) and float(g.sum()) == pytest.approx(1.0)
    assert float(g.norm()) == pytest.approx(0.2823, abs=1e-4)
    assert cel0_threshold() == pytest.approx(math.sqrt(200) / float(g.norm()))
    assert 50.0 < cel0_threshold() < 50.2


def test_heat_map_of_one_spike_is_the_scaled_kernel():
    spikes = torch.zeros(1, 1, 15, 15, dtype=torch.float64)
    spikes[0, 0, 7, 7] = 1
    heat = heat_map(spikes, 100.0)
    g = gaussian_kernel(dtype=torch.float64)
    assert torch.allclose(heat[0, 0, 4:11, 4:11], 100 * g)
    assert float(heat.sum()) == pytest.approx(100.0)


def _reference_phi(u, lam, a):
    u = np.abs(u)
    root = np.sqrt(2 * lam)
    return np.where(u <= root / a, lam - a**2 / 2 * (u - root / a) ** 2, lam)


def test_deepcel0_loss_matches_its_formula():
    rng = np.random.default_rng(0)
    pred = torch.as_tensor(rng.uniform(-20, 150, (2, 1, 12, 12)))
    heat = torch.as_tensor(rng.uniform(0, 30, (2, 1, 12, 12)))
    g = gaussian_kernel(dtype=torch.float64)
    a = float(g.norm())
    blurred = blur(pred, g).numpy()
    expected = np.mean((blurred - heat.numpy()) ** 2) + np.mean(_reference_phi(pred.numpy(), 100.0, a))
    assert float(deepcel0_loss(pred, heat)) == pytest.approx(expected, rel=1e-12)
    # the spikes far above the threshold pay exactly lambda, zero pays nothing
    assert float(cel0_phi(torch.tensor([0.0, 1e4]), 100.0, a).sum()) == pytest.approx(100.0)


def test_deepcel0_loss_gradient_matches_autograd_finite_differences():
    rng = np.random.default_rng(1)
    pred = torch.as_tensor(rng.uniform(1, 120, (1, 1, 8, 8)), dtype=torch.float64).requires_grad_(True)
    heat = torch.as_tensor(rng.uniform(0, 30, (1, 1, 8, 8)), dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda p: deepcel0_loss(p, heat), (pred,), eps=1e-6, atol=1e-7)
    # and the penalty's derivative is the closed form phi'(u) = (sqrt(2 lam) a - a^2 |u|)_+ sign(u)
    a = float(gaussian_kernel(dtype=torch.float64).norm())
    u = torch.tensor([-30.0, 5.0, 40.0, 80.0], dtype=torch.float64, requires_grad=True)
    cel0_phi(u, 100.0, a).sum().backward()
    closed = torch.sign(u) * (math.sqrt(200) * a - a**2 * u.abs()).clamp_min(0)
    assert torch.allclose(u.grad, closed.detach())


def test_deepstorm_loss_matches_its_formula_with_the_factor_two_kernel():
    rng = np.random.default_rng(2)
    pred = torch.as_tensor(rng.normal(0, 10, (1, 1, 10, 10)))
    heat = torch.as_tensor(rng.uniform(0, 30, (1, 1, 10, 10)))
    g = gaussian_kernel(dtype=torch.float64)
    expected = np.mean((blur(pred, 2 * g).numpy() - heat.numpy()) ** 2) + 10 * np.mean(np.abs(pred.numpy()))
    assert float(deepstorm_loss(pred, heat, l1_weight=10.0)) == pytest.approx(expected, rel=1e-12)


# --- preprocessing -----------------------------------------------------------------------------------


def test_prepare_input_scales_standardises_and_replicates():
    frames = torch.tensor([[[2.0, 4.0], [6.0, 10.0]]])
    x = prepare_input(frames, Normalization(mean=0.5, std=0.25), 2)
    expected01 = np.array([[0, 0.25], [0.5, 1.0]])
    assert x.shape == (1, 1, 4, 4)
    assert np.allclose(x[0, 0, ::2, ::2].numpy(), (expected01 - 0.5) / 0.25)
    assert torch.equal(x[0, 0, 0::2], x[0, 0, 1::2])
    assert torch.equal(scale01(torch.ones(1, 3, 3)), torch.zeros(1, 3, 3))


def test_pad_to_multiple_replicates_the_edges():
    padded, size = pad_to_multiple(torch.arange(6.0).reshape(1, 2, 3), 4)
    assert size == (2, 3) and padded.shape == (1, 4, 4)
    assert padded[0, 3].tolist() == [3.0, 4.0, 5.0, 5.0]


# --- training data -----------------------------------------------------------------------------------


def test_training_patches_hold_enough_emitters_and_matching_spikes():
    settings = PatchSettings(n_patches=12, n_frames=3, frame_size=40, patch=16, min_emitters=5)
    data = simulate_patches(OPTICS, settings, rng=4)
    assert data.frames.shape == (12, 16, 16) and data.spikes.shape == (12, 64, 64)
    assert (data.n_emitters >= 5).all()
    # two emitters can share a fine pixel, never more spikes than emitters
    assert (data.spikes.reshape(12, -1).sum(axis=1) <= data.n_emitters).all()
    assert data.spikes.reshape(12, -1).sum() >= 0.9 * data.n_emitters.sum()
    # the light sits where the spikes are: the camera image correlates with the binned spikes
    binned = data.spikes.reshape(12, 16, 4, 16, 4).sum(axis=(2, 4)).astype(float)
    corr = np.corrcoef(binned.ravel(), data.frames.ravel())[0, 1]
    assert corr > 0.4
    again = simulate_patches(OPTICS, settings, rng=4)
    assert np.array_equal(again.frames, data.frames) and np.array_equal(again.spikes, data.spikes)


def test_training_data_refuses_impossible_requests():
    with pytest.raises(InputError, match="patch size"):
        PatchSettings(patch=80)
    with pytest.raises(InputError, match="could not find patches"):
        simulate_patches(OPTICS, PatchSettings(n_patches=2, n_frames=1, frame_size=16, patch=8, min_emitters=500,
                                               density_per_um2=0.5), rng=0)


# --- training loop and checkpoints --------------------------------------------------------------------


def _tiny_config(method="deepcel0", epochs=2):
    data = PatchSettings(n_patches=12, n_frames=2, frame_size=32, patch=8, min_emitters=1)
    return TrainingConfig(method=method, data=data, epochs=epochs, batch_size=4, seed=3)


def test_training_writes_weights_config_log_and_resumes_to_the_same_result(tmp_path):
    straight = train_network(_tiny_config(epochs=2), tmp_path / "a" / "m.pt", progress=False, echo=lambda s: None)
    paths = companion_paths(tmp_path / "a" / "m.pt")
    assert all(p.exists() for p in paths.values())
    saved = json.loads(paths["config"].read_text())
    assert saved["config"]["method"] == "deepcel0" and saved["config"]["loss"]["cel0_lambda"] == 100.0
    assert saved["epochs"] == 2 and saved["best_epoch"] == straight.best_epoch
    assert "epoch   2" in paths["log"].read_text()
    assert len(straight.history) == 2 and straight.best_val_loss == min(h["val_loss"] for h in straight.history)

    # one epoch, then resume for the second: the same weights as the straight run
    train_network(_tiny_config(epochs=1), tmp_path / "b" / "m.pt", progress=False, echo=lambda s: None)
    resumed = train_network(_tiny_config(epochs=2), tmp_path / "b" / "m.pt", resume=True, progress=False,
                            echo=lambda s: None)
    assert [h["val_loss"] for h in resumed.history] == pytest.approx([h["val_loss"] for h in straight.history])
    for key, value in straight.net.state_dict().items():
        assert torch.equal(value, resumed.net.state_dict()[key]), key


def test_training_refuses_to_overwrite_and_to_resume_another_configuration(tmp_path):
    train_network(_tiny_config(epochs=1), tmp_path / "m.pt", progress=False, echo=lambda s: None)
    with pytest.raises(InputError, match="--overwrite"):
        train_network(_tiny_config(epochs=1), tmp_path / "m.pt", progress=False, echo=lambda s: None)
    with pytest.raises(InputError, match="another configuration"):
        train_network(_tiny_config("deepstorm", epochs=1), tmp_path / "m.pt", resume=True, progress=False,
                      echo=lambda s: None)


def test_checkpoint_round_trip_and_optics_check(tmp_path):
    model = train_network(_tiny_config("deepstorm", epochs=1), tmp_path / "m.pt", progress=False,
                          echo=lambda s: None).trained
    loaded = load_model(tmp_path / "m.pt")
    rec = loaded.record
    assert rec.method == "deepstorm" and loaded.net.output == "linear" and spike_scale(rec) == 50.0
    assert rec.sha256 == file_sha256(tmp_path / "m.pt") and rec.path == str(tmp_path / "m.pt")
    assert not hasattr(loaded.net, "path") and not hasattr(loaded.net, "sha256")
    x = torch.randn(1, 1, 16, 16)
    torch.testing.assert_close(model.net(x), loaded.net(x), rtol=1e-4, atol=1e-5)  # channels-last: rounding only
    assert check_weights_optics(rec, OPTICS) == []
    other = Optics(pixel_size_nm=160, psf_fwhm_nm=258.21, upsample=4)
    with pytest.raises(InputError, match="pixel size 160 nm \\(trained for 100 nm\\).*--force"):
        check_weights_optics(rec, other)
    assert len(check_weights_optics(rec, other, force=True)) == 1
    with pytest.raises(InputError, match="not for 'deepcel0'"):
        load_model(tmp_path / "m.pt", method="deepcel0")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot read weights file"):
        load_model(tmp_path / "bad.pt")
    save_weights(tmp_path / "copy.pt", loaded.net.state_dict(), rec)
    with pytest.raises(InputError, match="exists"):
        save_weights(tmp_path / "copy.pt", loaded.net.state_dict(), rec)


def test_architecture_defaults_are_recorded_and_the_file_decides_the_network(tmp_path):
    assert TrainingConfig(method="deepcel0").architecture == "subpixel" and TrainingConfig(method="deepcel0").epochs == 40
    assert TrainingConfig(method="deepstorm").architecture == "deep-storm"
    assert TrainingConfig(method="deepstorm").epochs == 100
    assert TrainingConfig(method="deepstorm-relu", architecture="deepstorm").architecture == "deep-storm"
    with pytest.raises(InputError, match="architecture must be one of"):
        TrainingConfig(method="deepcel0", architecture="unet")
    sub = train_network(_tiny_config(epochs=1), tmp_path / "s.pt", progress=False, echo=lambda s: None)
    arch = sub.record.architecture
    assert arch.name == "subpixel" and arch.kwargs == {"output": "relu", "upsample": 4, "width": 48, "depth": 5}
    loaded = load_model(tmp_path / "s.pt", method="deepcel0")
    assert isinstance(loaded.net, SubpixelNet) and loaded.net.upsample == 4
    with pytest.raises(InputError, match="'subpixel' network, not 'deepstorm'"):
        load_model(tmp_path / "s.pt", architecture="deepstorm")
    frames = np.random.default_rng(1).poisson(40, (3, 9, 11)).astype(np.float32)
    assert predict_frames(frames, loaded).shape == (3, 36, 44)


# --- shipped weights ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", sorted(NETWORK_METHODS))
def test_shipped_weights_load_offline_and_match_the_manifest(method):
    path = shipped_weights_path(method)
    manifest = json.loads((path.parent / "manifest.json").read_text())
    entry = {e["file"]: e for e in manifest["weights"]}[path.name]
    assert entry["sha256"] == file_sha256(path)
    assert entry == json.loads(json.dumps(manifest_entry(path, note=entry["note"])))
    assert path.stat().st_size < 8_000_000
    model = load_model(method=method)
    assert model.record.optics.as_dict() == {"pixel_size_nm": 100.0, "psf_fwhm_nm": 258.21, "upsample": 4}
    assert model.net.output == NETWORK_METHODS[method]
    assert model.record.architecture.name == default_architecture(method)
    assert entry["epochs"] >= 1 and entry["best_val_loss"] > 0 and "epochs" in entry["note"]


@pytest.mark.parametrize("method", ["deepcel0", "deepstorm-relu"])
def test_the_subpixel_networks_ship_beside_the_default(method):
    sub = load_model(method=method, architecture="subpixel")
    assert isinstance(sub.net, SubpixelNet) and sub.record.method == method
    assert sub.record.optics.as_dict() == {"pixel_size_nm": 100.0, "psf_fwhm_nm": 258.21, "upsample": 4}
    assert shipped_weights_path(f"{method}-subpixel").name == f"{method}-subpixel.pt"
    assert isinstance(load_model(method=method, architecture="deepstorm").net, DeepSTORMNet)
    with pytest.raises(InputError, match="architecture must be one of"):
        load_model(method="deepcel0", architecture="unet")


@pytest.mark.parametrize("architecture", ["subpixel", "deepstorm"])
def test_prediction_handles_any_frame_size_and_is_batch_invariant(architecture):
    model = load_model(method="deepcel0", architecture=architecture)
    frames = np.random.default_rng(0).poisson(50, (5, 13, 10)).astype(np.float32)
    one = predict_frames(frames, model, batch_size=1)
    many = predict_frames(frames, model, batch_size=4)
    assert one.shape == (5, 52, 40)
    assert np.allclose(one, many, atol=1e-3 * max(1.0, float(np.abs(one).max())))


@pytest.mark.gpu
def test_prediction_on_cuda_matches_cpu():
    frames = np.random.default_rng(0).poisson(50, (2, 16, 16)).astype(np.float32)
    cpu = predict_frames(frames, load_model(method="deepcel0"))
    gpu = predict_frames(frames, load_model(method="deepcel0", device="cuda"))
    assert np.allclose(cpu, gpu, atol=1e-2 * max(1.0, float(np.abs(cpu).max())))


def test_weights_for_other_optics_are_refused_with_the_command_that_trains_them():
    from pointillist.methods.smlm.api import localize

    frames = np.random.default_rng(0).poisson(30, (1, 16, 16)).astype(np.float32)
    other = Optics(pixel_size_nm=100, psf_fwhm_nm=351.8, upsample=4)
    with pytest.raises(InputError) as err:
        localize(frames, optics=other, method="deepcel0")
    assert "pointillist train --method deepcel0 --pixel-size 100 --psf-fwhm 351.8 --upsample 4 -o deepcel0.pt" \
        in str(err.value)
