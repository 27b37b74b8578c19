"""The files of a training run, side by side: weights, configuration, log and resume state."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

__all__ = ["companion_paths", "prepare_training_files", "read_resume_state", "RESUME_FORMAT"]

RESUME_FORMAT = "pointillist-resume/1"


def companion_paths(output) -> dict[str, Path]:
    """The files a training run writes beside its weights file ``output`` (``model.pt``).

    Parameters
    ----------
    output : path
        The weights file.

    Returns
    -------
    dict
        ``weights``, ``config`` (``.json``), ``log`` and ``resume`` (``.resume.pt``) paths.

    Examples
    --------
    >>> sorted(p.name for p in companion_paths("runs/model.pt").values())
    ['model.json', 'model.log', 'model.pt', 'model.resume.pt']
    >>> companion_paths("runs/psf-351.8nm.pt")["log"].name  # dots in the name stay
    'psf-351.8nm.log'
    """
    output = Path(output)
    stem = output.name[: -len(output.suffix)] if output.suffix else output.name
    beside = lambda suffix: output.with_name(stem + suffix)  # noqa: E731 - not with_suffix: it cuts at the last dot
    return {"weights": output, "config": beside(".json"), "log": beside(".log"), "resume": beside(".resume.pt")}


def prepare_training_files(output, *, resume: bool, overwrite: bool) -> dict[str, Path]:
    """:func:`companion_paths` after the checks: a ``.pt`` name, nothing replaced unless asked; folder created.

    Parameters
    ----------
    output : path
    resume : bool
        Continue a run (its files are expected).
    overwrite : bool
        Replace the files of a previous run.

    Returns
    -------
    dict
        As :func:`companion_paths`.
    """
    paths = companion_paths(output)
    if paths["weights"].suffix != ".pt":
        raise InputError(f"the weights file must end in .pt, got {paths['weights']}")
    if not resume and not overwrite:
        existing = [str(p) for p in paths.values() if p.exists()]
        if existing:
            raise InputError(f"{', '.join(existing)} exist; pass --overwrite to replace them or --resume to continue")
    paths["weights"].parent.mkdir(parents=True, exist_ok=True)
    return paths


def read_resume_state(path, device="cpu") -> dict:
    """The saved state of an interrupted run, with a clear error when there is none or it is unreadable.

    Parameters
    ----------
    path : path
        The ``.resume.pt`` file.
    device : str or torch.device
        Where its tensors go.

    Returns
    -------
    dict
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"nothing to resume: {path} does not exist")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception:  # several types for a damaged or foreign file
        raise InputError(f"cannot read {path}: truncated, corrupt or not a resume file; start afresh with "
                         "--overwrite") from None
    if not isinstance(state, dict) or state.get("format") != RESUME_FORMAT:
        raise InputError(f"{path} is not a pointillist resume file ({RESUME_FORMAT}); start afresh with --overwrite")
    return state
