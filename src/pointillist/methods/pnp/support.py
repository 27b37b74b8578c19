"""PnP-COL0RME step 1: the emitter variance map by plug-and-play proximal gradient.

The proximal map of COL0RME's penalty is replaced by the gradient-step
denoiser scaled by ``mu``: ``r <- D_{mu,sigma}(r - tau grad F(r, s*(r)))``
with ``F`` the covariance fit (``covariance="full"``, every spatial lag,
the operator of issue 3) or the fit of the pixel variances only
(``covariance="diagonal"``: ``v = A_0 r + s``, for ``q = 1`` the
convolution with the squared PSF, the talk's deconvolution setting).

Scale. The denoiser was trained on images in [0, 1], and ``mu`` says how
the iterates map onto that range. The data are divided by ``max R_y``
(as COL0RME) and then by the maximum of a short non-negative least-squares
estimate ``r_0`` (30 FISTA steps from zero: an early-stopped, hence
smooth, estimate), so that ``r_0``, the starting point, peaks at 1 on
every stack; ``mu`` then has the same meaning for filaments and points,
for ``q = 1`` and ``q = 4``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ...covariance import CovarianceFit, CovarianceStats, VarianceFit
from ...denoisers import GradientStepDenoiser
from ...errors import InputError
from ...operators import SeparableMatrices
from ...operators.covariance import CovarianceOperator
from ...penalties import L1
from ...solvers import History, SolverOptions, fista, pnp_proximal_gradient

__all__ = ["PnPSupportResult", "pnp_support", "scaled_denoiser", "check_parameters", "COVARIANCE_MODELS",
           "DEFAULT_THRESHOLD", "DEFAULT_MU", "DEFAULT_SIGMA", "DEFAULT_SHIFTS"]

COVARIANCE_MODELS = ("full", "diagonal")
#: support = r > threshold * max(r) (the denoiser leaves no exact zeros; spec 2.5)
DEFAULT_THRESHOLD = 0.1
#: the talk's middle values: mu = 0.7, sigma = 10 / 255
DEFAULT_MU = 0.7
DEFAULT_SIGMA = 10.0
#: the denoiser's potential averaged over shifts x shifts circular shifts (1: none): removes the dotted
#: supports and intensities along filaments and lets the accelerated scheme converge (docs/benchmarks.md)
DEFAULT_SHIFTS = 2
#: FISTA steps of the non-negative least-squares start (and scale) r_0
INIT_STEPS = 30


@dataclass
class PnPSupportResult:
    """Output of the PnP support step (same fields as COL0RME's ``SupportResult`` where they apply).

    ``variance_map`` is ``r`` in data units squared, ``support`` the boolean
    map ``r > threshold * max r`` (both tensors on the solver's device); ``history`` holds per iteration the
    objective ``G``, the relative change ``|r_{k+1} - r_k| / |r_0|`` and
    the noise variance ``s`` (normalised scale). ``r_scale`` converts the
    normalised iterate to data units (``variance_map = r * r_scale``).
    """

    variance_map: torch.Tensor
    support: torch.Tensor
    noise_variance: float
    mu: float
    sigma: float
    tau: float
    threshold: float
    covariance: str
    n_iter: int
    converged: bool
    r_scale: float
    history: History = field(repr=False, default_factory=History)

    nonneg: bool = False

    @property
    def max_objective_increase(self) -> float:
        """Largest ``G_{k+1} - G_k`` relative to the total decrease ``G_1 - min G`` (0 if G never rose)."""
        g = np.asarray(self.history.objective)
        if len(g) < 2:
            return 0.0
        rise = float(np.max(np.diff(g)))
        return max(rise, 0.0) / max(float(g[0] - g.min()), np.finfo(float).tiny)

    @property
    def objective_decreasing(self) -> bool | None:
        """Whether ``G`` never increased, up to the float32 round-off of the network's potential.

        The tolerance at step k is 1e-6 (about 8 float32 epsilons) of
        ``|G_k| + |prior_k|``, the size of the terms that make up ``G``;
        None with ``nonneg`` (the clamp is not part of the denoiser's prox,
        so ``G`` is not the objective then).
        """
        if self.nonneg:
            return None
        g = np.asarray(self.history.objective)
        prior = np.asarray(self.history.aux.get("prior", np.zeros_like(g)))
        return bool(np.all(np.diff(g) <= 1e-6 * (np.abs(g[:-1]) + np.abs(prior[:-1]))))


def make_fit(stats: CovarianceStats, psi: SeparableMatrices, covariance: str, *, device=None):
    """The smooth data term of the chosen covariance model.

    Parameters
    ----------
    stats : CovarianceStats
        Covariance statistics of the tile.
    psi : SeparableMatrices
        Imaging operator of the tile.
    covariance : {"full", "diagonal"}
        Every lag of the covariance, or the pixel variances only.
    device : str or torch.device, optional

    Returns
    -------
    CovarianceFit or VarianceFit
        The data term, divided by ``max R_y`` (resp. ``max v``).
    """
    if covariance == "full":
        return CovarianceFit(CovarianceOperator(psi), stats, device=device)
    if covariance == "diagonal":
        return VarianceFit(psi, stats, device=device)
    raise InputError(f"covariance must be one of {', '.join(COVARIANCE_MODELS)}, got {covariance!r}")


def check_parameters(mu, sigma, threshold, tau_factor, max_iter, tol, shifts=1) -> None:
    """Clear errors for out-of-range PnP parameters (checked before any work is done).

    Parameters
    ----------
    mu : float
        Denoiser scaling; positive.
    sigma : float
        Denoiser noise level in units of 1/255; in [0, 255].
    threshold : float
        Support threshold as a fraction of ``max r``; in [0, 1).
    tau_factor : float
        Step as a fraction of ``1 / L_F``; in (0, 2).
    max_iter : int
        Iteration cap; at least 1.
    tol : float
        Tolerance on the relative change; non-negative.
    shifts : int
        Denoiser shifts per axis; a positive whole number.

    Returns
    -------
    None
        Returns when every parameter is in range.

    Raises
    ------
    InputError
        Naming the parameter out of range and its range.
    """
    if not mu > 0:
        raise InputError(f"mu must be positive, got {mu}")
    if not 0 <= sigma <= 255:
        raise InputError(f"sigma must be in [0, 255] (units of 1/255), got {sigma}")
    if not 0 <= threshold < 1:
        raise InputError(f"threshold must be in [0, 1), got {threshold}")
    if not 0 < tau_factor < 2:
        raise InputError(f"tau_factor must be in (0, 2), got {tau_factor}")
    if int(max_iter) < 1 or not tol >= 0:
        raise InputError(f"max_iter must be at least 1 and tol non-negative, got {max_iter} and {tol}")
    if int(shifts) != shifts or shifts < 1:
        raise InputError(f"shifts must be a positive whole number, got {shifts}")


def scaled_denoiser(denoiser: GradientStepDenoiser, sigma: float, mu: float, *, nonneg: bool = False,
                    shifts: int = 1):
    """``z -> (D_{mu,sigma}(z), psi(D_{mu,sigma}(z)))`` for ``pnp_proximal_gradient`` (``sigma`` in 1/255).

    ``psi(D(z)) = g_sigma(mu z) / mu^2 - 1/2 |z - D(z)|^2``: the value at
    the output of the function whose prox ``D_{mu,sigma}`` is (Prox-PnP).

    Parameters
    ----------
    denoiser : GradientStepDenoiser
        Trained on images in [0, 1]; its parameters' dtype and device are
        where each iterate is denoised.
    sigma : float
        Noise level in units of 1/255.
    mu : float
        Scaling, ``D_{mu,sigma}(z) = D_sigma(mu z) / mu``.
    nonneg : bool
        Clamp the denoised image at 0 (``psi`` is evaluated before the
        clamp).
    shifts : int
        Average the denoiser's potential over ``shifts x shifts`` circular
        shifts (``GradientStepDenoiser.forward``): 2 removes the
        alternating bright and dim pixels along structures, at 4 network
        evaluations per denoising.

    Returns
    -------
    callable
        ``denoise(z) -> (d, psi_value)`` for a 2-D tensor ``z`` (the iterate,
        on the normalised scale): ``d = D_{mu,sigma}(z)`` with ``z``'s shape,
        dtype and device, and ``psi_value`` a float.
    """
    param = next(denoiser.parameters())
    level = sigma / 255.0

    def denoise(z):
        out = denoiser.scaled(z.to(param)[None, None], level, mu, shifts=shifts)
        d = out.denoised[0, 0].to(z)
        psi_at = float(out.potential[0]) - 0.5 * float(torch.sum((z - d) ** 2))
        if nonneg:
            d = d.clamp_min(0)
        return d, psi_at

    return denoise


def pnp_support(stats: CovarianceStats, psi: SeparableMatrices, denoiser: GradientStepDenoiser, *,
                covariance: str = "full", mu: float = DEFAULT_MU, sigma: float = DEFAULT_SIGMA,
                threshold: float = DEFAULT_THRESHOLD, tau_factor: float = 0.99, nonneg: bool = False,
                accelerate: bool = True, shifts: int = DEFAULT_SHIFTS,
                options: SolverOptions = SolverOptions(max_iter=2000, tol=1e-4), device=None,
                progress=None) -> PnPSupportResult:
    """Emitter variance map and support by PnP proximal gradient with the gradient-step denoiser.

    Parameters
    ----------
    stats : CovarianceStats
        Covariance statistics of the tile (``covariance_statistics``).
    psi : SeparableMatrices
        Imaging operator (Gaussian PSF) of the tile, fine grid (qH, qW) to
        camera grid (H, W).
    denoiser : GradientStepDenoiser
        Trained on images in [0, 1] (see ``scaled_denoiser``).
    covariance : {"full", "diagonal"}
        Fit every lag of the covariance, or the pixel variances only.
    mu : float
        Denoiser scaling, ``D_{mu,sigma}(z) = D_sigma(mu z) / mu`` (larger:
        the iterates look brighter to the denoiser, which then removes less).
    sigma : float
        Denoiser noise level in units of 1/255 (the talk's 5, 10, 20).
    threshold : float
        Support = ``r > threshold * max r``.
    tau_factor : float
        Step ``tau = tau_factor / L_F`` (< 1 for the convergence theory).
    nonneg : bool
        Clamp ``r >= 0`` after each denoising (GS-PnP's "hard constraint";
        breaks the exact prox interpretation, so ``G`` may not decrease).
    accelerate : bool
        Monotone accelerated iterations (``pnp_proximal_gradient``); False
        for the plain scheme. With the shift-averaged denoiser (the
        default) they converge in a few hundred iterations where the plain
        scheme stops at the 2,000 cap, and ``G`` still decreases at every
        iteration; with ``shifts=1`` the learned denoiser is not an exact
        prox at the points they visit, ``G`` rises at the momentum restarts
        and the relative change stalls near 1e-3 (docs/benchmarks.md,
        ``pnp-convergence``).
    shifts : int
        The denoiser averaged over ``shifts x shifts`` circular shifts (see
        ``scaled_denoiser``).
    options : SolverOptions
        ``max_iter`` and ``tol`` on the relative change.
    device : str or torch.device, optional
        Where to solve; None means CPU.
    progress : tqdm-like, optional
        A progress bar that the solver updates.

    Returns
    -------
    PnPSupportResult
        ``variance_map`` r and ``support`` (``r > threshold * max r``), tensors
        (qH, qW) on the solver's device, r in the data unit squared (photons^2
        when calibrated); ``noise_variance`` s in the data unit squared; the
        ``mu``, ``sigma``, ``tau`` (normalised scale), ``threshold`` and
        ``covariance`` used; ``n_iter``, ``converged``, ``r_scale`` and
        ``history`` (``G``, relative change and ``s`` per iteration).

    Raises
    ------
    InputError
        For out-of-range parameters (``check_parameters``), or when the
        least-squares start is zero (no emitter signal).
    """
    check_parameters(mu, sigma, threshold, tau_factor, options.max_iter, options.tol, shifts)
    fit = make_fit(stats, psi, covariance, device=device)
    init = fista(fit, L1(0.0), torch.zeros(psi.in_shape, dtype=fit.v.dtype, device=fit.v.device),
                 options=SolverOptions(max_iter=INIT_STEPS, tol=0.0, record_objective=False)).x
    peak = float(init.max())
    if not peak > 0:
        raise InputError("the covariance carries no emitter signal (the least-squares variance map is zero)")
    fit.rescale(peak)
    r0 = init / peak
    tau = tau_factor / fit.lipschitz
    denoise = scaled_denoiser(denoiser, sigma, mu, nonneg=nonneg, shifts=shifts)
    res = pnp_proximal_gradient(fit, denoise, r0, step=tau, options=options, accelerate=accelerate,
                                progress=progress)
    r = res.x
    cut = threshold * float(r.max()) if float(r.max()) > 0 else 0.0
    support = r > max(cut, 0.0)
    return PnPSupportResult(
        variance_map=r * fit.scale, support=support, noise_variance=fit.noise_variance(r), mu=mu,
        sigma=sigma, tau=tau, threshold=threshold, covariance=covariance, n_iter=res.n_iter,
        converged=res.converged, r_scale=fit.scale, history=res.history, nonneg=nonneg)
