"""Choosing the torch device from a ``device`` argument."""

from __future__ import annotations

from .errors import InputError


def resolve_device(device=None):
    """Return a ``torch.device`` for ``device`` (``None``/"cpu", "cuda", "cuda:1", "auto").

    ``None`` means CPU. "auto" takes CUDA when it is available, otherwise CPU.
    Asking for CUDA on a machine without it is an error, never a silent
    fallback.

    Examples
    --------
    >>> str(resolve_device("cpu"))
    'cpu'
    """
    import torch

    if isinstance(device, torch.device):
        name = str(device)
    else:
        name = "cpu" if device is None else str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"device {name!r} was requested but CUDA is not available here; use --device cpu")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise InputError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
