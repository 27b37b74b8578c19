"""Trained SMLM networks on disk: the checkpoint format, shipped weights and the optics check.

A checkpoint is a plain ``torch.save`` dictionary of tensors, numbers and
strings (loaded with ``weights_only=True``): the method, the network
output, the state dict, the input normalisation, the heat-map scale, the
optics the network was trained for and a summary of its training. The
shipped weights live in ``pointillist/weights/`` with ``manifest.json``
(sha256 of each file); nothing is ever downloaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch

from ...errors import InputError
from ...io.atomic import atomic_path
from ...io.hashing import file_sha256
from ...io.training_files import read_checkpoint
from ...optics import Optics
from .network import DECODER_FEATURES, ENCODER_FEATURES, DeepSTORMNet
from .preprocess import Normalization

__all__ = ["NETWORK_METHODS", "FORMAT", "SMLMModel", "save_model", "load_model", "shipped_weights",
           "check_optics", "manifest_entry", "write_manifest"]

FORMAT = "pointillist-smlm-network/1"
NETWORK_METHODS = {"deepstorm": "linear", "deepstorm-relu": "relu", "deepcel0": "relu"}


@dataclass
class SMLMModel:
    """A trained network with everything needed to use it on new frames.

    ``spike_scale`` is the amplitude of one emitter in the network output
    (``heat_scale / kernel_factor``: about 100 for DeepCEL0, 50 for
    Deep-STORM, whose loss blurs the prediction with twice the kernel).
    """

    method: str
    net: DeepSTORMNet
    normalization: Normalization
    optics: dict
    heat_scale: float
    kernel_factor: float
    training: dict = field(default_factory=dict)
    path: str | None = None

    @property
    def upsample(self) -> int:
        return int(self.optics["upsample"])

    @property
    def spike_scale(self) -> float:
        return self.heat_scale / self.kernel_factor

    def state(self) -> dict:
        return {
            "format": FORMAT,
            "method": self.method,
            "output": self.net.output,
            "state_dict": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
            "normalization": self.normalization.as_dict(),
            "optics": dict(self.optics),
            "heat_scale": float(self.heat_scale),
            "kernel_factor": float(self.kernel_factor),
            "training": self.training,
        }


def save_model(model: SMLMModel, path, *, overwrite: bool = False) -> Path:
    """Write the checkpoint atomically."""
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        torch.save(model.state(), tmp)
    return path


def shipped_weights(method: str) -> Path:
    """Path of the shipped weights of ``method`` (inside the installed package)."""
    if method not in NETWORK_METHODS:
        raise InputError(f"no network called {method!r}; choose one of {', '.join(NETWORK_METHODS)}")
    path = Path(str(resources.files("pointillist") / "weights" / f"{method}.pt"))
    if not path.is_file():
        raise InputError(f"the shipped weights {path} are missing from this installation; give --weights PATH")
    return path


def load_model(path=None, *, method: str | None = None, device="cpu") -> SMLMModel:
    """Load a checkpoint (``path``) or the shipped weights of ``method``; the network in eval mode.

    Examples
    --------
    >>> model = load_model(method="deepcel0")
    >>> model.method, model.upsample, model.net.output
    ('deepcel0', 4, 'relu')
    """
    if path is None:
        if method is None:
            raise InputError("give the weights file or the method of the shipped weights")
        path = shipped_weights(method)
    path = Path(path)
    state = read_checkpoint(path, FORMAT, "SMLM network")
    if method is not None and state["method"] != method:
        raise InputError(f"{path} holds weights for {state['method']!r}, not for {method!r}")
    net = DeepSTORMNet(state["output"])
    net.load_state_dict(state["state_dict"])
    net.to(device).eval()
    return SMLMModel(
        method=state["method"], net=net, normalization=Normalization(**state["normalization"]),
        optics=dict(state["optics"]), heat_scale=float(state["heat_scale"]),
        kernel_factor=float(state["kernel_factor"]), training=dict(state.get("training", {})), path=str(path),
    )


def check_optics(model: SMLMModel, optics: Optics, *, force: bool = False) -> list[str]:
    """Compare the optics the network was trained for with the data's; raise unless ``force``.

    Returns the list of mismatches (empty when they agree): the pixel size
    and the PSF FWHM within 2 %, the upsampling factor exactly.
    """
    trained = model.optics
    problems = []
    if not math.isclose(trained["pixel_size_nm"], optics.pixel_size_nm, rel_tol=0.02):
        problems.append(f"pixel size {optics.pixel_size_nm:g} nm (trained for {trained['pixel_size_nm']:g} nm)")
    if optics.psf_fwhm_nm is None or not math.isclose(trained["psf_fwhm_nm"], optics.psf_fwhm_nm, rel_tol=0.02):
        fwhm = "a measured PSF" if optics.psf_fwhm_nm is None else f"{optics.psf_fwhm_nm:g} nm"
        problems.append(f"PSF FWHM {fwhm} (trained for {trained['psf_fwhm_nm']:g} nm)")
    if int(trained["upsample"]) != optics.upsample:
        problems.append(f"upsample {optics.upsample} (trained for {trained['upsample']})")
    if problems and not force:
        where = model.path or model.method
        raise InputError(
            f"the {model.method} weights ({where}) were trained for other optics: " + "; ".join(problems)
            + ". Train weights for these optics (pointillist train) or pass --force to use them anyway"
        )
    return problems


def manifest_entry(path) -> dict:
    """The manifest record of one checkpoint: architecture, optics, training summary, sha256."""
    model = load_model(path)
    t = model.training
    cfg = t.get("config", {})
    return {
        "file": Path(path).name,
        "method": model.method,
        "architecture": {"name": "Deep-STORM encoder-decoder", "encoder_features": list(ENCODER_FEATURES),
                         "decoder_features": list(DECODER_FEATURES), "output": model.net.output,
                         "parameters": sum(p.numel() for p in model.net.parameters())},
        "optics": model.optics,
        "normalization": model.normalization.as_dict(),
        "heat_scale": model.heat_scale,
        "spike_scale": model.spike_scale,
        "loss": cfg.get("loss"),
        "training_data": cfg.get("data"),
        "epochs_run": t.get("epochs_run"),
        "best_epoch": t.get("best_epoch"),
        "best_val_loss": t.get("best_val_loss"),
        "n_train": t.get("n_train"),
        "n_val": t.get("n_val"),
        "device": t.get("device"),
        "training_seconds": t.get("seconds"),
        "seed": cfg.get("seed"),
        "sha256": file_sha256(path),
        "bytes": Path(path).stat().st_size,
    }


def write_manifest(folder, *, note: str = "") -> Path:
    """(Re)write ``folder/manifest.json`` from the checkpoints in ``folder``."""
    from ...io.atomic import write_json

    folder = Path(folder)
    # only the SMLM networks: other checkpoints (the PnP denoiser) have their own manifest
    names = sorted(f"{m}.pt" for m in NETWORK_METHODS)
    entries = [manifest_entry(folder / name) for name in names if (folder / name).is_file()]
    return write_json(folder / "manifest.json", {"note": note, "networks": entries}, overwrite=True)
