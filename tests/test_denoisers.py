"""The gradient-step denoiser: exact gradient step, scaling, Lipschitz estimate, checkpoints, training."""

import json

import numpy as np
import pytest
import torch

from pointillist import InputError
from pointillist.denoisers import DRUNetLight, GradientStepDenoiser, hessian_spectral_norm, load_denoiser
from pointillist.denoisers.gradient_step import ARCHITECTURE
from pointillist.io import file_sha256
from pointillist.io.weights import Architecture, WeightsRecord, save_weights, shipped_weights_path
from pointillist.methods.pnp.training import DenoiserTrainingConfig, train_denoiser
from pointillist.methods.pnp.training_data import (
    PATTERNS,
    VarianceImageSettings,
    simulate_variance_images,
    variance_image,
)


def _tiny(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    den = GradientStepDenoiser(DRUNetLight(channels=(3, 4), blocks=1)).to(dtype)
    # random weights large enough that N is far from the identity (a non-trivial potential)
    for p in den.parameters():
        p.data.normal_(0, 0.3)
    return den.eval()


def test_denoiser_is_x_minus_the_finite_difference_gradient_of_the_potential():
    den = _tiny()
    x = torch.rand(1, 1, 5, 7, dtype=torch.float64)  # not a multiple of the network's 2: padded inside
    out = den(x, 0.1)
    eps = 1e-6
    grad = torch.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        e = torch.zeros_like(x)
        e[idx] = eps
        grad[idx] = (den(x + e, 0.1).potential - den(x - e, 0.1).potential).item() / (2 * eps)
    torch.testing.assert_close(out.denoised, x - grad, rtol=1e-6, atol=1e-8)
    residual = x - den.network(x, 0.1)
    torch.testing.assert_close(out.potential, 0.5 * residual.pow(2).sum().reshape(1))


def test_shift_averaged_denoiser_is_the_mean_of_the_shifted_denoisers_and_a_gradient_step():
    # g(x) = mean_s g_sigma(S_s x) over the 2 x 2 circular shifts S_s, so D(x) = mean_s S_s^T D_sigma(S_s x)
    den = _tiny(1)
    x = torch.rand(2, 1, 6, 8, dtype=torch.float64)
    out = den(x, 0.1, shifts=2)
    shifts = [(i, j) for i in range(2) for j in range(2)]
    parts = [den(torch.roll(x, s, dims=(-2, -1)), 0.1) for s in shifts]
    mean_d = sum(torch.roll(p.denoised, (-s[0], -s[1]), dims=(-2, -1)) for p, s in zip(parts, shifts)) / 4
    torch.testing.assert_close(out.denoised, mean_d, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(out.potential, sum(p.potential for p in parts) / 4, rtol=1e-12, atol=0)
    # and the plain denoiser differs: the network is not shift-equivariant (the averaging does something)
    assert float((den(x, 0.1).denoised - out.denoised).abs().max()) > 1e-4
    # D = x - grad g, by finite differences of the averaged potential on one pixel
    eps, idx = 1e-6, (0, 0, 2, 3)
    e = torch.zeros_like(x)
    e[idx] = eps
    fd = (den(x + e, 0.1, shifts=2).potential[0] - den(x - e, 0.1, shifts=2).potential[0]).item() / (2 * eps)
    assert x[idx].item() - out.denoised[idx].item() == pytest.approx(fd, rel=1e-5)
    with pytest.raises(InputError, match="shifts"):
        den(x, 0.1, shifts=0)


def test_denoiser_runs_under_no_grad_and_in_eval_mode():
    den = _tiny()
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        out = den(x, torch.tensor([0.05, 0.1], dtype=torch.float64))
    assert out.denoised.shape == x.shape and not out.denoised.requires_grad
    assert den(x[0, 0], 0.05).denoised.shape == (8, 8)
    with pytest.raises(InputError, match="images"):
        den(torch.rand(2, 3, 8, 8, dtype=torch.float64), 0.1)


def test_scaled_denoiser_is_the_prox_of_the_rescaled_potential():
    den = _tiny()
    z = torch.rand(1, 1, 6, 6, dtype=torch.float64)
    mu = 0.6
    out = den.scaled(z, 0.1, mu)
    ref = den(mu * z, 0.1)
    torch.testing.assert_close(out.denoised, ref.denoised / mu)
    torch.testing.assert_close(out.potential, ref.potential / mu**2)
    with pytest.raises(InputError, match="mu"):
        den.scaled(z, 0.1, 0.0)


class _Linear(torch.nn.Module):
    """N(x) = a x: g = (1 - a)^2 |x|^2 / 2, D = c x with c = 1 - (1 - a)^2, the prox of (1/c - 1) |x|^2 / 2."""

    multiple = 1

    def __init__(self, a):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(float(a), dtype=torch.float64))

    def forward(self, x, sigma):
        return self.a * x


def test_pnp_objective_terms_are_exact_for_a_denoiser_with_a_known_prox():
    from pointillist.methods.pnp.support import scaled_denoiser
    from pointillist.solvers import SolverOptions, pnp_proximal_gradient

    a, mu = 0.4, 0.5
    den = GradientStepDenoiser(_Linear(a))
    c = 1 - (1 - a) ** 2
    z = torch.rand(5, 6, dtype=torch.float64)
    d, psi_at = scaled_denoiser(den, 10.0, mu)(z)
    torch.testing.assert_close(d, c * z)
    # D_{mu,sigma} = D_sigma here (D is linear), the prox of phi(x) = (1/c - 1) |x|^2 / 2 (scaled: the same)
    assert psi_at == pytest.approx(0.5 * (1 / c - 1) * float((d**2).sum()), rel=1e-12)

    class Fit:  # 1/2 |x - b|^2
        lipschitz = 1.0

        def __init__(self, b):
            self.b = b

        def value(self, x):
            return 0.5 * float(((x - self.b) ** 2).sum())

        def grad(self, x):
            return x - self.b

    b = torch.rand(5, 6, dtype=torch.float64)
    step = 0.5
    res = pnp_proximal_gradient(Fit(b), scaled_denoiser(den, 10.0, mu), b.clone(), step=step,
                                options=SolverOptions(max_iter=2000, tol=1e-14))
    # minimiser of 1/2 |x - b|^2 + phi(x) / step (phi quadratic, weight k = (1/c - 1) / step): x = b / (1 + k)
    k = (1 / c - 1) / step
    torch.testing.assert_close(res.x, b / (1 + k))
    assert res.history.objective[-1] == pytest.approx(Fit(b).value(res.x) + 0.5 * k * float((res.x**2).sum()))
    assert np.all(np.diff(res.history.objective) <= 1e-15)


def test_hessian_norm_by_power_iteration_matches_the_dense_hessian():
    den = _tiny()
    x = torch.rand(1, 1, 4, 4, dtype=torch.float64)

    def g(flat):
        img = flat.reshape(1, 1, 4, 4)
        return 0.5 * (img - den.network(img, 0.1)).pow(2).sum()

    hess = torch.autograd.functional.hessian(g, x.flatten())
    expected = torch.linalg.eigvalsh(hess).abs().max()
    est = hessian_spectral_norm(den, x, 0.1, n_iter=500, tol=1e-10)
    torch.testing.assert_close(est[0], expected, rtol=1e-4, atol=1e-8)


def test_checkpoint_round_trip_and_clear_errors(tmp_path):
    den = _tiny(dtype=torch.float32)
    record = WeightsRecord("gs-denoiser", Architecture(ARCHITECTURE, {"channels": [3, 4], "blocks": 1}), None,
                           {}, {"n_train": 1}, 1, 1, 0.5)
    path = save_weights(tmp_path / "d.pt", den.state_dict(), record)
    back = load_denoiser(path)
    x = torch.rand(1, 1, 8, 8)
    torch.testing.assert_close(back.net(x, 0.1).denoised, den(x, 0.1).denoised, rtol=0, atol=0)
    assert back.record.method == "gs-denoiser" and back.record.path == str(path)
    with pytest.raises(InputError, match="exist"):
        save_weights(path, den.state_dict(), record)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot read"):
        load_denoiser(bad)
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a pointillist weights file"):
        load_denoiser(tmp_path / "other.pt")
    with pytest.raises(InputError, match="not found"):
        load_denoiser(tmp_path / "missing.pt")


def test_shipped_denoiser_loads_offline_matches_its_manifest_and_was_checked():
    path = shipped_weights_path("gs-denoiser")
    manifest = {e["file"]: e for e in json.loads((path.parent / "manifest.json").read_text())["weights"]}[path.name]
    assert manifest["sha256"] == file_sha256(path)
    assert path.stat().st_size < 8e6
    loaded = load_denoiser()
    den = loaded.net
    assert loaded.record.extra["prox_finetuned"] is manifest["extra"]["prox_finetuned"] is True
    assert set(manifest["validation"]["hessian_norm_validation"]) == {"5", "10", "20"}
    # a trained denoiser removes noise from a held-out variance image
    clean = torch.as_tensor(variance_image(VarianceImageSettings(size=64), rng=12345))[None, None]
    noisy = clean + (20 / 255) * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    err_in = float(((noisy - clean) ** 2).mean())
    err_out = float(((den(noisy, 20 / 255).denoised - clean) ** 2).mean())
    assert err_out < 0.5 * err_in


# --- training data and training ---------------------------------------------------------------------------


def test_variance_images_are_seeded_normalised_and_varied():
    a = simulate_variance_images(6, VarianceImageSettings(size=32), rng=3)
    b = simulate_variance_images(6, VarianceImageSettings(size=32), rng=3)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == (6, 32, 32)
    np.testing.assert_allclose(a.max(axis=(1, 2)), 1.0)
    assert a.min() >= 0
    assert not np.array_equal(a[0], a[1])
    # sparse, as emitter variance maps are
    assert 0 < (a > 0).mean() < 0.5
    assert set(PATTERNS) == {"filaments", "tubes", "points", "blobs", "rings"}


def test_variance_image_settings_are_validated():
    with pytest.raises(InputError, match="16"):
        VarianceImageSettings(size=8)
    with pytest.raises(InputError, match="frames"):
        VarianceImageSettings(frames=(1, 10))


def _config(**kw):
    base = dict(n_train=6, n_val=2, images=VarianceImageSettings(size=16), crop=16, epochs=2, batch_size=3,
                channels=(4, 8), blocks=1, seed=5)
    base.update(kw)
    return DenoiserTrainingConfig(**base)


def test_training_is_seeded_writes_its_files_and_resumes(tmp_path):
    quiet = dict(progress=False, echo=lambda line: None)
    a = train_denoiser(_config(), tmp_path / "a.pt", **quiet)
    b = train_denoiser(_config(), tmp_path / "b.pt", **quiet)
    for pa, pb in zip(a.net.parameters(), b.net.parameters()):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    for suffix in (".pt", ".json", ".log", ".resume.pt"):
        assert (tmp_path / f"a{suffix}").exists()
    summary = json.loads((tmp_path / "a.json").read_text())
    assert summary["epochs"] == 2 and summary["extra"]["prox_finetuned"] is False
    history = summary["training"]["history"]
    assert len(history) == 2 and all(np.isfinite(h["val_loss"]) for h in history)
    with pytest.raises(InputError, match="overwrite"):
        train_denoiser(_config(), tmp_path / "a.pt", **quiet)
    with pytest.raises(InputError, match="another configuration"):
        train_denoiser(_config(lr=2e-3), tmp_path / "a.pt", resume=True, **quiet)
    # the Prox stage runs after the GS epochs and is recorded
    c = train_denoiser(_config(epochs=1, prox_epochs=1), tmp_path / "c.pt", **quiet)
    assert c.record.extra["prox_finetuned"] is True
    assert c.history[-1]["stage"] == "prox" and c.history[0]["stage"] == "gs"
    assert c.history[-1]["hessian_norm_max"] > 0
    assert set(c.record.validation["hessian_norm_validation"]) == {"5", "10", "20"}


def test_an_interrupted_training_resumes_to_the_same_weights(tmp_path):
    class Stop(Exception):
        pass

    def stop_after_first_epoch(line):
        # epoch 2's line comes before its checkpoint: the run stops with epoch 1 saved
        if line.startswith("epoch   2"):
            raise Stop

    with pytest.raises(Stop):
        train_denoiser(_config(), tmp_path / "r.pt", progress=False, echo=stop_after_first_epoch)
    resumed = train_denoiser(_config(), tmp_path / "r.pt", resume=True, progress=False, echo=lambda line: None)
    straight = train_denoiser(_config(), tmp_path / "s.pt", progress=False, echo=lambda line: None)
    for pa, pb in zip(resumed.net.parameters(), straight.net.parameters()):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    assert "resuming after epoch 1" in (tmp_path / "r.log").read_text()


def test_training_lowers_the_denoising_error(tmp_path):
    cfg = _config(n_train=32, n_val=8, images=VarianceImageSettings(size=32), crop=32, epochs=6, batch_size=8,
                  lr=2e-3)
    den = train_denoiser(cfg, tmp_path / "d.pt", progress=False, echo=lambda line: None)
    hist = den.history
    assert hist[-1]["val_loss"] < 0.7 * hist[0]["val_loss"]


def test_training_config_is_validated():
    with pytest.raises(InputError, match="crop"):
        _config(crop=20)
    with pytest.raises(InputError, match="at least 1"):
        _config(epochs=0)
