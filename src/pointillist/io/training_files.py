"""The files of a training run: weights, configuration, log and resume state, side by side."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

__all__ = ["companion_paths", "prepare_training_files", "load_resume_state", "restore_run", "read_checkpoint"]


def companion_paths(output) -> dict[str, Path]:
    """The files a training run writes beside its weights file ``output`` (``model.pt``).

    Examples
    --------
    >>> sorted(p.name for p in companion_paths("runs/model.pt").values())
    ['model.json', 'model.log', 'model.pt', 'model.resume.pt']
    """
    output = Path(output)
    stem = output.with_suffix("")
    return {"weights": output, "config": stem.with_suffix(".json"), "log": stem.with_suffix(".log"),
            "resume": stem.with_suffix(".resume.pt")}


def prepare_training_files(output, *, resume: bool, overwrite: bool) -> dict[str, Path]:
    """``companion_paths`` after the checks: a ``.pt`` name, nothing replaced unless asked; folder created."""
    paths = companion_paths(output)
    if paths["weights"].suffix != ".pt":
        raise InputError(f"the weights file must end in .pt, got {paths['weights']}")
    if not resume and not overwrite:
        existing = [str(p) for p in paths.values() if p.exists()]
        if existing:
            raise InputError(f"{', '.join(existing)} exist; pass --overwrite to replace them or --resume to continue")
    paths["weights"].parent.mkdir(parents=True, exist_ok=True)
    return paths


def load_resume_state(paths: dict[str, Path], device) -> dict:
    """The saved state of an interrupted run (clear error when there is none)."""
    import torch

    if not paths["resume"].exists():
        raise InputError(f"nothing to resume: {paths['resume']} does not exist")
    return torch.load(paths["resume"], map_location=device, weights_only=True)


def restore_run(state: dict, net, optimizer, scheduler) -> tuple:
    """Load a resume state into the training objects.

    Returns ``(history, best_val, best_epoch, best_state, epochs_done, log_lines)``.
    """
    net.load_state_dict(state["net"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return (state["history"], state["best_val"], state["best_epoch"], state["best_state"], state["epoch"],
            state["log"])


def read_checkpoint(path, fmt: str, what: str) -> dict:
    """A ``torch.save`` dictionary with ``format == fmt`` (``weights_only``), or a clear error naming ``what``."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file {path} not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a file that is not a checkpoint
        raise InputError(f"cannot read {what} file {path}: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != fmt:
        raise InputError(f"{path} is not a pointillist {what} checkpoint (format {fmt})")
    return state
