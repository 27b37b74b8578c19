"""Gradient-step denoiser checkpoints: format, loading, the shipped weights and their manifest.

A checkpoint is a plain ``torch.save`` dictionary (loaded with
``weights_only=True``): format tag, architecture (channels, blocks), state
dict and a training summary (including whether the Prox-PnP Jacobian
fine-tuning was used and the measured Lipschitz constant of the
potential's gradient). The shipped file is ``pointillist/weights/gs-denoiser.pt``
described by ``gs-denoiser.manifest.json``; nothing is downloaded.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch

from .._device import resolve_device
from ..errors import InputError
from ..io.atomic import atomic_path, write_json
from ..io.hashing import file_sha256
from ..io.training_files import read_checkpoint
from .drunet import DRUNetLight
from .gradient_step import GradientStepDenoiser

__all__ = ["FORMAT", "SHIPPED_NAME", "save_denoiser", "load_denoiser", "shipped_denoiser_path",
           "write_denoiser_manifest"]

FORMAT = "pointillist-gs-denoiser/1"
SHIPPED_NAME = "gs-denoiser.pt"


def save_denoiser(denoiser: GradientStepDenoiser, path, *, training: dict | None = None,
                  overwrite: bool = False) -> Path:
    """Write a checkpoint atomically."""
    path = Path(path)
    state = {"format": FORMAT, "channels": list(denoiser.net.channels), "blocks": denoiser.net.blocks,
             "state_dict": {k: v.detach().cpu() for k, v in denoiser.net.state_dict().items()},
             "training": training or {}}
    with atomic_path(path, overwrite=overwrite) as tmp:
        torch.save(state, tmp)
    return path


def shipped_denoiser_path() -> Path:
    path = Path(str(resources.files("pointillist") / "weights" / SHIPPED_NAME))
    if not path.is_file():
        raise InputError(f"the shipped denoiser {path} is missing from this installation; "
                         "give --weights PATH")
    return path


def load_denoiser(path=None, *, device="cpu") -> GradientStepDenoiser:
    """Load a checkpoint (the shipped one if ``path`` is None), in eval mode; ``.training_summary`` holds how it was trained.

    Examples
    --------
    >>> den = load_denoiser()
    >>> den.training_summary["method"]
    'gs-denoiser'
    """
    path = shipped_denoiser_path() if path is None else Path(path)
    state = read_checkpoint(path, FORMAT, "gradient-step denoiser")
    net = DRUNetLight(channels=state["channels"], blocks=state["blocks"])
    net.load_state_dict(state["state_dict"])
    den = GradientStepDenoiser(net).to(resolve_device(device)).eval()
    den.training_summary = dict(state.get("training", {}))
    den.path = str(path)
    den.sha256 = file_sha256(path)
    return den


def write_denoiser_manifest(folder, *, note: str = "") -> Path:
    """(Re)write ``folder/gs-denoiser.manifest.json`` for ``folder/gs-denoiser.pt``."""
    folder = Path(folder)
    path = folder / SHIPPED_NAME
    den = load_denoiser(path)
    t = den.training_summary
    entry = {
        "file": SHIPPED_NAME,
        "method": "gs-denoiser",
        "architecture": {"name": "DRUNet-light (softplus, no bias, noise-level channel)",
                         "channels": list(den.net.channels), "blocks": den.net.blocks,
                         "parameters": sum(p.numel() for p in den.net.parameters())},
        "prox_finetuned": t.get("prox_finetuned"),
        "hessian_norm_validation": t.get("hessian_norm_validation"),
        **{k: t.get(k) for k in ("config", "epochs_run", "best_epoch", "best_val_loss", "val_psnr", "n_train",
                                 "n_val", "device", "seconds")},
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
    }
    return write_json(folder / "gs-denoiser.manifest.json", {"note": note, "denoiser": entry}, overwrite=True)
