"""The gradient-step denoiser ``D_sigma(x) = x - grad g_sigma(x)``, ``g_sigma(x) = 1/2 |x - N_sigma(x)|^2``.

Hurault, Leclaire and Papadakis (2022): a denoiser that is exactly a
gradient step on a learned potential. If ``grad g_sigma`` is
``L``-Lipschitz with ``L < 1``, ``D_sigma`` is the proximal map of a
weakly convex ``phi_sigma`` with ``phi_sigma(D_sigma(x)) = g_sigma(x) -
1/2 |x - D_sigma(x)|^2``, which gives plug-and-play proximal gradient a
monitored objective that decreases. The gradient is one vector-Jacobian
product of the network (autograd), so the denoiser always runs with
gradients enabled, also at inference.

Scaling ``mu`` adapts the denoiser to the intensity range of the iterates
(Xu et al. 2020): ``D_{mu,sigma}(z) = D_sigma(mu z) / mu``, the proximal
map of ``psi(r) = phi_sigma(mu r) / mu^2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import InputError
from .drunet import DRUNetLight

__all__ = ["GradientStepDenoiser", "DenoiserOutput", "hessian_spectral_norm", "ARCHITECTURE", "ARCHITECTURES",
           "load_denoiser"]

#: architecture name in the weights record (keyword arguments: ``channels``, ``blocks``)
ARCHITECTURE = "gradient-step-drunet-light"


@dataclass
class DenoiserOutput:
    """``denoised = D(x)``, per-image ``potential = g(x)`` (both at the input's scale, see ``scaled``)."""

    denoised: torch.Tensor
    potential: torch.Tensor


class GradientStepDenoiser(torch.nn.Module):
    """``D_sigma`` around a network ``N_sigma`` (``DRUNetLight`` by default).

    Images are ``(B, 1, H, W)`` or ``(H, W)``; any size (padded by
    reflection to the network's multiple inside ``N``, so ``g`` and its
    gradient are those of one well-defined function of the unpadded
    image). ``sigma`` is on the [0, 1] intensity scale (``10 / 255`` for the
    talk's "sigma = 10").

    Examples
    --------
    >>> den = GradientStepDenoiser(DRUNetLight(channels=(4, 8), blocks=1))
    >>> out = den(torch.rand(1, 1, 10, 12), 10 / 255)
    >>> out.denoised.shape, out.potential.shape
    (torch.Size([1, 1, 10, 12]), torch.Size([1]))
    """

    def __init__(self, net: DRUNetLight | None = None):
        super().__init__()
        self.net = DRUNetLight() if net is None else net

    def network(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """``N_sigma(x)`` on an image of any size."""
        m = self.net.multiple
        h, w = x.shape[-2:]
        ph, pw = (-h) % m, (-w) % m
        xp = F.pad(x, (0, pw, 0, ph), mode="reflect") if (ph or pw) and min(h, w) > max(ph, pw) else \
            F.pad(x, (0, pw, 0, ph), mode="replicate") if (ph or pw) else x
        sig = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1).expand(x.shape[0])
        return self.net(xp, sig)[..., :h, :w]

    def forward(self, x: torch.Tensor, sigma, *, create_graph: bool = False, shifts: int = 1) -> DenoiserOutput:
        """``D_sigma(x)`` and ``g_sigma(x)``; ``create_graph=True`` to train through it.

        With ``shifts = n > 1`` the potential is the mean of ``g_sigma`` over
        the ``n x n`` circular shifts of the image, ``g(x) = mean_s
        g_sigma(S_s x)``, evaluated as one batch: the network's strided
        convolutions make ``g_sigma`` vary with the position of the image on
        their 2-pixel grid, which shows as alternating bright and dim pixels
        along structures; the average over the grid's phases removes that.
        The shifts are orthogonal, so the Hessian of the mean is bounded by
        the largest of the shifted Hessians: ``D`` is still a gradient-step
        denoiser and a proximal map under the same condition.
        """
        if int(shifts) != shifts or shifts < 1:
            raise InputError(f"shifts must be a positive whole number, got {shifts}")
        squeeze = x.ndim == 2
        if squeeze:
            x = x[None, None]
        if x.ndim != 4 or x.shape[1] != 1:
            raise InputError(f"the denoiser takes (H, W) or (B, 1, H, W) images, got shape {tuple(x.shape)}")
        param = next(self.parameters(), None)
        in_dtype = x.dtype
        if param is not None and (x.dtype != param.dtype or x.device != param.device):
            x = x.to(param)
        with torch.enable_grad():
            x_in = x if create_graph and x.requires_grad else x.detach().requires_grad_(True)
            n = int(shifts)
            if n == 1:
                residual = x_in - self.network(x_in, sigma)
                g = 0.5 * residual.pow(2).flatten(1).sum(dim=1)
            else:
                batch = torch.cat([torch.roll(x_in, (i, j), dims=(-2, -1)) for i in range(n) for j in range(n)])
                sig = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1)
                sig = sig.expand(x.shape[0]).repeat(n * n)
                residual = batch - self.network(batch, sig)
                g = 0.5 * residual.pow(2).flatten(1).sum(dim=1).reshape(n * n, x.shape[0]).mean(dim=0)
            (grad,) = torch.autograd.grad(g.sum(), x_in, create_graph=create_graph)
        denoised = x - grad
        if not create_graph:
            denoised, g = denoised.detach(), g.detach()
        if squeeze:
            denoised = denoised[0, 0]
        if denoised.dtype != in_dtype:
            denoised, g = denoised.to(in_dtype), g.to(in_dtype)
        return DenoiserOutput(denoised, g)

    def scaled(self, z: torch.Tensor, sigma, mu: float, *, shifts: int = 1) -> DenoiserOutput:
        """``D_{mu,sigma}(z) = D_sigma(mu z) / mu`` and ``g_sigma(mu z) / mu^2`` (for the PnP objective)."""
        if not mu > 0:
            raise InputError(f"the denoiser scaling mu must be positive, got {mu}")
        out = self(z * mu, sigma, shifts=shifts)
        return DenoiserOutput(out.denoised / mu, out.potential / mu**2)


def hessian_spectral_norm(denoiser: GradientStepDenoiser, x: torch.Tensor, sigma, *, n_iter: int = 50,
                          tol: float = 1e-2, seed: int = 0) -> torch.Tensor:
    """``|Hess g_sigma(x)|_2`` per image by power iteration (Hessian-vector products by double autograd).

    ``< 1`` everywhere is the condition under which ``D_sigma`` is a
    proximal map (Prox-PnP). Returns a tensor of shape ``(B,)``.
    """
    gen = torch.Generator(device=x.device).manual_seed(seed)
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        residual = x - denoiser.network(x, sigma)
        g = 0.5 * residual.pow(2).flatten(1).sum(dim=1)
        (grad,) = torch.autograd.grad(g.sum(), x, create_graph=True)
        v = torch.randn(x.shape, generator=gen, dtype=x.dtype, device=x.device)
        v = v / v.flatten(1).norm(dim=1).reshape(-1, 1, 1, 1)
        est = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for _ in range(n_iter):
            (hv,) = torch.autograd.grad(grad, x, grad_outputs=v, retain_graph=True)
            new = hv.flatten(1).norm(dim=1)
            v = (hv / new.clamp_min(1e-30).reshape(-1, 1, 1, 1)).detach()
            done = bool(((new - est).abs() <= tol * new).all())
            est = new.detach()
            if done:
                break
    return est


def _build(channels, blocks) -> GradientStepDenoiser:
    return GradientStepDenoiser(DRUNetLight(channels=channels, blocks=blocks))


ARCHITECTURES = {ARCHITECTURE: _build}


def load_denoiser(path=None, *, device="cpu"):
    """Load gradient-step denoiser weights (the shipped ones if ``path`` is None), in eval mode, offline.

    Parameters
    ----------
    path : path, optional
        Weights file from ``pointillist train --method gs-denoiser``.
    device : str or torch.device

    Returns
    -------
    LoadedWeights
        ``.net`` (a :class:`GradientStepDenoiser`) and ``.record`` (how it
        was trained; ``record.extra["prox_finetuned"]``,
        ``record.validation["hessian_norm_validation"]``).

    Examples
    --------
    >>> den = load_denoiser()
    >>> den.record.method, type(den.net).__name__
    ('gs-denoiser', 'GradientStepDenoiser')
    """
    from .._device import resolve_device
    from ..io.weights import load_weights

    return load_weights(path, method="gs-denoiser", architectures=ARCHITECTURES, device=resolve_device(device))
