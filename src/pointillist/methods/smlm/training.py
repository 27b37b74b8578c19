"""Training the SMLM networks (Deep-STORM, Deep-STORM-ReLU, DeepCEL0) on simulated patches: a recipe of the engine.

Adam, a ReduceLROnPlateau schedule on the validation loss, the best
validation checkpoint kept, everything seeded (:mod:`pointillist.training.engine`).
Next to the weights file ``model.pt`` the engine writes ``model.json``,
``model.log`` and ``model.resume.pt`` (to continue with ``resume=True``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ...errors import InputError
from ...optics import Optics
from ...training.engine import Recipe, StepLoss, TrainingResult, train
from .losses import LOSS_DEFAULTS
from .network import (ARCHITECTURE_OPTIONS, ARCHITECTURES, NETWORK_METHODS, SUBPIXEL, SUBPIXEL_DEPTH, SUBPIXEL_WIDTH,
                      default_training_architecture)
from .training_data import PatchSettings

__all__ = ["TrainingConfig", "SMLMRecipe", "TrainingResult", "train_network", "DEFAULT_SUBPIXEL_EPOCHS"]

#: default epochs of the sub-pixel network: ``pointillist train`` within about 26 min on 2 CPU cores
DEFAULT_SUBPIXEL_EPOCHS = 40


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that defines a training run (saved with the weights).

    Defaults are the paper's: batch 16, Adam 1e-3, ReduceLROnPlateau
    (factor 0.1, patience 5, min 5e-5), 30 % validation, heat-map scale
    100; ``l1_weight`` None means 1 (Deep-STORM) or 10 (Deep-STORM-ReLU).
    ``architecture`` None is the method's default
    (:func:`~pointillist.methods.smlm.network.default_training_architecture`);
    ``epochs`` None is the paper's 100 for the paper's network and
    ``DEFAULT_SUBPIXEL_EPOCHS`` (40: about 26 min on 2 CPU cores) for the
    sub-pixel one (``epochs=100`` is the paper's full schedule, which the
    shipped weights had).
    """

    method: str
    architecture: str | None = None
    pixel_size_nm: float = 100.0
    psf_fwhm_nm: float = 258.21
    upsample: int = 4
    data: PatchSettings = field(default_factory=PatchSettings)
    epochs: int | None = None
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
        arch = self.architecture
        if arch is None:
            arch = default_training_architecture(self.method)
        elif arch in ARCHITECTURE_OPTIONS:
            arch = ARCHITECTURE_OPTIONS[arch]
        elif arch not in ARCHITECTURES:
            raise InputError(f"architecture must be one of {', '.join(ARCHITECTURE_OPTIONS)}; got {arch!r}")
        object.__setattr__(self, "architecture", arch)  # resolved once, so the saved configuration is explicit
        if self.epochs is None:
            object.__setattr__(self, "epochs", DEFAULT_SUBPIXEL_EPOCHS if arch == SUBPIXEL else 100)
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise InputError("epochs and batch size must be at least 1 and the learning rate positive")
        if not 0 < self.val_fraction < 1:
            raise InputError(f"the validation fraction must be in (0, 1), got {self.val_fraction}")
        if self.architecture != SUBPIXEL and self.data.patch * self.upsample % 8:
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
class _Patches:
    train01: object
    train_spikes: object
    val01: object
    val_spikes: object
    norm: object
    kernel: object
    n_train: int
    n_val: int
    mean_emitters: float


class SMLMRecipe(Recipe):
    """Deep-STORM / Deep-STORM-ReLU / DeepCEL0 for :func:`~pointillist.training.engine.train`.

    Parameters
    ----------
    config : TrainingConfig
    """

    def __init__(self, config: TrainingConfig):
        self.config = config
        self.method = config.method

    def _loss(self, pred, spikes, data):
        from .losses import deepcel0_loss, deepstorm_loss, heat_map

        fn = deepcel0_loss if self.method == "deepcel0" else deepstorm_loss
        heat = heat_map(spikes, self.config.heat_scale, data.kernel)
        return fn(pred, heat, kernel=data.kernel, **self.config.loss_options)

    def prepare(self, device):
        import torch

        from .losses import gaussian_kernel
        from .preprocess import Normalization, scale01
        from .training_data import simulate_patches

        c = self.config
        patches = simulate_patches(c.optics, c.data, rng=c.seed)
        train_part, val_part = patches.split(c.val_fraction)
        train01 = scale01(torch.as_tensor(train_part.frames))
        return _Patches(train01=train01, train_spikes=torch.as_tensor(train_part.spikes),
                        val01=scale01(torch.as_tensor(val_part.frames)), val_spikes=torch.as_tensor(val_part.spikes),
                        norm=Normalization.fit(train01.numpy()), kernel=gaussian_kernel().to(device),
                        n_train=len(train_part), n_val=len(val_part),
                        mean_emitters=float(np.mean(patches.n_emitters)))

    @property
    def _architecture_kwargs(self) -> dict:
        kwargs = {"output": NETWORK_METHODS[self.method]}
        if self.config.architecture == SUBPIXEL:
            kwargs.update(upsample=self.config.upsample, width=SUBPIXEL_WIDTH, depth=SUBPIXEL_DEPTH)
        return kwargs

    def build(self):
        return ARCHITECTURES[self.config.architecture](**self._architecture_kwargs)

    def place(self, net, device):
        import torch

        return net.to(device).to(memory_format=torch.channels_last)

    def optimizer(self, net, stage):
        import torch

        return torch.optim.Adam(net.parameters(), lr=self.config.lr)

    def scheduler(self, optimizer, stage):
        import torch

        c = self.config
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=c.lr_factor,
                                                          patience=c.lr_patience, min_lr=c.min_lr)

    def _batches(self, frames01, spikes, norm, batch, device, order):
        import torch

        from .preprocess import prepare_input

        q = 1 if self.config.architecture == SUBPIXEL else self.config.upsample  # the sub-pixel net upsamples itself
        for start in range(0, len(frames01), batch):
            idx = order[start : start + batch]
            x = prepare_input(frames01[idx], norm, q).to(device)
            yield x.contiguous(memory_format=torch.channels_last), spikes[idx][:, None].to(device, torch.float32)

    def batches(self, data, epoch, gen, device):
        import torch

        order = torch.randperm(len(data.train01), generator=gen)
        return self._batches(data.train01, data.train_spikes, data.norm, self.config.batch_size, device, order)

    def loss(self, net, batch, data, stage, gen):
        x, s = batch
        loss = self._loss(net(x), s, data)
        return StepLoss(objective=loss, value=loss.item(), count=len(x))

    def validate(self, net, data, device):
        import torch

        total, count = 0.0, 0
        order = torch.arange(len(data.val01))
        with torch.no_grad():
            for x, s in self._batches(data.val01, data.val_spikes, data.norm, 64, device, order):
                total += self._loss(net(x), s, data).item() * len(x)
                count += len(x)
        return total / count, {}

    def describe(self, data, net, device):
        return (f"training {self.method}: {data.n_train} training and {data.n_val} validation patches, "
                f"{sum(p.numel() for p in net.parameters())} parameters, device {device}")

    def weights_fields(self, data, history):
        from ...io.weights import Architecture, TrainedOptics

        c = self.config
        return {"architecture": Architecture(c.architecture, self._architecture_kwargs),
                "optics": TrainedOptics(c.pixel_size_nm, c.psf_fwhm_nm, c.upsample),
                "data": {"n_train": data.n_train, "n_val": data.n_val, "mean_emitters_per_patch": data.mean_emitters},
                "extra": {"normalization": data.norm.as_dict(), "heat_scale": float(c.heat_scale),
                          "kernel_factor": float(c.loss_options["kernel_factor"])}}


def train_network(config: TrainingConfig, output, *, device="cpu", resume: bool = False, overwrite: bool = False,
                  progress: bool = True, echo=print) -> TrainingResult:
    """Train one SMLM network; the best validation weights go to ``output``.

    Parameters
    ----------
    config : TrainingConfig
        The network, its loss, the optics and the simulated patches.
    output, device, resume, overwrite, progress, echo
        As :func:`pointillist.training.engine.train` (``resume``: only the
        number of epochs may be raised, to train longer).

    Returns
    -------
    TrainingResult
        ``.trained`` is the best network with its weights record (what
        :func:`~pointillist.methods.smlm.network.load_model` returns).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> data = PatchSettings(n_patches=8, n_frames=2, frame_size=32, patch=8, min_emitters=1)
    >>> cfg = TrainingConfig(method="deepcel0", data=data, epochs=1, batch_size=4)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     res = train_network(cfg, pathlib.Path(d) / "m.pt", progress=False, echo=lambda line: None)
    >>> res.record.method, res.record.epochs
    ('deepcel0', 1)
    """
    return train(SMLMRecipe(config), output, device=device, resume=resume, overwrite=overwrite, progress=progress,
                 echo=echo)
