"""DRUNet-light: the U-Net behind the gradient-step denoiser.

A residual U-Net in the DRUNet family (Zhang et al. 2021) as used by the
gradient-step and Prox-PnP denoisers (Hurault et al. 2022): grayscale
image plus a constant noise-level map in, one channel out; four scales
with strided-convolution down-sampling, transposed-convolution
up-sampling and additive skips; residual blocks of two 3x3 convolutions;
no biases. Activations are Softplus, not ReLU, so that the potential
``1/2 |x - N(x)|^2`` is twice differentiable (its gradient is the
denoiser's residual, its Hessian the Lipschitz constant that the
convergence theory bounds).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DRUNetLight", "DEFAULT_CHANNELS", "DEFAULT_BLOCKS"]

#: channels per scale; smaller than DRUNet's (64, 128, 256, 512) so that it trains on a CPU in under an hour
DEFAULT_CHANNELS = (16, 32, 64, 128)
#: residual blocks per scale (DRUNet-light: 2, DRUNet: 4)
DEFAULT_BLOCKS = 2


def _conv(c_in, c_out, k=3):
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)


class _ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(_conv(c, c), nn.Softplus(), _conv(c, c))

    def forward(self, x):
        return x + self.body(x)


class DRUNetLight(nn.Module):
    """``N_sigma(x)``: image ``(B, 1, H, W)`` and noise level ``sigma`` (per image) to an image.

    ``H`` and ``W`` must be multiples of ``2 ** (len(channels) - 1)``
    (the gradient-step denoiser pads to that).

    Examples
    --------
    >>> net = DRUNetLight(channels=(4, 8), blocks=1)
    >>> net(torch.zeros(2, 1, 8, 8), torch.tensor([0.1, 0.2])).shape
    torch.Size([2, 1, 8, 8])
    """

    def __init__(self, channels=DEFAULT_CHANNELS, blocks: int = DEFAULT_BLOCKS):
        super().__init__()
        self.channels, self.blocks = tuple(int(c) for c in channels), int(blocks)
        ch = self.channels
        self.head = _conv(2, ch[0])
        self.down = nn.ModuleList(
            nn.Sequential(*[_ResBlock(ch[i]) for _ in range(blocks)], nn.Conv2d(ch[i], ch[i + 1], 2, 2, bias=False))
            for i in range(len(ch) - 1))
        self.body = nn.Sequential(*[_ResBlock(ch[-1]) for _ in range(blocks)])
        self.up = nn.ModuleList(
            nn.Sequential(nn.ConvTranspose2d(ch[i + 1], ch[i], 2, 2, bias=False),
                          *[_ResBlock(ch[i]) for _ in range(blocks)])
            for i in reversed(range(len(ch) - 1)))
        self.tail = _conv(ch[0], 1)

    @property
    def multiple(self) -> int:
        return 2 ** (len(self.channels) - 1)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        level = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
        level = level.expand(x.shape[0], 1, *x.shape[-2:])
        h = self.head(torch.cat([x, level], dim=1))
        skips = [h]
        for stage in self.down:
            h = stage(h)
            skips.append(h)
        h = self.body(h) + skips.pop()
        for stage in self.up:
            h = stage(h) + skips.pop()
        return self.tail(h)
