"""Training the gradient-step denoiser on simulated variance images.

Loss ``|D_sigma(x + sigma xi) - x|^2`` with one ``sigma ~ U(0, sigma_max)``
per batch (Hurault et al.), random crops with flips and transposes of the
clean images, Adam with the learning rate halved at fixed fractions of the
run, gradient-norm clipping, the best validation checkpoint kept, all
seeded. Optionally (``prox_epochs > 0``) the Prox-PnP fine-tuning: the
loss gains ``w_J max(|Hess g_sigma|_2, 1 - eps)`` (spectral norm by power
iteration at the noisy inputs) to push the Lipschitz constant of
``grad g_sigma`` below 1, which makes ``D_sigma`` a proximal map.

The loop is :func:`pointillist.training.engine.train` with two stages
(``gs`` then ``prox``, restarting from the best GS weights with a fresh
optimiser); files beside ``denoiser.pt``: ``.json`` (the weights record),
``.log``, ``.resume.pt`` (to continue a run).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ...denoisers import DRUNetLight, GradientStepDenoiser, hessian_spectral_norm
from ...denoisers.drunet import DEFAULT_BLOCKS, DEFAULT_CHANNELS
from ...denoisers.gradient_step import ARCHITECTURE
from ...errors import InputError
from ...training.engine import Recipe, Stage, StepLoss, TrainingResult, train
from .training_data import VarianceImageSettings, simulate_variance_images

__all__ = ["DenoiserTrainingConfig", "DenoiserRecipe", "train_denoiser", "VALIDATION_SIGMAS"]

#: noise levels (x 1/255) of the fixed validation set
VALIDATION_SIGMAS = (5, 10, 20, 35, 50)


@dataclass(frozen=True)
class DenoiserTrainingConfig:
    """Everything that defines a denoiser training run (saved with the weights).

    The spec's numbers where they fit a CPU: 500 training and 100
    validation images, sigma ~ U(0, 50/255), batch 16, gradient clipping
    1e-2, Prox fine-tuning weight 1e-3 and eps 0.1. To fit in under an hour
    on 2 CPU cores the crops are small (32 px: many optimisation steps per
    second) and the learning rate starts higher (1e-3, halved at 50, 75 and
    90 % of the epochs) than the natural-image schedule (1200 epochs at 1e-4).
    Validation uses the central 64 x 64 pixels of the validation images.
    """

    n_train: int = 500
    n_val: int = 100
    images: VarianceImageSettings = field(default_factory=VarianceImageSettings)
    crop: int = 32
    epochs: int = 200
    batch_size: int = 16
    lr: float = 1e-3
    lr_milestones: tuple[float, ...] = (0.5, 0.75, 0.9)
    sigma_max: float = 50.0
    grad_clip: float = 1e-2
    prox_epochs: int = 0
    prox_lr: float = 1e-5
    jacobian_weight: float = 1e-3
    jacobian_eps: float = 0.1
    power_iterations: int = 10
    channels: tuple[int, ...] = DEFAULT_CHANNELS
    blocks: int = DEFAULT_BLOCKS
    seed: int = 0

    def __post_init__(self):
        if self.n_train < 1 or self.n_val < 1 or self.epochs < 1 or self.batch_size < 1:
            raise InputError("image counts, epochs and batch size must be at least 1")
        if self.crop > self.images.size or self.crop % 8:
            raise InputError(f"crop {self.crop} must be a multiple of 8 and at most the image size {self.images.size}")
        if not 0 < self.sigma_max <= 255 or not self.lr > 0 or self.prox_epochs < 0:
            raise InputError("sigma_max must be in (0, 255], lr positive and prox_epochs non-negative")

    def as_dict(self) -> dict:
        out = asdict(self)
        out["lr_milestones"] = list(self.lr_milestones)
        out["channels"] = list(self.channels)
        return out


def _augment(batch: torch.Tensor, crop: int, gen: torch.Generator) -> torch.Tensor:
    out = []
    n = batch.shape[-1]
    for img in batch:
        i, j = (int(v) for v in torch.randint(0, n - crop + 1, (2,), generator=gen))
        patch = img[i : i + crop, j : j + crop]
        k = int(torch.randint(0, 4, (1,), generator=gen))
        flip = bool(torch.randint(0, 2, (1,), generator=gen))
        patch = torch.rot90(patch, k, (0, 1))
        out.append(patch.flip(1) if flip else patch)
    return torch.stack(out)[:, None]


def _validate(den, val_clean, val_noise, device) -> tuple[float, dict]:
    den.eval()
    losses, psnr = [], {}
    for s, noise in zip(VALIDATION_SIGMAS, val_noise):
        errs = []
        for start in range(0, len(val_clean), 25):
            x = val_clean[start : start + 25].to(device)
            y = x + noise[start : start + 25].to(device) * (s / 255)
            d = den(y, s / 255).denoised
            errs.append(((d - x) ** 2).flatten(1).mean(dim=1).cpu())
        mse = torch.cat(errs)
        losses.append(float(mse.mean()))
        psnr[str(s)] = float((10 * torch.log10(1 / mse.clamp_min(1e-12))).mean())
    return float(np.mean(losses)), psnr


def _jacobian_penalty(den, y, sigma, config, gen) -> tuple[torch.Tensor, float]:
    """Prox-PnP penalty ``clip(max(|Hess g_sigma(y)|_2, 1 - eps), 0, 1e3)`` (batch mean, differentiable:
    power iteration, the last step with a graph) and the largest estimated norm in the batch."""
    v = torch.randn(y.shape, generator=gen).to(y)
    y = y.detach().requires_grad_(True)
    residual = y - den.network(y, sigma)
    g = 0.5 * residual.pow(2).flatten(1).sum(dim=1)
    (grad,) = torch.autograd.grad(g.sum(), y, create_graph=True)
    for _ in range(config.power_iterations - 1):
        v = v / v.flatten(1).norm(dim=1).reshape(-1, 1, 1, 1)
        (hv,) = torch.autograd.grad(grad, y, grad_outputs=v, retain_graph=True)
        v = hv.detach()
    v = v / v.flatten(1).norm(dim=1).reshape(-1, 1, 1, 1)
    (hv,) = torch.autograd.grad(grad, y, grad_outputs=v, create_graph=True)
    norm = hv.flatten(1).norm(dim=1)
    penalty = torch.clamp(torch.maximum(norm, torch.full_like(norm, 1 - config.jacobian_eps)), 0, 1e3).mean()
    return penalty, float(norm.detach().max())


@dataclass
class _Images:
    train_clean: torch.Tensor
    val_clean: torch.Tensor
    val_noise: list


class DenoiserRecipe(Recipe):
    """The gradient-step denoiser (and its Prox fine-tuning) for :func:`~pointillist.training.engine.train`.

    Parameters
    ----------
    config : DenoiserTrainingConfig
    """

    method = "gs-denoiser"
    stages = (Stage("gs", "epochs"), Stage("prox", "prox_epochs", restart_from_best=True))

    def __init__(self, config: DenoiserTrainingConfig):
        self.config = config
        self.grad_clip = config.grad_clip

    def prepare(self, device):
        c = self.config
        clean = torch.as_tensor(simulate_variance_images(c.n_train + c.n_val, c.images, rng=c.seed))
        train_clean, val_clean = clean[: c.n_train], clean[c.n_train :]
        noise_gen = torch.Generator().manual_seed(c.seed + 1)
        val_noise = [torch.randn(val_clean[:, None, :64, :64].shape, generator=noise_gen) for _ in VALIDATION_SIGMAS]
        # central crops keep validation cheap next to an epoch of small training crops
        c0 = max(0, (c.images.size - 64) // 2)
        return _Images(train_clean, val_clean[:, None, c0 : c0 + 64, c0 : c0 + 64].contiguous(), val_noise)

    def build(self):
        return GradientStepDenoiser(DRUNetLight(self.config.channels, self.config.blocks))

    def optimizer(self, net, stage):
        return torch.optim.Adam(net.parameters(), lr=self.config.lr if stage.name == "gs" else self.config.prox_lr)

    def scheduler(self, optimizer, stage):
        if stage.name != "gs":
            return None
        milestones = sorted({max(1, int(round(f * self.config.epochs))) for f in self.config.lr_milestones})
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.5)

    def batches(self, data, epoch, gen, device):
        c = self.config
        order = torch.randperm(c.n_train, generator=gen)
        for start in range(0, c.n_train, c.batch_size):
            x = _augment(data.train_clean[order[start : start + c.batch_size]], c.crop, gen).to(device)
            sigma = float(torch.rand((), generator=gen)) * c.sigma_max / 255
            yield x, sigma, x + sigma * torch.randn(x.shape, generator=gen).to(device)

    def loss(self, net, batch, data, stage, gen):
        x, sigma, y = batch
        loss = ((net(y, sigma, create_graph=True).denoised - x) ** 2).mean()
        if stage.name != "prox":
            return StepLoss(objective=loss, value=loss.item(), count=len(x))
        jac, norm = _jacobian_penalty(net, y, sigma, self.config, gen)
        return StepLoss(objective=loss + self.config.jacobian_weight * jac, value=loss.item(), count=len(x),
                        maxima={"hessian_norm_max": norm})

    def validate(self, net, data, device):
        val_loss, psnr = _validate(net, data.val_clean, data.val_noise, device)
        return val_loss, {"val_psnr": psnr}

    def describe(self, data, net, device):
        c = self.config
        return (f"training gs-denoiser: {c.n_train} training and {c.n_val} validation variance images "
                f"({c.images.size} px, crops of {c.crop}), {sum(p.numel() for p in net.parameters())} parameters, "
                f"device {device}")

    def epoch_notes(self, entry):
        notes = f"  PSNR(10/255) {entry['val_psnr']['10']:.2f} dB"
        return notes + (f"  max |Hess g| {entry['hessian_norm_max']:.3f}" if "hessian_norm_max" in entry else "")

    def weights_fields(self, data, history):
        from ...io.weights import Architecture

        c = self.config
        return {"architecture": Architecture(ARCHITECTURE, {"channels": list(c.channels), "blocks": c.blocks}),
                "optics": None, "data": {"n_train": c.n_train, "n_val": c.n_val},
                "extra": {"prox_finetuned": any(h.get("stage") == "prox" for h in history)}}

    def finish(self, net, data, device):
        # The Lipschitz constant of grad g on validation images: < 1 is the prox condition (spec 2.5, pitfall 4)
        # (also at a size the network pads: padding is part of g, so it is part of its Lipschitz constant)
        lips = {}
        for s in (5, 10, 20):
            y = data.val_clean[:8].to(device) + data.val_noise[0][:8].to(device) * (s / 255)
            lips[str(s)] = max(float(hessian_spectral_norm(net, y, s / 255, n_iter=30).max()),
                               float(hessian_spectral_norm(net, y[..., :61, :61], s / 255, n_iter=30).max()))
        return {"hessian_norm_validation": lips}


def train_denoiser(config: DenoiserTrainingConfig, output, *, device="cpu", resume: bool = False,
                   overwrite: bool = False, progress: bool = True, echo=print) -> TrainingResult:
    """Train the gradient-step denoiser; the best validation weights are written to ``output``.

    Parameters
    ----------
    config : DenoiserTrainingConfig
        Images, crops, noise levels, the GS stage and the optional Prox stage.
    output, device, resume, overwrite, progress, echo
        As :func:`pointillist.training.engine.train` (``epochs`` and
        ``prox_epochs`` may grow on resume while their stage is not over).

    Returns
    -------
    TrainingResult
        ``.net`` is the :class:`~pointillist.denoisers.GradientStepDenoiser`,
        ``.record.extra["prox_finetuned"]`` whether the Prox stage ran.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> cfg = DenoiserTrainingConfig(n_train=4, n_val=2, images=VarianceImageSettings(size=16), crop=16,
    ...                              epochs=1, batch_size=2, channels=(4, 8), blocks=1)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     res = train_denoiser(cfg, pathlib.Path(d) / "den.pt", progress=False, echo=lambda line: None)
    >>> res.record.epochs, res.record.extra["prox_finetuned"]
    (1, False)
    """
    return train(DenoiserRecipe(config), output, device=device, resume=resume, overwrite=overwrite,
                 progress=progress, echo=echo)
