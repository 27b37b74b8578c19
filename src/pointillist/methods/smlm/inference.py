"""Running a trained SMLM network on camera frames of any size."""

from __future__ import annotations

import math
import weakref

import numpy as np
import torch

from .network import fused_for_inference
from .preprocess import Normalization, pad_to_multiple, prepare_input

__all__ = ["predict_frames"]

# net -> (fingerprint of its tensors, fused copy): `localize` calls predict_frames once per chunk of frames
_FUSED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _inference_net(net: torch.nn.Module) -> torch.nn.Module:
    """The batch-norm-folded copy of ``net``, made again whenever its tensors were changed in place."""
    if net.training:
        return net
    tensors = [*net.parameters(), *net.buffers()]
    stamp = tuple((t.data_ptr(), t._version) for t in tensors)
    cached = _FUSED.get(net)
    if cached is None or cached[0] != stamp:
        cached = (stamp, fused_for_inference(net))
        _FUSED[net] = cached
    return cached[1]


def predict_frames(frames, model, *, batch_size: int = 16, device=None) -> np.ndarray:
    """Super-resolved spike maps ``(B, qH, qW)`` of camera frames ``(B, H, W)`` (photons or ADU).

    For the paper's network, frames are padded by edge replication so that
    ``q H`` and ``q W`` are multiples of 8 (it pools three times), then the
    output is cropped back; the sub-pixel network takes any size. The
    raw network output is returned (Deep-STORM's linear output can be
    negative); one emitter gives a spike of about ``spike_scale(model.record)``.

    Parameters
    ----------
    frames : array (B, H, W) or (H, W)
    model : LoadedWeights
        From :func:`~pointillist.methods.smlm.network.load_model` (or a training result's ``.trained``).
    batch_size : int
    device : str, optional
        Default: the network's device.

    Returns
    -------
    ndarray (B, qH, qW) float32

    Examples
    --------
    >>> from pointillist.methods.smlm.network import load_model
    >>> out = predict_frames(np.zeros((2, 7, 9)), load_model(method="deepcel0"))
    >>> out.shape
    (2, 28, 36)
    """
    net = _inference_net(model.net)
    dev = next(net.parameters()).device if device is None else torch.device(device)
    q = int(model.record.optics.upsample)
    norm = Normalization(**model.record.extra["normalization"])
    upsampled = getattr(net, "upsampled_input", True)
    multiple = 8 // math.gcd(8, q) if upsampled else 1
    frames = np.asarray(frames)
    if frames.ndim == 2:
        frames = frames[None]
    out = np.empty((len(frames), frames.shape[1] * q, frames.shape[2] * q), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(frames), batch_size):
            block = torch.as_tensor(np.asarray(frames[start : start + batch_size], dtype=np.float32), device=dev)
            block, (h, w) = pad_to_multiple(block, multiple)
            x = prepare_input(block, norm, q if upsampled else 1)
            if dev.type == "cpu":
                x = x.contiguous(memory_format=torch.channels_last)
            y = net(x)[:, 0, : h * q, : w * q]
            out[start : start + len(y)] = y.float().cpu().numpy()
    return out
