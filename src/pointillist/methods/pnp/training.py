"""Training the gradient-step denoiser on simulated variance images.

Loss ``|D_sigma(x + sigma xi) - x|^2`` with one ``sigma ~ U(0, sigma_max)``
per batch (Hurault et al.), random crops with flips and transposes of the
clean images, Adam with the learning rate halved at fixed fractions of the
run, gradient-norm clipping, the best validation checkpoint kept, all
seeded. Optionally (``prox_epochs > 0``) the Prox-PnP fine-tuning: the
loss gains ``w_J max(|Hess g_sigma|_2, 1 - eps)`` (spectral norm by power
iteration at the noisy inputs) to push the Lipschitz constant of
``grad g_sigma`` below 1, which makes ``D_sigma`` a proximal map.

Files beside ``denoiser.pt``: ``.json`` (configuration, per-epoch losses),
``.log`` (the same as text), ``.resume.pt`` (to continue a run).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ... import __version__
from ..._device import resolve_device
from ...denoisers import DRUNetLight, GradientStepDenoiser, hessian_spectral_norm
from ...denoisers.drunet import DEFAULT_BLOCKS, DEFAULT_CHANNELS
from ...denoisers.weights import save_denoiser
from ...errors import InputError
from ...io.atomic import atomic_path, write_json, write_text
from ...io.training_files import load_resume_state, prepare_training_files, restore_run
from .training_data import VarianceImageSettings, simulate_variance_images

__all__ = ["DenoiserTrainingConfig", "train_denoiser", "VALIDATION_SIGMAS"]

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


def _jacobian_penalty(den, y, sigma, config) -> torch.Tensor:
    """Prox-PnP penalty ``clip(max(|Hess g_sigma(y)|_2, 1 - eps), 0, 1e3)`` (batch mean, differentiable:
    power iteration, the last step with a graph) and the largest estimated norm in the batch."""
    v = torch.randn_like(y)
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


def train_denoiser(config: DenoiserTrainingConfig, output, *, device="cpu", resume: bool = False,
                   overwrite: bool = False, progress: bool = True, echo=print) -> GradientStepDenoiser:
    """Train the gradient-step denoiser; the best validation checkpoint is written to ``output``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> cfg = DenoiserTrainingConfig(n_train=4, n_val=2, images=VarianceImageSettings(size=16), crop=16,
    ...                              epochs=1, batch_size=2, channels=(4, 8), blocks=1)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     den = train_denoiser(cfg, pathlib.Path(d) / "den.pt", progress=False, echo=lambda line: None)
    >>> den.training_summary["epochs_run"]
    1
    """
    from tqdm import tqdm

    paths = prepare_training_files(output, resume=resume, overwrite=overwrite)
    dev = resolve_device(device)
    torch.manual_seed(config.seed)
    t0 = time.perf_counter()
    clean = torch.as_tensor(simulate_variance_images(config.n_train + config.n_val, config.images, rng=config.seed))
    train_clean, val_clean = clean[: config.n_train], clean[config.n_train :]
    noise_gen = torch.Generator().manual_seed(config.seed + 1)
    val_noise = [torch.randn(val_clean[:, None, :64, :64].shape, generator=noise_gen) for _ in VALIDATION_SIGMAS]
    # central crops keep validation cheap next to an epoch of small training crops
    c0 = max(0, (config.images.size - 64) // 2)
    val_clean = val_clean[:, None, c0 : c0 + 64, c0 : c0 + 64].contiguous()

    den = GradientStepDenoiser(DRUNetLight(config.channels, config.blocks)).to(dev)
    optimizer = torch.optim.Adam(den.parameters(), lr=config.lr)
    total_epochs = config.epochs + config.prox_epochs
    milestones = sorted({max(1, int(round(f * config.epochs))) for f in config.lr_milestones})
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.5)
    history, best_val, best_epoch, best_state, start_epoch, log_lines = [], math.inf, 0, None, 0, []
    best_psnr: dict = {}

    if resume:
        state = load_resume_state(paths, dev)
        if state["config"] != config.as_dict():
            raise InputError(f"{paths['resume']} was written with another configuration; start afresh with --overwrite")
        history, best_val, best_epoch, best_state, start_epoch, log_lines = restore_run(state, den, optimizer,
                                                                                       scheduler)
        best_psnr = history[best_epoch - 1]["val_psnr"] if best_epoch else {}
        if start_epoch > config.epochs:
            optimizer = torch.optim.Adam(den.parameters(), lr=config.prox_lr)
            optimizer.load_state_dict(state["optimizer"])
        t0 -= sum(h["seconds"] for h in history)

    def log(line):
        log_lines.append(line)
        echo(line)

    if resume:
        log(f"resuming after epoch {start_epoch}")

    if start_epoch == 0:
        log(f"pointillist {__version__} training gs-denoiser: {config.n_train} training and {config.n_val} validation "
            f"variance images ({config.images.size} px, crops of {config.crop}), "
            f"{sum(p.numel() for p in den.parameters())} parameters, device {dev}")
    for epoch in range(start_epoch, total_epochs):
        prox = epoch >= config.epochs
        if prox and epoch == config.epochs:
            # Prox stage: restart from the best GS weights with a fresh optimiser at a small learning rate
            den.load_state_dict({f"net.{k}": v for k, v in best_state.items()})
            optimizer = torch.optim.Adam(den.parameters(), lr=config.prox_lr)
            best_val = math.inf
        t_epoch = time.perf_counter()
        den.train()
        gen = torch.Generator().manual_seed(config.seed * 100003 + epoch)
        order = torch.randperm(config.n_train, generator=gen)
        total, jac_max, count = 0.0, 0.0, 0
        n_batches = -(-config.n_train // config.batch_size)
        bar = tqdm(total=n_batches, desc=f"epoch {epoch + 1}/{total_epochs}", disable=not progress, leave=False)
        for start in range(0, config.n_train, config.batch_size):
            x = _augment(train_clean[order[start : start + config.batch_size]], config.crop, gen).to(dev)
            sigma = float(torch.rand((), generator=gen)) * config.sigma_max / 255
            y = x + sigma * torch.randn(x.shape, generator=gen).to(dev)
            optimizer.zero_grad(set_to_none=True)
            loss = ((den(y, sigma, create_graph=True).denoised - x) ** 2).mean()
            objective = loss
            if prox:
                jac, norm = _jacobian_penalty(den, y, sigma, config)
                objective = loss + config.jacobian_weight * jac
                jac_max = max(jac_max, norm)
            objective.backward()
            torch.nn.utils.clip_grad_norm_(den.parameters(), config.grad_clip)
            optimizer.step()
            total += loss.item() * len(x)
            count += len(x)
            bar.update(1)
            bar.set_postfix(loss=f"{total / count:.3g}")
        bar.close()
        if not prox:
            scheduler.step()
        val_loss, psnr = _validate(den, val_clean, val_noise, dev)
        if not math.isfinite(val_loss):
            raise InputError(f"training diverged at epoch {epoch + 1} (validation loss {val_loss}); "
                             "lower --lr or change the seed")
        improved = val_loss < best_val
        if improved:
            best_val, best_epoch = val_loss, epoch + 1
            best_state = {k: v.detach().cpu().clone() for k, v in den.net.state_dict().items()}
            best_psnr = psnr
        seconds = time.perf_counter() - t_epoch
        record = {"epoch": epoch + 1, "stage": "prox" if prox else "gs", "train_loss": total / count,
                  "val_loss": val_loss, "val_psnr": psnr, "lr": optimizer.param_groups[0]["lr"], "seconds": seconds}
        if prox:
            record["hessian_norm_max"] = jac_max
        history.append(record)
        log(f"epoch {epoch + 1:3d} {'prox' if prox else 'gs  '} train {total / count:.4g}  val {val_loss:.4g}  "
            f"PSNR(10/255) {psnr['10']:.2f} dB  lr {record['lr']:.2g}"
            + (f"  max |Hess g| {record['hessian_norm_max']:.3f}" if prox else "") + f"  {seconds:.0f} s"
            + ("  (best)" if improved else ""))
        summary = _summary(config, history, best_epoch, best_val, best_psnr, dev, time.perf_counter() - t0, prox)
        best = GradientStepDenoiser(DRUNetLight(config.channels, config.blocks))
        best.net.load_state_dict(best_state)
        save_denoiser(best, paths["weights"], training=summary, overwrite=True)
        with atomic_path(paths["resume"], overwrite=True) as tmp:
            torch.save({"config": config.as_dict(), "net": den.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "history": history, "best_val": best_val,
                        "best_epoch": best_epoch, "best_state": best_state, "epoch": epoch + 1, "log": log_lines}, tmp)
        write_json(paths["config"], summary, overwrite=True)
        write_text(paths["log"], "\n".join(log_lines) + "\n", overwrite=True)

    best = GradientStepDenoiser(DRUNetLight(config.channels, config.blocks))
    best.net.load_state_dict(best_state)
    best.to(dev).eval()
    # The Lipschitz constant of grad g on validation images: < 1 is the prox condition (spec 2.5, pitfall 4)
    # (also at a size the network pads: padding is part of g, so it is part of its Lipschitz constant)
    lips = {}
    for s in (5, 10, 20):
        y = val_clean[:8].to(dev) + val_noise[0][:8].to(dev) * (s / 255)
        lips[str(s)] = max(float(hessian_spectral_norm(best, y, s / 255, n_iter=30).max()),
                           float(hessian_spectral_norm(best, y[..., :61, :61], s / 255, n_iter=30).max()))
    summary = _summary(config, history, best_epoch, best_val, best_psnr, dev, time.perf_counter() - t0,
                       config.prox_epochs > 0)
    summary["hessian_norm_validation"] = lips
    save_denoiser(best, paths["weights"], training=summary, overwrite=True)
    write_json(paths["config"], summary, overwrite=True)
    log(f"best validation loss {best_val:.4g} at epoch {best_epoch}; max |Hess g| on validation images "
        + ", ".join(f"{v:.3f} (sigma {k}/255)" for k, v in lips.items())
        + f"; {summary['seconds']:.0f} s -> {paths['weights']}")
    write_text(paths["log"], "\n".join(log_lines) + "\n", overwrite=True)
    best.training_summary = summary
    best.path = str(paths["weights"])
    return best


def _summary(config, history, best_epoch, best_val, best_psnr, dev, seconds, prox) -> dict:
    return {"method": "gs-denoiser", "pointillist_version": __version__, "config": config.as_dict(),
            "epochs_run": len(history), "best_epoch": best_epoch, "best_val_loss": best_val, "val_psnr": best_psnr,
            "prox_finetuned": bool(prox), "n_train": config.n_train, "n_val": config.n_val, "device": str(dev),
            "seconds": seconds, "history": history}
