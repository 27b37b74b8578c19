"""Training losses of Deep-STORM, Deep-STORM-ReLU and DeepCEL0.

All compare the predicted spike map blurred by a small Gaussian with the
target heat map ``c * (g * spikes)`` (``g`` the normalised 7 x 7 Gaussian of
standard deviation 1 fine pixel, ``c`` the heat-map scale), averaged over
pixels, plus a sparsity term on the prediction:

* Deep-STORM: ``mean((2 g * s - heat)^2) + w mean(|s|)`` (the reference
  code blurs the prediction with ``2 g``, so predicted spikes come out near
  ``c / 2``); ``w = 1``, and 10 for the ReLU variant.
* DeepCEL0: ``mean((g * s - heat)^2) + mean(phi_CEL0(s))`` with
  ``lambda_CEL0 = 100`` and every column norm equal to ``|g|_2`` (about
  0.2823), as in the authors' code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ...penalties import cel0_phi

__all__ = ["gaussian_kernel", "blur", "heat_map", "deepstorm_loss", "deepcel0_loss", "LOSS_DEFAULTS"]

KERNEL_SIZE = 7
KERNEL_SIGMA = 1.0

# method -> (kernel factor on the prediction, sparsity weight, sparsity kind)
LOSS_DEFAULTS = {
    "deepstorm": {"kernel_factor": 2.0, "l1_weight": 1.0},
    "deepstorm-relu": {"kernel_factor": 2.0, "l1_weight": 10.0},
    "deepcel0": {"kernel_factor": 1.0, "cel0_lambda": 100.0},
}


def gaussian_kernel(size: int = KERNEL_SIZE, sigma: float = KERNEL_SIGMA, *, dtype=torch.float32) -> torch.Tensor:
    """The normalised ``size x size`` Gaussian (MATLAB ``fspecial('gaussian', size, sigma)``).

    Parameters
    ----------
    size : int
        Side in fine pixels (default 7).
    sigma : float
        Standard deviation in fine pixels (default 1).
    dtype : torch.dtype
        Of the result (computed in float64).

    Returns
    -------
    torch.Tensor (size, size)
        Sums to 1.

    Examples
    --------
    >>> g = gaussian_kernel(dtype=torch.float64)
    >>> round(float(g.sum()), 12), round(float(g.norm()), 4)
    (1.0, 0.2823)
    """
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g1 = torch.exp(-(r**2) / (2 * sigma**2))
    g = torch.outer(g1, g1)
    return (g / g.sum()).to(dtype)


def blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Same-size 2-D convolution of ``(B, 1, H, W)`` images with a symmetric kernel, zero boundary.

    Parameters
    ----------
    x : torch.Tensor (B, 1, H, W)
        Images on the fine grid.
    kernel : torch.Tensor (k, k)
        Symmetric, odd ``k`` (``gaussian_kernel``); cast to ``x``'s dtype and
        device.

    Returns
    -------
    torch.Tensor (B, 1, H, W)

    Examples
    --------
    >>> out = blur(torch.ones(1, 1, 5, 5), gaussian_kernel(3, 1.0))
    >>> out.shape, round(float(out[0, 0, 2, 2]), 5)
    (torch.Size([1, 1, 5, 5]), 1.0)
    """
    k = kernel.to(dtype=x.dtype, device=x.device)[None, None]
    return F.conv2d(x, k, padding=k.shape[-1] // 2)


def heat_map(spikes: torch.Tensor, scale: float, kernel: torch.Tensor | None = None) -> torch.Tensor:
    """The training target ``scale * (g * spikes)`` for ``(B, 1, H, W)`` spike images.

    Parameters
    ----------
    spikes : torch.Tensor (B, 1, H, W)
        Spike images on the fine grid (1 in the fine pixel of each emitter).
    scale : float
        Heat-map scale ``c`` (``TrainingConfig.heat_scale``, 100 by default).
    kernel : torch.Tensor (k, k), optional
        Default ``gaussian_kernel()`` (7 x 7, sigma 1 fine pixel).

    Returns
    -------
    torch.Tensor (B, 1, H, W)
    """
    kernel = gaussian_kernel(dtype=spikes.dtype) if kernel is None else kernel
    return scale * blur(spikes, kernel)


def deepstorm_loss(pred: torch.Tensor, heat: torch.Tensor, *, l1_weight: float = 1.0, kernel_factor: float = 2.0,
                   kernel: torch.Tensor | None = None) -> torch.Tensor:
    """``mean((kernel_factor g * pred - heat)^2) + l1_weight mean(|pred|)``.

    Parameters
    ----------
    pred : torch.Tensor (B, 1, H, W)
        Network output (spike maps on the fine grid).
    heat : torch.Tensor (B, 1, H, W)
        Target from ``heat_map``.
    l1_weight : float
        Weight of the sparsity term (1 for Deep-STORM, 10 for
        Deep-STORM-ReLU).
    kernel_factor : float
        Factor on the kernel that blurs the prediction (2 in the reference
        code).
    kernel : torch.Tensor (k, k), optional
        Default ``gaussian_kernel()``.

    Returns
    -------
    torch.Tensor
        The loss, a 0-d tensor (differentiable).

    Examples
    --------
    >>> heat = torch.zeros(1, 1, 8, 8)
    >>> float(deepstorm_loss(torch.zeros(1, 1, 8, 8), heat))
    0.0
    """
    kernel = gaussian_kernel(dtype=pred.dtype) if kernel is None else kernel
    data = torch.mean((blur(pred, kernel_factor * kernel) - heat) ** 2)
    return data + l1_weight * torch.mean(pred.abs())


def deepcel0_loss(pred: torch.Tensor, heat: torch.Tensor, *, cel0_lambda: float = 100.0, kernel_factor: float = 1.0,
                  kernel: torch.Tensor | None = None) -> torch.Tensor:
    """``mean((g * pred - heat)^2) + mean(phi_CEL0(pred))``, column norms ``|kernel_factor g|_2``.

    The CEL0 penalty is constant (``lambda``) for spikes above
    ``sqrt(2 lambda) / |g|`` (about 50 for lambda = 100), so bright spikes
    are not shrunk while faint ones are pushed to zero.

    Parameters
    ----------
    pred : torch.Tensor (B, 1, H, W)
        Network output (spike maps on the fine grid).
    heat : torch.Tensor (B, 1, H, W)
        Target from ``heat_map``.
    cel0_lambda : float
        lambda of the CEL0 penalty (100 in the authors' code).
    kernel_factor : float
        Factor on the kernel (1); the CEL0 column norms are
        ``|kernel_factor g|_2``.
    kernel : torch.Tensor (k, k), optional
        Default ``gaussian_kernel()``.

    Returns
    -------
    torch.Tensor
        The loss, a 0-d tensor (differentiable).

    Examples
    --------
    >>> heat = torch.zeros(1, 1, 8, 8)
    >>> float(deepcel0_loss(torch.zeros(1, 1, 8, 8), heat))
    0.0
    """
    kernel = (gaussian_kernel(dtype=pred.dtype) if kernel is None else kernel) * kernel_factor
    data = torch.mean((blur(pred, kernel) - heat) ** 2)
    norm = float(torch.linalg.vector_norm(kernel.double()))
    return data + torch.mean(cel0_phi(pred, cel0_lambda, norm))


def cel0_threshold(cel0_lambda: float = 100.0, kernel_factor: float = 1.0) -> float:
    """``sqrt(2 lambda) / |g|``: spikes above it pay the constant penalty lambda.

    Parameters
    ----------
    cel0_lambda : float
        lambda of the CEL0 penalty.
    kernel_factor : float
        Factor on the default kernel ``g``.

    Returns
    -------
    float
        The spike amplitude (network-output units) above which the penalty
        is constant.

    Examples
    --------
    >>> round(cel0_threshold(), 1)
    50.1
    """
    return math.sqrt(2 * cel0_lambda) / (kernel_factor * float(gaussian_kernel(dtype=torch.float64).norm()))
