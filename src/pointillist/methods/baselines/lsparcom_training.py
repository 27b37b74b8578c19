"""Training LSPARCOM on simulated fluctuation stacks.

Each sample is a stack drawn with the simulator (filaments, tubes, points
or rings, a random number of frames, on-probability and SNR, the PSF width
jittered by up to 10 %), reduced to the network input (the max-normalised
temporal variance on the fine grid) and the target (the true temporal
variance of the emitters in each fine pixel, on the input's scale times
``target_scale`` of the nominal optics). Loss:
``|G * (out - target)|^2 + l1_weight |out|_1`` (means over pixels) with
``G`` a Gaussian of one fine pixel, as Deep-STORM's, so that a one-pixel
misplacement costs less than a miss. Adam (the data filters at
``data_lr_factor`` times the rate, gradients clipped), learning rate halved
at 50 and 75 % of the epochs, best validation checkpoint kept, seeded,
resumable.

Files beside ``lsparcom.pt``: ``.json`` (configuration, per-epoch losses),
``.log``, ``.resume.pt``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ... import __version__
from ..._device import resolve_device
from ..._rng import as_rng
from ...errors import InputError
from ...io.atomic import atomic_path, write_json, write_text
from ...io.training_files import load_resume_state, prepare_training_files, restore_run
from ...optics import Optics
from .lsparcom import LSPARCOMNet, save_lsparcom, target_scale, temporal_variance, variance_input

__all__ = ["LsparcomTrainingConfig", "simulate_lsparcom_samples", "train_lsparcom"]

STRUCTURES = ("filaments", "tubes", "points", "rings")
GRAD_CLIP = 1.0


@dataclass(frozen=True)
class LsparcomTrainingConfig:
    """Everything that defines an LSPARCOM training run (saved with the weights)."""

    pixel_size_nm: float = 100.0
    psf_fwhm_nm: float = 258.21
    upsample: int = 4
    n_train: int = 960
    n_val: int = 64
    image_size: int = 24
    frames: tuple[int, int] = (200, 1000)
    snr_db: tuple[float, float] = (8.0, 25.0)
    on_probability: tuple[float, float] = (0.1, 0.4)
    fwhm_jitter: float = 0.1
    folds: int = 10
    input_kernel: int = 25
    state_kernel: int = 5
    epochs: int = 50
    batch_size: int = 8
    lr: float = 1e-3
    data_lr_factor: float = 0.01
    l1_weight: float = 1e-3
    seed: int = 0

    def __post_init__(self):
        if self.n_train < 1 or self.n_val < 1 or self.epochs < 1 or self.batch_size < 1:
            raise InputError("image counts, epochs and batch size must be at least 1")
        if self.image_size < 8:
            raise InputError(f"training images must be at least 8 camera pixels wide, got {self.image_size}")
        if not self.lr > 0 or not self.data_lr_factor > 0 or self.l1_weight < 0 or not 0 <= self.fwhm_jitter < 0.5:
            raise InputError("lr and data_lr_factor must be positive, l1_weight non-negative and fwhm_jitter "
                             "in [0, 0.5)")
        Optics(pixel_size_nm=self.pixel_size_nm, psf_fwhm_nm=self.psf_fwhm_nm, upsample=self.upsample)

    @property
    def optics(self) -> Optics:
        return Optics(pixel_size_nm=self.pixel_size_nm, psf_fwhm_nm=self.psf_fwhm_nm, upsample=self.upsample)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["frames"], out["snr_db"], out["on_probability"] = (list(out[k]) for k in ("frames", "snr_db",
                                                                                     "on_probability"))
        return out


def simulate_lsparcom_samples(n: int, config: LsparcomTrainingConfig, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (input, target) pairs, each ``(q S, q S)`` float32 (``S = config.image_size``), seeded.

    Examples
    --------
    >>> u, r = simulate_lsparcom_samples(2, LsparcomTrainingConfig(image_size=8), rng=0)
    >>> u.shape, r.shape, float(u.max()), bool(0.2 < r.max() < 20)
    ((2, 32, 32), (2, 32, 32), 1.0, True)
    """
    from ...simulate import Camera, simulate_fluctuation

    rng = as_rng(rng)
    inputs, targets = [], []
    camera = Camera(background=50.0, read_noise=0.0, gain=1.0, offset=0.0, quantize=False)
    s = config.image_size
    gain = target_scale(config.optics)  # the nominal optics': the one factor inference divides by
    while len(inputs) < n:
        fwhm = config.psf_fwhm_nm * float(rng.uniform(1 - config.fwhm_jitter, 1 + config.fwhm_jitter))
        optics = Optics(pixel_size_nm=config.pixel_size_nm, psf_fwhm_nm=fwhm, upsample=config.upsample)
        kind = str(rng.choice(STRUCTURES))
        count = {"filaments": rng.integers(1, 5), "tubes": rng.integers(1, 4), "points": rng.integers(5, 40),
                 "rings": rng.integers(1, 4)}[kind]
        sim = simulate_fluctuation(
            optics=optics, shape=(s, s), n_frames=int(rng.integers(config.frames[0], config.frames[1] + 1)),
            structure=kind, n_structures=int(count), on_probability=float(rng.uniform(*config.on_probability)),
            camera=camera, snr_db=float(rng.uniform(*config.snr_db)), seed=int(rng.integers(2**31)))
        var = temporal_variance(sim.stack.astype(np.float64))
        if not var.max() > 0:
            continue
        u, scale = variance_input(var, config.upsample)
        inputs.append(u.astype(np.float32))
        targets.append((sim.variance * (gain / scale)).astype(np.float32))
    return np.stack(inputs), np.stack(targets)


def _blur(x: torch.Tensor) -> torch.Tensor:
    k = torch.exp(-torch.arange(-3, 4, dtype=x.dtype, device=x.device) ** 2 / 2.0)
    k = k / k.sum()
    x = torch.nn.functional.conv2d(x, k.reshape(1, 1, 1, 7), padding=(0, 3))
    return torch.nn.functional.conv2d(x, k.reshape(1, 1, 7, 1), padding=(3, 0))


def _loss(out, target, l1_weight) -> torch.Tensor:
    return ((_blur(out) - _blur(target)) ** 2).mean() + l1_weight * out.abs().mean()


def _augment(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator):
    k = int(torch.randint(0, 4, (1,), generator=gen))
    x, y = torch.rot90(x, k, (-2, -1)), torch.rot90(y, k, (-2, -1))
    if bool(torch.randint(0, 2, (1,), generator=gen)):
        x, y = x.flip(-1), y.flip(-1)
    return x, y


def train_lsparcom(config: LsparcomTrainingConfig, output, *, device="cpu", resume: bool = False,
                   overwrite: bool = False, progress: bool = True, echo=print) -> LSPARCOMNet:
    """Train LSPARCOM; the best validation checkpoint is written to ``output``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> cfg = LsparcomTrainingConfig(n_train=2, n_val=1, image_size=8, epochs=1, batch_size=2, folds=2,
    ...                              input_kernel=7, state_kernel=3)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     net = train_lsparcom(cfg, pathlib.Path(d) / "l.pt", progress=False, echo=lambda line: None)
    >>> net.training_summary["epochs_run"]
    1
    """
    from tqdm import tqdm

    paths = prepare_training_files(output, resume=resume, overwrite=overwrite)
    dev = resolve_device(device)
    torch.manual_seed(config.seed)
    t0 = time.perf_counter()
    optics = config.optics
    trained_optics = {"upsample": optics.upsample, "sigma_px": optics.sigma_px, **optics.as_dict()}
    out_scale = target_scale(optics)
    rng = np.random.default_rng(config.seed)
    x_all, y_all = (torch.as_tensor(a)[:, None] for a in simulate_lsparcom_samples(config.n_train + config.n_val,
                                                                                   config, rng))
    x_train, y_train = x_all[: config.n_train], y_all[: config.n_train]
    x_val, y_val = x_all[config.n_train :].to(dev), y_all[config.n_train :].to(dev)
    net = LSPARCOMNet(config.folds, config.input_kernel, config.state_kernel).to(dev)
    # the data filters have hundreds of small taps: at the state steps' rate Adam would change them all by
    # about their own size in one step and cut every ReLU
    optimizer = torch.optim.Adam([{"params": net.data.parameters(), "lr": config.lr * config.data_lr_factor},
                                  {"params": list(net.state.parameters()) + [net.raw_thresholds]}], lr=config.lr)
    milestones = sorted({max(1, int(round(f * config.epochs))) for f in (0.5, 0.75)})
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.5)
    history, best_val, best_epoch, best_state, start_epoch, log_lines = [], math.inf, 0, None, 0, []
    if resume:
        state = load_resume_state(paths, dev)
        if state["config"] != config.as_dict():
            raise InputError(f"{paths['resume']} was written with another configuration; start afresh with --overwrite")
        history, best_val, best_epoch, best_state, start_epoch, log_lines = restore_run(state, net, optimizer,
                                                                                       scheduler)
        t0 -= sum(h["seconds"] for h in history)

    def log(line):
        log_lines.append(line)
        echo(line)

    if start_epoch == 0:
        log(f"pointillist {__version__} training lsparcom: {config.n_train} training and {config.n_val} validation "
            f"stacks ({config.image_size} camera px, q = {config.upsample}), "
            f"{sum(p.numel() for p in net.parameters())} parameters, device {dev}")
    else:
        log(f"resuming after epoch {start_epoch}")
    for epoch in range(start_epoch, config.epochs):
        t_epoch = time.perf_counter()
        net.train()
        gen = torch.Generator().manual_seed(config.seed * 100003 + epoch)
        order = torch.randperm(config.n_train, generator=gen)
        total, count = 0.0, 0
        bar = tqdm(total=-(-config.n_train // config.batch_size), desc=f"epoch {epoch + 1}/{config.epochs}",
                   disable=not progress, leave=False)
        for start in range(0, config.n_train, config.batch_size):
            idx = order[start : start + config.batch_size]
            x, y = _augment(x_train[idx], y_train[idx], gen)
            x, y = x.to(dev), y.to(dev)
            optimizer.zero_grad(set_to_none=True)
            loss = _loss(net(x), y, config.l1_weight)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), GRAD_CLIP)
            optimizer.step()
            total += loss.item() * len(x)
            count += len(x)
            bar.update(1)
        bar.close()
        scheduler.step()
        net.eval()
        with torch.no_grad():
            val = float(np.mean([_loss(net(x_val[i : i + 16]), y_val[i : i + 16], config.l1_weight).item()
                                 for i in range(0, config.n_val, 16)]))
        if not math.isfinite(val):
            raise InputError(f"training diverged at epoch {epoch + 1}; lower --lr or change the seed")
        improved = val < best_val
        if improved:
            best_val, best_epoch = val, epoch + 1
            best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        seconds = time.perf_counter() - t_epoch
        history.append({"epoch": epoch + 1, "train_loss": total / count, "val_loss": val,
                        "lr": optimizer.param_groups[1]["lr"], "seconds": seconds})
        log(f"epoch {epoch + 1:3d} train {total / count:.4g}  val {val:.4g}  lr {history[-1]['lr']:.2g}  "
            f"{seconds:.0f} s" + ("  (best)" if improved else ""))
        summary = _summary(config, history, best_epoch, best_val, dev, time.perf_counter() - t0)
        best = LSPARCOMNet(config.folds, config.input_kernel, config.state_kernel)
        best.load_state_dict(best_state)
        save_lsparcom(best, paths["weights"], optics=trained_optics, output_scale=out_scale, training=summary,
                      overwrite=True)
        with atomic_path(paths["resume"], overwrite=True) as tmp:
            torch.save({"config": config.as_dict(), "net": net.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "history": history, "best_val": best_val,
                        "best_epoch": best_epoch, "best_state": best_state, "epoch": epoch + 1, "log": log_lines}, tmp)
        write_json(paths["config"], summary, overwrite=True)
        write_text(paths["log"], "\n".join(log_lines) + "\n", overwrite=True)
    log(f"best validation loss {best_val:.4g} at epoch {best_epoch}; {time.perf_counter() - t0:.0f} s "
        f"-> {paths['weights']}")
    write_text(paths["log"], "\n".join(log_lines) + "\n", overwrite=True)
    best = LSPARCOMNet(config.folds, config.input_kernel, config.state_kernel)
    best.load_state_dict(best_state)
    best = best.to(dev).eval()
    best.trained_optics = trained_optics
    best.target_scale = out_scale
    best.training_summary = _summary(config, history, best_epoch, best_val, dev, time.perf_counter() - t0)
    best.path = str(paths["weights"])
    return best


def _summary(config, history, best_epoch, best_val, dev, seconds) -> dict:
    return {"method": "lsparcom", "pointillist_version": __version__, "config": config.as_dict(),
            "epochs_run": len(history), "best_epoch": best_epoch, "best_val_loss": best_val,
            "n_train": config.n_train, "n_val": config.n_val, "device": str(dev), "seconds": seconds,
            "history": history}
