"""Network inputs: per-frame [0, 1] scaling, dataset standardisation, nearest-neighbour upsampling.

As in the Deep-STORM code: each frame is min-max scaled to [0, 1], then
standardised with the *dataset* mean and standard deviation (the mean over
training images of their per-image means and standard deviations, saved
with the weights), then upsampled by ``q`` by pixel replication.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Normalization", "scale01", "prepare_input", "pad_to_multiple"]


@dataclass(frozen=True)
class Normalization:
    """Dataset statistics of [0, 1]-scaled training frames.

    Examples
    --------
    >>> norm = Normalization.fit(np.random.default_rng(0).random((10, 8, 8)))
    >>> 0.4 < norm.mean < 0.6 and 0.2 < norm.std < 0.35
    True
    """

    mean: float
    std: float

    @classmethod
    def fit(cls, frames01: np.ndarray) -> "Normalization":
        frames01 = np.asarray(frames01, dtype=np.float64)
        std = float(frames01.std(axis=(-2, -1)).mean())
        return cls(mean=float(frames01.mean(axis=(-2, -1)).mean()), std=std if std > 0 else 1.0)

    def as_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std}


def scale01(frames: torch.Tensor) -> torch.Tensor:
    """Min-max scale each frame of ``(..., H, W)`` to [0, 1] (a constant frame becomes 0).

    Parameters
    ----------
    frames : torch.Tensor (..., H, W)
        Floating-point frames (photons or ADU: the scaling removes the unit).

    Returns
    -------
    torch.Tensor (..., H, W)
        Same dtype, each frame in [0, 1].

    Examples
    --------
    >>> scale01(torch.tensor([[[1.0, 3.0], [2.0, 5.0]]])).tolist()
    [[[0.0, 0.5], [0.25, 1.0]]]
    """
    lo = frames.amin(dim=(-2, -1), keepdim=True)
    hi = frames.amax(dim=(-2, -1), keepdim=True)
    return (frames - lo) / (hi - lo).clamp_min(torch.finfo(frames.dtype).tiny)


def pad_to_multiple(frames: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``(B, H, W)`` at the bottom and right by edge replication to multiples of ``multiple``.

    Parameters
    ----------
    frames : torch.Tensor (B, H, W)
    multiple : int
        The sides of the result are multiples of it.

    Returns
    -------
    padded : torch.Tensor (B, H', W')
        ``H'`` and ``W'`` the next multiples of ``multiple``; ``frames``
        itself when no padding is needed.
    shape : (int, int)
        The original ``(H, W)``, to crop the output back.

    Examples
    --------
    >>> x, hw = pad_to_multiple(torch.zeros(2, 5, 8), 4)
    >>> tuple(x.shape), hw
    ((2, 8, 8), (5, 8))
    """
    h, w = frames.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        frames = torch.nn.functional.pad(frames[:, None], (0, pw, 0, ph), mode="replicate")[:, 0]
    return frames, (h, w)


def prepare_input(frames: torch.Tensor, norm: Normalization, upsample: int) -> torch.Tensor:
    """``(B, H, W)`` camera frames to ``(B, 1, qH, qW)`` network inputs.

    Parameters
    ----------
    frames : torch.Tensor (B, H, W)
        Camera frames (photons or ADU: the min-max scaling removes the unit).
    norm : Normalization
        Dataset mean and standard deviation of the [0, 1]-scaled training
        frames (saved with the weights).
    upsample : int
        q, fine pixels per camera pixel.

    Returns
    -------
    torch.Tensor (B, 1, qH, qW)
        ``(scale01(frames) - norm.mean) / norm.std``, each camera pixel
        repeated over its q x q fine pixels.

    Examples
    --------
    >>> x = prepare_input(torch.arange(4.0).reshape(1, 2, 2), Normalization(0.0, 1.0), 2)
    >>> x.shape, x[0, 0, 0].tolist()
    (torch.Size([1, 1, 4, 4]), [0.0, 0.0, 0.3333333432674408, 0.3333333432674408])
    """
    x = (scale01(frames) - norm.mean) / norm.std
    x = x.repeat_interleave(upsample, dim=-2).repeat_interleave(upsample, dim=-1)
    return x[:, None]
