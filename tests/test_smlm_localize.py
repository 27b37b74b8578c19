"""CEL0 per frame, the localize API and the localize / train command lines."""

import json

import numpy as np
import pytest
import torch

from pointillist import InputError, Optics, localize
from pointillist.cli.main import main
from pointillist.io import Localizations, read_localizations, read_stack
from pointillist.methods.smlm.cel0 import (
    CEL0Options,
    cel0_frames,
    cel0_lambda_max,
    column_norms,
    spike_localizations,
)
from pointillist.metrics import match_localizations
from pointillist.operators import imaging_operator
from pointillist.penalties import CEL0
from pointillist.simulate import simulate_smlm

OPTICS = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)


def _sparse_frames(n_frames=3, shape=(16, 16), brightness=2000.0, seed=0, per_frame=4):
    """Emitters at fine-pixel centres, well separated, noiseless frames (photons)."""
    rng = np.random.default_rng(seed)
    psi = imaging_operator(OPTICS, shape)
    x = torch.zeros((n_frames, *psi.in_shape), dtype=torch.float64)
    frames, rows, cols = [], [], []
    for t in range(n_frames):
        taken = []
        while len(taken) < per_frame:
            r, c = rng.integers(6, psi.in_shape[0] - 6), rng.integers(6, psi.in_shape[1] - 6)
            if all(max(abs(r - a), abs(c - b)) > 16 for a, b in taken):
                taken.append((r, c))
        for r, c in taken:
            x[t, r, c] = brightness
            frames.append(t), rows.append(r), cols.append(c)
    truth = Localizations.from_pixels(np.array(frames), np.array(rows, float), np.array(cols, float),
                                      pixel_size_nm=OPTICS.fine_pixel_nm)
    return psi(x).numpy(), truth, x.numpy()


# --- CEL0 ------------------------------------------------------------------------------------------------


def test_column_norms_equal_the_norms_of_the_dense_operator():
    psi = imaging_operator(OPTICS, (5, 6))
    dense = np.stack([psi(torch.as_tensor(e.reshape(psi.in_shape))).numpy().ravel()
                      for e in np.eye(np.prod(psi.in_shape))], axis=1)
    assert np.allclose(column_norms(psi).numpy().ravel(), np.linalg.norm(dense, axis=0))
    # sub-pixel phase matters: a fine pixel at a camera-pixel centre has a larger norm than one at its edge
    norms = column_norms(psi).numpy()
    assert norms[9, 9] != pytest.approx(norms[9, 8])


def test_cel0_recovers_separated_emitters_at_their_fine_pixels():
    frames, truth, x_true = _sparse_frames()
    x = cel0_frames(frames, optics=OPTICS, lam=0.01, options=CEL0Options(background=None), dtype=torch.float64)
    locs = spike_localizations(x, pixel_size_nm=OPTICS.fine_pixel_nm)
    m = match_localizations(locs, truth, tolerance_nm=5.0)
    assert m.tp == len(truth) and m.fp == 0
    # the fine grid is much finer than the PSF, so an emitter's mass can spread over its
    # 3x3 neighbourhood (columns there are almost identical); the mass itself is right
    assert np.allclose(locs.photons, 2000.0, rtol=0.03)
    assert (x > 0).sum() <= 9 * len(truth)


def test_cel0_fits_a_constant_background_jointly():
    frames, truth, _ = _sparse_frames(seed=1)
    x = cel0_frames(frames + 35.0, optics=OPTICS, lam=0.01, options=CEL0Options(background="fit"),
                    dtype=torch.float64)
    m = match_localizations(spike_localizations(x, pixel_size_nm=25.0), truth, tolerance_nm=5.0)
    assert m.tp == len(truth) and m.fp == 0
    # without the background term the same frames give spurious spikes everywhere
    plain = cel0_frames(frames + 35.0, optics=OPTICS, lam=0.01, options=CEL0Options(background=None),
                        dtype=torch.float64)
    assert (plain > 0).sum() > 2 * (x > 0).sum()
    assert match_localizations(spike_localizations(plain, pixel_size_nm=25.0), truth, tolerance_nm=5.0).fp > 0


def test_lambda_ratio_is_relative_to_lambda_max():
    frames, _, _ = _sparse_frames(n_frames=2, seed=2)
    opts = CEL0Options(background=None)
    assert (cel0_frames(frames, optics=OPTICS, lambda_ratio=1.01, options=opts, dtype=torch.float64) == 0).all()
    assert (cel0_frames(frames, optics=OPTICS, lambda_ratio=0.5, options=opts, dtype=torch.float64) > 0).any()
    psi = imaging_operator(OPTICS, frames.shape[1:])
    lmax = cel0_lambda_max(torch.as_tensor(frames / frames.max(axis=(1, 2), keepdims=True)), psi,
                           column_norms(psi))
    assert lmax.shape == (2,) and (lmax > 0).all()
    with pytest.raises(InputError, match="not both"):
        cel0_frames(frames, optics=OPTICS, lam=0.1, lambda_ratio=0.1)
    with pytest.raises(InputError, match="one per frame"):
        cel0_frames(frames, optics=OPTICS, lam=[0.1, 0.2, 0.3])


def test_batched_lambdas_equal_separate_solves():
    frames, _, _ = _sparse_frames(n_frames=2, seed=3)
    opts = CEL0Options(background=None)
    both = cel0_frames(frames, optics=OPTICS, lam=[0.01, 0.2], options=opts, dtype=torch.float64)
    first = cel0_frames(frames[:1], optics=OPTICS, lam=0.01, options=opts, dtype=torch.float64)
    second = cel0_frames(frames[1:], optics=OPTICS, lam=0.2, options=opts, dtype=torch.float64)
    # Momentum restarts and the stopping test act on the whole batch, so iterates differ
    # slightly from separate solves; the localizations and their masses must not.
    for batched, alone in ((both[:1], first), (both[1:], second)):
        a = spike_localizations(batched, pixel_size_nm=25.0)
        b = spike_localizations(alone, pixel_size_nm=25.0)
        assert len(a) == len(b) and match_localizations(a, b, tolerance_nm=5.0).tp == len(b)
        assert np.allclose(np.sort(a.photons), np.sort(b.photons), rtol=0.03)


def test_tensor_lambda_prox_equals_elementwise_scalar_prox():
    z = torch.linspace(-3, 3, 12, dtype=torch.float64).reshape(2, 6)
    lam = torch.tensor([[0.3], [1.2]], dtype=torch.float64)
    norms = torch.full((6,), 0.8, dtype=torch.float64)
    batched = CEL0(lam, norms=norms).prox(z, 0.5)
    for i in range(2):
        assert torch.allclose(batched[i], CEL0(float(lam[i]), norms=norms).prox(z[i], 0.5))


def test_spike_localizations_protocols():
    img = np.zeros((2, 8, 8))
    img[0, 2, 2], img[0, 2, 3], img[1, 5, 5] = 4.0, 1.0, 2.0
    maxima = spike_localizations(img, pixel_size_nm=25.0)
    pixels = spike_localizations(img, pixel_size_nm=25.0, protocol="pixels")
    assert len(maxima) == 2 and len(pixels) == 3
    assert pixels.frame.tolist() == [0, 0, 1] and pixels.x_nm.tolist() == [62.5, 87.5, 137.5]
    with pytest.raises(InputError, match="protocol"):
        spike_localizations(img, pixel_size_nm=25.0, protocol="blobs")


# --- localize API ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sparse_sim():
    return simulate_smlm(optics=OPTICS, shape=(32, 32), n_frames=6, density_per_um2=0.6, structure="points",
                         n_structures=2000, snr_db=18, seed=11)


@pytest.mark.parametrize("method", ["cel0", "deepcel0", "deepstorm-relu", "deepstorm"])
def test_every_method_recovers_sparse_emitters(sparse_sim, method):
    res = localize(sparse_sim.stack, optics=OPTICS, method=method, full_output=True)
    m = match_localizations(res.localizations, sparse_sim.ground_truth, tolerance_nm=50)
    assert m.jaccard > 75, m.as_dict()
    assert res.render.shape == (128, 128) and res.render.min() >= 0 and res.render.sum() > 0
    assert res.summary()["n_frames"] == 6


def test_localize_camera_stack_with_offset_and_gain(sparse_sim):
    adu = sparse_sim.stack * 2.0 + 100.0
    a = localize(sparse_sim.stack, optics=OPTICS, method="cel0")
    b = localize(adu, optics=OPTICS, method="cel0", offset=100.0, gain=2.0)
    assert len(a) == len(b) and np.allclose(a.x_nm, b.x_nm, atol=1e-3)


def test_localize_validates_its_input(sparse_sim):
    with pytest.raises(InputError, match="method"):
        localize(sparse_sim.stack, optics=OPTICS, method="thunderstorm")
    with pytest.raises(InputError, match="frames"):
        localize(np.zeros((2, 3, 16, 16)), optics=OPTICS)
    bad = sparse_sim.stack.copy()
    bad[1, 3, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        localize(bad, optics=OPTICS, method="deepcel0")
    with pytest.raises(InputError, match="trained for other optics: pixel size 130 nm"):
        localize(sparse_sim.stack, optics=Optics(pixel_size_nm=130, psf_fwhm_nm=258.21, upsample=4))
    forced = localize(sparse_sim.stack, optics=Optics(pixel_size_nm=130, psf_fwhm_nm=258.21, upsample=4), force=True)
    assert len(forced) > 0
    with pytest.raises(InputError, match="gain"):
        localize(sparse_sim.stack, optics=OPTICS, gain=0)


# --- command line ------------------------------------------------------------------------------------------


def test_localize_cli_on_a_simulated_stack(tmp_path, capsys):
    sim = tmp_path / "sim"
    assert main(["simulate", "smlm", str(sim), "--frames", "4", "--size", "24", "--density", "2", "--seed", "5",
                 "--no-preview"]) == 0
    meta = json.loads((sim / "meta.json").read_text())
    out = tmp_path / "loc"
    args = ["localize", str(sim / "stack.tif"), "-o", str(out), "--method", "deepcel0", "--pixel-size", "100",
            "--psf-fwhm", "258.21", "--upsample", "4", "--offset", str(meta["camera"]["offset"]),
            "--gain", str(meta["camera"]["gain"]), "--quiet"]
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["localizations.csv", "preview.png", "render.tif", "run.json"]
    locs = read_localizations(out / "localizations.csv")
    truth = read_localizations(sim / "ground_truth.csv")
    assert match_localizations(locs, truth, tolerance_nm=100).jaccard > 60
    render = read_stack(out / "render.tif")
    assert render.data.shape == (1, 96, 96) and render.pixel_size_nm == pytest.approx(25.0)
    info = json.loads((out / "run.json").read_text())
    assert info["method"] == "deepcel0" and info["n_frames"] == 4 and len(info["input"]["sha256"]) == 64
    capsys.readouterr()
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args[:6], "--pixel-size", "100", "--psf-fwhm", "300", "--overwrite", "--quiet"]) == 2
    assert "trained for other optics: PSF FWHM 300 nm" in capsys.readouterr().err
    assert main(["localize", str(sim / "stack.tif"), "-o", str(tmp_path / "c"), "--method", "deepcel0",
                 "--lambda", "0.1"]) == 2
    assert "--method cel0" in capsys.readouterr().err


def test_train_cli_writes_the_weights_and_their_companions(tmp_path):
    out = tmp_path / "net" / "model.pt"
    assert main(["train", "--method", "deepstorm-relu", "-o", str(out), "--patches", "8", "--frames", "2",
                 "--patch-size", "8", "--min-emitters", "1", "--epochs", "1", "--batch-size", "4", "--quiet"]) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.json", "model.log", "model.pt", "model.resume.pt"]
    cfg = json.loads((out.parent / "model.json").read_text())["config"]
    assert cfg["method"] == "deepstorm-relu" and cfg["loss"]["l1_weight"] == 10.0 and cfg["data"]["patch"] == 8


def test_deepcel0_localizes_dense_frames_better_than_chance():
    """High density (about 217 emitters per 64 x 64 frame, 15 dB): the regime the network was trained for."""
    sim = simulate_smlm(optics=OPTICS, shape=(64, 64), n_frames=4, density_per_um2=217 / 40.96, snr_db=15, seed=21)
    locs = localize(sim.stack, optics=OPTICS, method="deepcel0")
    m = match_localizations(locs, sim.ground_truth, tolerance_nm=100)
    assert m.jaccard > 40 and m.precision > 75, m.as_dict()
    assert m.rmse_nm < 50
