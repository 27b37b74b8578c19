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
resumable: a recipe of :func:`pointillist.training.engine.train`.

Files beside ``lsparcom.pt``: ``.json`` (the weights record), ``.log``, ``.resume.pt``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..._rng import as_rng
from ...errors import InputError
from ...optics import Optics
from ...training.engine import Recipe, StepLoss, TrainingResult, train
from .lsparcom import ARCHITECTURE, SIGMA_TOLERANCE, LSPARCOMNet, target_scale, temporal_variance, variance_input

__all__ = ["LsparcomTrainingConfig", "LsparcomRecipe", "simulate_lsparcom_samples", "train_lsparcom"]

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

    Parameters
    ----------
    n : int
        Number of pairs. Stacks whose variance is zero everywhere are
        redrawn.
    config : LsparcomTrainingConfig
        Optics (q, PSF width and its jitter), ``image_size`` S in camera
        pixels, and the ranges that frames, on-probability and SNR are drawn
        from.
    rng : int, numpy.random.Generator or None
        Seed or generator; each stack's seed is drawn from it.

    Returns
    -------
    inputs : ndarray (n, qS, qS) float32
        Network inputs: each stack's camera-pixel temporal variance divided
        by its maximum, repeated over the q x q fine pixels (maximum 1).
    targets : ndarray (n, qS, qS) float32
        The emitters' true temporal variance in each fine pixel (photons^2),
        divided by the same maximum and multiplied by
        ``target_scale(config.optics)`` (the nominal optics).

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


class LsparcomRecipe(Recipe):
    """LSPARCOM for :func:`~pointillist.training.engine.train`.

    Parameters
    ----------
    config : LsparcomTrainingConfig
    """

    method = "lsparcom"
    grad_clip = GRAD_CLIP

    def __init__(self, config: LsparcomTrainingConfig):
        self.config = config

    def prepare(self, device):
        c = self.config
        rng = np.random.default_rng(c.seed)
        x_all, y_all = (torch.as_tensor(a)[:, None] for a in simulate_lsparcom_samples(c.n_train + c.n_val, c, rng))
        return {"x_train": x_all[: c.n_train], "y_train": y_all[: c.n_train],
                "x_val": x_all[c.n_train :].to(device), "y_val": y_all[c.n_train :].to(device)}

    def build(self):
        return LSPARCOMNet(self.config.folds, self.config.input_kernel, self.config.state_kernel)

    def optimizer(self, net, stage):
        c = self.config
        # the data filters have hundreds of small taps: at the state steps' rate Adam would change them all by
        # about their own size in one step and cut every ReLU
        return torch.optim.Adam([{"params": net.data.parameters(), "lr": c.lr * c.data_lr_factor},
                                 {"params": list(net.state.parameters()) + [net.raw_thresholds]}], lr=c.lr)

    def scheduler(self, optimizer, stage):
        milestones = sorted({max(1, int(round(f * self.config.epochs))) for f in (0.5, 0.75)})
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.5)

    def batches(self, data, epoch, gen, device):
        c = self.config
        order = torch.randperm(c.n_train, generator=gen)
        for start in range(0, c.n_train, c.batch_size):
            idx = order[start : start + c.batch_size]
            x, y = _augment(data["x_train"][idx], data["y_train"][idx], gen)
            yield x.to(device), y.to(device)

    def loss(self, net, batch, data, stage, gen):
        x, y = batch
        loss = _loss(net(x), y, self.config.l1_weight)
        return StepLoss(objective=loss, value=loss.item(), count=len(x))

    def validate(self, net, data, device):
        x, y, w = data["x_val"], data["y_val"], self.config.l1_weight
        with torch.no_grad():
            return float(np.mean([_loss(net(x[i : i + 16]), y[i : i + 16], w).item()
                                  for i in range(0, len(x), 16)])), {}

    def describe(self, data, net, device):
        c = self.config
        return (f"training lsparcom: {c.n_train} training and {c.n_val} validation stacks ({c.image_size} camera "
                f"px, q = {c.upsample}), {sum(p.numel() for p in net.parameters())} parameters, device {device}")

    def weights_fields(self, data, history):
        from ...io.weights import Architecture, TrainedOptics

        c = self.config
        return {"architecture": Architecture(ARCHITECTURE, {"folds": c.folds, "input_kernel": c.input_kernel,
                                                            "state_kernel": c.state_kernel}),
                # only the PSF width in camera pixels matters (the network sees pixels, not nm)
                "optics": TrainedOptics(c.pixel_size_nm, c.psf_fwhm_nm, c.upsample, pixel_size_tolerance=None,
                                        psf_fwhm_tolerance=SIGMA_TOLERANCE),
                "data": {"n_train": c.n_train, "n_val": c.n_val},
                "extra": {"output_scale": target_scale(c.optics)}}


def train_lsparcom(config: LsparcomTrainingConfig, output, *, device="cpu", resume: bool = False,
                   overwrite: bool = False, progress: bool = True, echo=print) -> TrainingResult:
    """Train LSPARCOM; the best validation weights are written to ``output``.

    Parameters
    ----------
    config : LsparcomTrainingConfig
        Optics, simulated stacks, folds and kernels, optimisation.
    output, device, resume, overwrite, progress, echo
        As :func:`pointillist.training.engine.train`.

    Returns
    -------
    TrainingResult
        ``.trained`` can be passed to :func:`~pointillist.methods.baselines.lsparcom.lsparcom` as ``weights``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> cfg = LsparcomTrainingConfig(n_train=2, n_val=1, image_size=8, epochs=1, batch_size=2, folds=2,
    ...                              input_kernel=7, state_kernel=3)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     res = train_lsparcom(cfg, pathlib.Path(d) / "l.pt", progress=False, echo=lambda line: None)
    >>> res.record.epochs, res.record.data["n_train"]
    (1, 2)
    """
    return train(LsparcomRecipe(config), output, device=device, resume=resume, overwrite=overwrite,
                 progress=progress, echo=echo)
