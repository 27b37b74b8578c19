"""The Deep-STORM encoder-decoder (Nehme et al. 2018), also the network of DeepCEL0.

Fully convolutional, no skip connections. A "conv block" is a 3x3
convolution without bias, batch normalisation and ReLU. The input is a
camera frame already upsampled by nearest neighbours to the fine grid, so
its sides must be multiples of 8 (three 2x2 poolings).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DeepSTORMNet", "ENCODER_FEATURES", "DECODER_FEATURES", "OUTPUTS", "NETWORK_METHODS", "ARCHITECTURE",
           "ARCHITECTURES", "load_model", "spike_scale"]

ENCODER_FEATURES = (32, 64, 128, 512)
DECODER_FEATURES = (128, 64, 32)
OUTPUTS = ("linear", "relu")
#: the SMLM networks and their output activation
NETWORK_METHODS = {"deepstorm": "linear", "deepstorm-relu": "relu", "deepcel0": "relu"}
#: architecture name in the weights record
ARCHITECTURE = "deep-storm"


def _conv_block(n_in: int, n_out: int) -> nn.Sequential:
    conv = nn.Conv2d(n_in, n_out, kernel_size=3, padding=1, bias=False)
    nn.init.orthogonal_(conv.weight)  # as the reference Keras model
    return nn.Sequential(conv, nn.BatchNorm2d(n_out), nn.ReLU(inplace=True))


class DeepSTORMNet(nn.Module):
    """Deep-STORM network: ``(B, 1, qH, qW)`` upsampled frames to ``(B, 1, qH, qW)`` spike maps.

    Parameters
    ----------
    output : {"linear", "relu"}
        Output activation: linear for Deep-STORM, ReLU for Deep-STORM-ReLU
        and DeepCEL0.

    Examples
    --------
    >>> net = DeepSTORMNet("relu").eval()
    >>> net(torch.zeros(1, 1, 16, 24)).shape
    torch.Size([1, 1, 16, 24])
    """

    def __init__(self, output: str = "linear"):
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        self.output = output
        f1, f2, f3, f4 = ENCODER_FEATURES
        d1, d2, d3 = DECODER_FEATURES
        pool = nn.MaxPool2d(2)
        up = nn.Upsample(scale_factor=2, mode="nearest")
        self.body = nn.Sequential(
            _conv_block(1, f1), pool,
            _conv_block(f1, f2), pool,
            _conv_block(f2, f3), pool,
            _conv_block(f3, f4),
            up, _conv_block(f4, d1),
            up, _conv_block(d1, d2),
            up, _conv_block(d2, d3),
        )
        self.head = nn.Conv2d(d3, 1, kernel_size=1, bias=False)
        nn.init.orthogonal_(self.head.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 8 or x.shape[-2] % 8:
            raise ValueError(f"input sides must be multiples of 8, got {tuple(x.shape[-2:])}")
        out = self.head(self.body(x))
        return torch.relu(out) if self.output == "relu" else out


ARCHITECTURES = {ARCHITECTURE: DeepSTORMNet}


def load_model(path=None, *, method: str | None = None, device="cpu"):
    """Load SMLM network weights (``path``, or the shipped weights of ``method``), in eval mode.

    Parameters
    ----------
    path : path, optional
        Weights file from ``pointillist train``.
    method : {"deepcel0", "deepstorm", "deepstorm-relu"}, optional
        Refuse weights of another method; with ``path`` None, which shipped weights.
    device : str or torch.device

    Returns
    -------
    LoadedWeights
        ``.net`` (a :class:`DeepSTORMNet`) and ``.record`` (optics, input
        normalisation and heat-map scale in ``record.extra``).

    Examples
    --------
    >>> model = load_model(method="deepcel0")
    >>> model.record.method, model.record.optics.upsample, model.net.output
    ('deepcel0', 4, 'relu')
    """
    from ...errors import InputError
    from ...io.weights import load_weights

    if method is not None and method not in NETWORK_METHODS:
        raise InputError(f"no network called {method!r}; choose one of {', '.join(NETWORK_METHODS)}")
    return load_weights(path, method=method, architectures=ARCHITECTURES, device=device)


def spike_scale(record) -> float:
    """Amplitude of one emitter in the network output: ``heat_scale / kernel_factor``.

    About 100 for DeepCEL0 and 50 for Deep-STORM (whose loss blurs the
    prediction with twice the kernel).

    Parameters
    ----------
    record : WeightsRecord
        Record of SMLM network weights (``load_model(...).record``); its
        ``extra`` holds ``heat_scale`` and ``kernel_factor``.

    Returns
    -------
    float
        The spike amplitude of one emitter, in network-output units.

    Examples
    --------
    >>> spike_scale(load_model(method="deepstorm").record)
    50.0
    """
    return float(record.extra["heat_scale"]) / float(record.extra["kernel_factor"])
