"""Training the SMLM networks (Deep-STORM, Deep-STORM-ReLU, DeepCEL0) on simulated patches.

Adam, a ReduceLROnPlateau schedule on the validation loss, the best
validation checkpoint kept, everything seeded. Next to the weights file
``model.pt`` it writes ``model.json`` (the resolved configuration and the
per-epoch losses), ``model.log`` (the same as text) and
``model.resume.pt`` (optimiser, schedule and epoch, to resume an
interrupted run with ``resume=True``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ... import __version__
from ..._device import resolve_device
from ...errors import InputError
from ...io.atomic import atomic_path, write_json, write_text
from ...io.training_files import companion_paths, load_resume_state, prepare_training_files, restore_run
from ...optics import Optics
from .losses import LOSS_DEFAULTS, deepcel0_loss, deepstorm_loss, gaussian_kernel, heat_map
from .network import DeepSTORMNet
from .preprocess import Normalization, prepare_input, scale01
from .training_data import PatchSettings, simulate_patches
from .weights import NETWORK_METHODS, SMLMModel, save_model

__all__ = ["TrainingConfig", "TrainingResult", "train_network", "companion_paths"]


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that defines a training run (saved as JSON next to the weights).

    Defaults are the paper's: 100 epochs, batch 16, Adam 1e-3,
    ReduceLROnPlateau (factor 0.1, patience 5, min 5e-5), 30 % validation,
    heat-map scale 100; ``l1_weight`` None means 1 (Deep-STORM) or 10
    (Deep-STORM-ReLU).
    """

    method: str
    pixel_size_nm: float = 100.0
    psf_fwhm_nm: float = 258.21
    upsample: int = 4
    data: PatchSettings = field(default_factory=PatchSettings)
    epochs: int = 100
    batch_size: int = 16
    lr: float = 1e-3
    lr_factor: float = 0.1
    lr_patience: int = 5
    min_lr: float = 5e-5
    val_fraction: float = 0.3
    heat_scale: float = 100.0
    l1_weight: float | None = None
    cel0_lambda: float = 100.0
    seed: int = 0

    def __post_init__(self):
        if self.method not in NETWORK_METHODS:
            raise InputError(f"method must be one of {', '.join(NETWORK_METHODS)}; got {self.method!r}")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise InputError("epochs and batch size must be at least 1 and the learning rate positive")
        if not 0 < self.val_fraction < 1:
            raise InputError(f"the validation fraction must be in (0, 1), got {self.val_fraction}")
        if self.data.patch * self.upsample % 8:
            raise InputError(f"patch x upsample = {self.data.patch * self.upsample} must be a multiple of 8")

    @property
    def optics(self) -> Optics:
        return Optics(pixel_size_nm=self.pixel_size_nm, psf_fwhm_nm=self.psf_fwhm_nm, upsample=self.upsample)

    @property
    def loss_options(self) -> dict:
        opts = dict(LOSS_DEFAULTS[self.method])
        if self.method == "deepcel0":
            opts["cel0_lambda"] = self.cel0_lambda
        elif self.l1_weight is not None:
            opts["l1_weight"] = self.l1_weight
        return opts

    def as_dict(self) -> dict:
        out = asdict(self)
        out["loss"] = self.loss_options
        return out


@dataclass
class TrainingResult:
    model: SMLMModel
    history: list[dict]
    best_epoch: int
    best_val_loss: float
    seconds: float


def _loss_fn(config: TrainingConfig):
    opts = config.loss_options
    if config.method == "deepcel0":
        return lambda pred, heat, kernel: deepcel0_loss(pred, heat, kernel=kernel, **opts)
    return lambda pred, heat, kernel: deepstorm_loss(pred, heat, kernel=kernel, **opts)


def _batches(frames01, spikes, norm, q, batch, device, order=None):
    n = len(frames01)
    order = np.arange(n) if order is None else order
    for start in range(0, n, batch):
        idx = torch.as_tensor(order[start : start + batch])
        x = prepare_input(frames01[idx], norm, q).to(device).contiguous(memory_format=torch.channels_last)
        s = spikes[idx][:, None].to(device=device, dtype=torch.float32)
        yield x, s


def _evaluate(net, frames01, spikes, norm, config, kernel, loss_fn, device) -> float:
    net.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for x, s in _batches(frames01, spikes, norm, config.upsample, 64, device):
            loss = loss_fn(net(x), heat_map(s, config.heat_scale, kernel), kernel)
            total += loss.item() * len(x)
            count += len(x)
    return total / count


def train_network(config: TrainingConfig, output, *, device="cpu", resume: bool = False, overwrite: bool = False,
                  progress: bool = True, echo=print) -> TrainingResult:
    """Train one network; returns the best model and the per-epoch history.

    Parameters
    ----------
    config : TrainingConfig
    output : path
        Weights file (``.pt``); its companions are written beside it.
    device : str
        ``cpu``, ``cuda`` or ``auto``.
    resume : bool
        Continue from ``output``'s ``.resume.pt`` (same configuration; the
        number of epochs may be raised to train longer).
    overwrite : bool
        Replace existing files of a previous run.
    progress : bool
        Show a progress bar per epoch.
    echo : callable
        Receives each log line (also written to the ``.log`` file).
    """
    from tqdm import tqdm

    paths = prepare_training_files(output, resume=resume, overwrite=overwrite)
    dev = resolve_device(device)
    torch.manual_seed(config.seed)
    t0 = time.perf_counter()

    data = simulate_patches(config.optics, config.data, rng=config.seed)
    train, val = data.split(config.val_fraction)
    train01 = scale01(torch.as_tensor(train.frames))
    val01 = scale01(torch.as_tensor(val.frames))
    norm = Normalization.fit(train01.numpy())
    train_spikes, val_spikes = torch.as_tensor(train.spikes), torch.as_tensor(val.spikes)

    net = DeepSTORMNet(NETWORK_METHODS[config.method]).to(dev).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=config.lr_factor, patience=config.lr_patience, min_lr=config.min_lr)
    kernel = gaussian_kernel().to(dev)
    loss_fn = _loss_fn(config)
    history, best_val, best_epoch, start_epoch, log_lines = [], float("inf"), 0, 0, []
    best_state = None

    if resume:
        state = load_resume_state(paths, dev)
        # Only the number of epochs may change: a resumed run with more epochs is the same
        # run as one started with that many (the data, shuffles and schedule do not depend on it).
        same = {k: v for k, v in state["config"].items() if k != "epochs"} == {
            k: v for k, v in config.as_dict().items() if k != "epochs"}
        if not same:
            raise InputError(f"{paths['resume']} was written with another configuration; start afresh with --overwrite")
        if config.epochs < state["epoch"]:
            raise InputError(f"{paths['resume']} has already run {state['epoch']} epochs; ask for more than that")
        history, best_val, best_epoch, best_state, start_epoch, log_lines = restore_run(state, net, optimizer,
                                                                                       scheduler)
        echo(f"resuming after epoch {start_epoch}")

    def log(line):
        log_lines.append(line)
        echo(line)

    if start_epoch == 0:
        log(f"pointillist {__version__} training {config.method}: {len(train)} training and {len(val)} validation "
            f"patches, {sum(p.numel() for p in net.parameters())} parameters, device {dev}")
    for epoch in range(start_epoch, config.epochs):
        t_epoch = time.perf_counter()
        net.train()
        order = np.random.default_rng([config.seed, epoch]).permutation(len(train01))
        total, count = 0.0, 0
        n_batches = -(-len(train01) // config.batch_size)
        bar = tqdm(total=n_batches, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, leave=False)
        for x, s in _batches(train01, train_spikes, norm, config.upsample, config.batch_size, dev, order):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), heat_map(s, config.heat_scale, kernel), kernel)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
            count += len(x)
            bar.update(1)
            bar.set_postfix(loss=f"{total / count:.4g}")
        bar.close()
        train_loss = total / count
        val_loss = _evaluate(net, val01, val_spikes, norm, config, kernel, loss_fn, dev)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step(val_loss)
        improved = val_loss < best_val
        if improved:
            best_val, best_epoch = val_loss, epoch + 1
            best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        seconds = time.perf_counter() - t_epoch
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss, "lr": lr,
                        "seconds": seconds})
        log(f"epoch {epoch + 1:3d}  train {train_loss:.5g}  val {val_loss:.5g}  lr {lr:.2g}  {seconds:.0f} s"
            + ("  (best)" if improved else ""))
        model = _model(config, best_state, norm, history, best_epoch, best_val, dev, time.perf_counter() - t0, data,
                       len(train))
        save_model(model, paths["weights"], overwrite=True)
        with atomic_path(paths["resume"], overwrite=True) as tmp:
            torch.save({"config": config.as_dict(), "net": net.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "history": history, "best_val": best_val,
                        "best_epoch": best_epoch, "best_state": best_state, "epoch": epoch + 1, "log": log_lines}, tmp)
        write_json(paths["config"], {"config": config.as_dict(), "training": model.training}, overwrite=True)
        write_text(paths["log"], "\n".join(log_lines) + "\n", overwrite=True)
    seconds = time.perf_counter() - t0
    model = _model(config, best_state, norm, history, best_epoch, best_val, dev, seconds, data, len(train))
    log(f"best validation loss {best_val:.5g} at epoch {best_epoch}; {seconds:.0f} s -> {paths['weights']}")
    write_text(paths["log"], "\n".join(log_lines) + "\n", overwrite=True)
    return TrainingResult(model=model, history=history, best_epoch=best_epoch, best_val_loss=best_val, seconds=seconds)


def _model(config, best_state, norm, history, best_epoch, best_val, dev, seconds, data, n_train) -> SMLMModel:
    net = DeepSTORMNet(NETWORK_METHODS[config.method])
    net.load_state_dict(best_state)
    net.eval()
    training = {
        "pointillist_version": __version__,
        "config": config.as_dict(),
        "epochs_run": len(history),
        "best_epoch": best_epoch,
        "best_val_loss": best_val,
        "final_train_loss": history[-1]["train_loss"],
        "device": str(dev),
        "seconds": seconds,
        "n_train": n_train,
        "n_val": len(data) - n_train,
        "mean_emitters_per_patch": float(np.mean(data.n_emitters)),
    }
    return SMLMModel(method=config.method, net=net, normalization=norm,
                     optics={"pixel_size_nm": config.pixel_size_nm, "psf_fwhm_nm": config.psf_fwhm_nm,
                             "upsample": config.upsample},
                     heat_scale=config.heat_scale, kernel_factor=config.loss_options["kernel_factor"],
                     training=training)
