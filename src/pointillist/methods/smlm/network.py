"""The Deep-STORM encoder-decoder (Nehme et al. 2018), also the network of DeepCEL0.

Fully convolutional, no skip connections. A "conv block" is a 3x3
convolution without bias, batch normalisation and ReLU. The input is a
camera frame already upsampled by nearest neighbours to the fine grid, so
its sides must be multiples of 8 (three 2x2 poolings).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DeepSTORMNet", "ENCODER_FEATURES", "DECODER_FEATURES", "OUTPUTS"]

ENCODER_FEATURES = (32, 64, 128, 512)
DECODER_FEATURES = (128, 64, 32)
OUTPUTS = ("linear", "relu")


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
