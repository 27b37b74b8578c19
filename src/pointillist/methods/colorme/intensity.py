"""COL0RME step 2: intensity on the support and a smooth background, mu by the discrepancy principle.

``min_{x >= 0, supp x in Omega; b >= 0} 1/2 |ybar - Psi x - b|^2 + (mu/2) |grad x|^2 + (beta/2) |grad b|^2``

on the temporal mean ``ybar`` (the ``1/2`` form of the reference code,
whose gradients are ``mu grad^T grad x``). ``grad`` is the forward
difference with Neumann boundary on the full fine grid applied to the
zero-extended ``x``, so jumps at the border of the support are penalised.
The constraints are rarely active (intensities and background are positive
where the support is right), so each solve first minimises the quadratic on
the support without them, by conjugate gradient preconditioned with the
diagonal of the Hessian; only when that solution leaves the feasible set
does FISTA with restart and exact projections take over from it. On a
64-pixel tile at q = 4 the CG reaches a residual of 1e-8 in half the
iterations FISTA needs for a relative change of 1e-6, and lands closer to the
minimiser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ...errors import InputError
from ...operators import LinearOperator
from ...penalties import NonNegative
from ...penalties.tv import div2d, grad2d
from ...solvers import SolverOptions, conjugate_gradient, fista

__all__ = ["IntensityResult", "estimate_intensity", "solve_intensity", "DP_MODES", "CG_TOL"]

DP_MODES = ("code", "statistical")
#: relative residual at which the conjugate gradient of an intensity solve stops
CG_TOL = 1e-8


def _neumann_laplacian_diagonal(shape, like) -> torch.Tensor:
    """Diagonal of ``-div grad`` (forward differences, Neumann boundary): the number of neighbours."""
    h, w = shape
    rows = torch.full((h, 1), 2.0, dtype=like.dtype, device=like.device)
    cols = torch.full((1, w), 2.0, dtype=like.dtype, device=like.device)
    rows[0], rows[-1] = rows[0] - 1, rows[-1] - 1
    cols[:, 0], cols[:, -1] = cols[:, 0] - 1, cols[:, -1] - 1
    return rows + cols


class _Packed:
    """Views of ``x`` (fine) and ``b`` (coarse) inside one flat tensor."""

    def __init__(self, fine_shape, coarse_shape):
        self.fine_shape, self.coarse_shape = tuple(fine_shape), tuple(coarse_shape)
        self.n_fine = math.prod(fine_shape)

    def split(self, z):
        return z[: self.n_fine].reshape(self.fine_shape), z[self.n_fine :].reshape(self.coarse_shape)

    def join(self, x, b):
        return torch.cat([x.reshape(-1), b.reshape(-1)])


class _IntensityFit:
    """The smooth part: data fit and the two quadratic smoothness terms."""

    def __init__(self, psi, ybar, mu, beta, packed, fit_background):
        self.psi, self.ybar, self.mu, self.beta, self.packed = psi, ybar, mu, beta, packed
        self.fit_background = fit_background
        self.lipschitz = (psi.norm() ** 2 + (1.0 if fit_background else 0.0)) + 8.0 * max(mu, beta if fit_background else 0.0)

    def residual(self, z):
        x, b = self.packed.split(z)
        return self.psi(x) + b - self.ybar

    def value(self, z):
        x, b = self.packed.split(z)
        res = self.psi(x) + b - self.ybar
        out = 0.5 * float((res**2).sum()) + 0.5 * self.mu * float((grad2d(x) ** 2).sum())
        return out + 0.5 * self.beta * float((grad2d(b) ** 2).sum())

    def grad(self, z):
        x, b = self.packed.split(z)
        res = self.psi(x) + b - self.ybar
        gx = self.psi.adjoint(res) - self.mu * div2d(grad2d(x))
        gb = res - self.beta * div2d(grad2d(b)) if self.fit_background else torch.zeros_like(b)
        return self.packed.join(gx, gb)


@dataclass
class IntensityResult:
    """Intensity (fine grid, mean photons or ADU per frame per fine pixel) and background (camera grid)."""

    intensity: np.ndarray
    background: np.ndarray
    mu: float
    residual_norm2: float
    dp_target: float | None
    dp_satisfied: bool | None
    n_solves: int
    history: dict = field(default_factory=dict, repr=False)


def solve_intensity(psi: LinearOperator, ybar: torch.Tensor, support: torch.Tensor, *, mu: float, beta: float,
                    fit_background: bool = True, start=None, options=SolverOptions(max_iter=2000, tol=1e-6,
                                                                                    record_objective=False)):
    """One solve for a fixed ``mu``; returns ``(x, b, solver result, smooth term)``.

    Minimises the objective of the module docstring on the support:
    preconditioned conjugate gradient without the constraints, then, only
    if that point is not feasible, FISTA with the projection from it.

    Parameters
    ----------
    psi : LinearOperator
        Imaging operator from the fine grid ``psi.in_shape`` (qH, qW) to the
        camera grid ``psi.out_shape`` (H, W).
    ybar : torch.Tensor (H, W)
        The temporal mean frame, in calibrated units (photons; ADU without a
        calibration); it sets the dtype and device of the solve.
    support : torch.Tensor (qH, qW) bool
        Where ``x`` may be non-zero.
    mu : float
        Smoothness weight of the intensity.
    beta : float
        Smoothness weight of the background.
    fit_background : bool
        Estimate a smooth background ``b >= 0``; else ``b = 0``.
    start : torch.Tensor, optional
        Warm start: a previous solve's ``res.x``, the flat concatenation of
        ``x`` and ``b`` (``qH qW + H W`` values). Default: ``x = 0`` and
        ``b = median(ybar)`` (0 without background).
    options : SolverOptions
        Iteration cap of the conjugate gradient and FISTA controls.

    Returns
    -------
    x : torch.Tensor (qH, qW)
        Intensity: mean per frame in each fine pixel, in the unit of
        ``ybar``; zero off the support.
    b : torch.Tensor (H, W)
        Background in each camera pixel, in the unit of ``ybar``.
    res : SolverResult
        The last solver's result: ``res.x`` the stacked variable,
        ``n_iter``, ``converged``, ``history``.
    fit : object
        The smooth term; ``fit.residual(res.x)`` is ``Psi x + b - ybar``.
    """
    packed = _Packed(psi.in_shape, psi.out_shape)
    f = _IntensityFit(psi, ybar, mu, beta, packed, fit_background)
    mask = packed.join(support.to(ybar.dtype), torch.full(psi.out_shape, 1.0 if fit_background else 0.0,
                                                            dtype=ybar.dtype, device=ybar.device))
    if start is None:
        x0 = torch.zeros(psi.in_shape, dtype=ybar.dtype, device=ybar.device)
        b0 = torch.full(psi.out_shape, float(ybar.median()) if fit_background else 0.0, dtype=ybar.dtype,
                        device=ybar.device)
        start = packed.join(x0, b0)
    zero = torch.zeros_like(mask)
    g0 = f.grad(zero)  # -(the right-hand side): the gradient is H z + g0

    def hessian(z):
        return (f.grad(z) - g0).mul_(mask)

    rows, cols = getattr(psi, "rows", None), getattr(psi, "cols", None)
    if rows is not None and cols is not None:  # |psi_j|^2 of a separable operator
        norms = torch.outer(torch.as_tensor((rows**2).sum(axis=0)), torch.as_tensor((cols**2).sum(axis=0)))
        norms = norms.to(dtype=ybar.dtype, device=ybar.device)
    else:
        norms = torch.ones(psi.in_shape, dtype=ybar.dtype, device=ybar.device)
    diagonal = packed.join(norms + mu * _neumann_laplacian_diagonal(psi.in_shape, ybar),
                           1.0 + beta * _neumann_laplacian_diagonal(psi.out_shape, ybar))
    inverse = mask / diagonal
    res = conjugate_gradient(hessian, -g0 * mask, start * mask, precondition=lambda r: r * inverse, tol=CG_TOL,
                             max_iter=options.max_iter)
    if not (res.converged and bool((res.x >= 0).all())):
        res = fista(f, NonNegative(mask=mask), res.x.clamp_min(0) * mask, options=options)
    x, b = packed.split(res.x)
    return x, b, res, f


def estimate_intensity(psi: LinearOperator, ybar, support, *, noise_variance: float,
                       n_frames: int, mu: float | None = None, beta: float = 20.0, dp_mode: str = "code",
                       fit_background: bool = True, device=None, mu_bounds=(1e-8, 1e4), max_solves: int = 40,
                       progress=None) -> IntensityResult:
    """Intensity and background on the support; ``mu`` by the discrepancy principle if not given.

    ``ybar`` (the mean frame) and ``support`` (fine grid) may be NumPy
    arrays or tensors; the returned images are NumPy arrays.

    Discrepancy principle: the residual ``|Psi x_mu + b_mu - ybar|^2``
    grows with ``mu``; ``mu`` is where it equals the target (to 0.1 %),
    bracketed by decades from ``mu = |Psi|^2`` and found by regula falsi
    (Illinois) on ``log r2`` against ``log mu``, each solve warm-started
    from the previous one. ``dp_mode="code"`` uses the
    reference code's target ``N s`` (the noise energy of one frame, ``N``
    camera pixels, ``s`` the noise variance from the support step);
    ``"statistical"`` the noise energy of the mean image, ``N s / T``.
    When the target cannot be met inside ``mu_bounds`` the nearest bound
    is used and ``dp_satisfied`` is False.

    Parameters
    ----------
    psi : LinearOperator
        Imaging operator from the fine grid (qH, qW) to the camera grid
        (H, W).
    ybar : array_like or torch.Tensor (H, W)
        The temporal mean frame, in calibrated units (photons; ADU without a
        calibration).
    support : array_like or torch.Tensor (qH, qW) bool
        The support from the support step.
    noise_variance : float
        ``s``, the per-frame noise variance from the support step (unit of
        ``ybar`` squared); it sets the discrepancy target.
    n_frames : int
        T, the number of frames averaged into ``ybar`` (for
        ``dp_mode="statistical"``).
    mu : float, optional
        Smoothness of the intensity (>= 0); by the discrepancy principle if
        omitted.
    beta : float
        Smoothness of the background (>= 0; reference code: 20).
    dp_mode : {"code", "statistical"}
        Discrepancy target ``N s`` or ``N s / T``.
    fit_background : bool
        Estimate a smooth non-negative background; else ``b = 0``.
    device : str or torch.device, optional
        Where to solve; None means CPU.
    mu_bounds : (float, float)
        Range searched for ``mu``.
    max_solves : int
        Cap on the number of solves (the bracketing ones included).
    progress : tqdm-like, optional
        Its ``update(1)`` is called after each solve of the search.

    Returns
    -------
    IntensityResult
        ``intensity`` (qH, qW) and ``background`` (H, W), NumPy arrays in the
        unit of ``ybar`` (mean per frame); the ``mu`` used;
        ``residual_norm2`` ``|Psi x + b - ybar|^2``; ``dp_target`` and
        ``dp_satisfied`` (None when ``mu`` was given); ``n_solves`` and
        ``history`` (``mu`` and ``residual2`` of every solve).

    Raises
    ------
    InputError
        For an unknown ``dp_mode`` or a negative ``beta`` or ``mu``.

    Examples
    --------
    >>> from pointillist.optics import Optics
    >>> from pointillist.operators import imaging_operator
    >>> psi = imaging_operator(Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=2), (8, 8))
    >>> truth = np.zeros((16, 16)); truth[8, 5:11] = 50.0
    >>> ybar = psi(torch.as_tensor(truth)).numpy() + 10.0
    >>> res = estimate_intensity(psi, ybar, truth > 0, noise_variance=1e-6, n_frames=100, mu=1e-6)
    >>> bool(np.abs(res.intensity - truth).max() < 1.0), round(float(res.background.mean()), 1)
    (True, 10.0)
    """
    if dp_mode not in DP_MODES:
        raise InputError(f"dp_mode must be one of {DP_MODES}, got {dp_mode!r}")
    if not beta >= 0:
        raise InputError(f"beta must be non-negative, got {beta}")
    if mu is not None and not mu >= 0:
        raise InputError(f"mu must be non-negative, got {mu}")
    dev = torch.device("cpu") if device is None else device
    # tensors from the support step are used as they are (no round trip through NumPy)
    y = torch.as_tensor(ybar, dtype=torch.float64, device=dev)
    supp = torch.as_tensor(support, dtype=torch.bool, device=dev)
    if mu is not None:
        x, b, res, f = solve_intensity(psi, y, supp, mu=mu, beta=beta, fit_background=fit_background)
        r2 = float((f.residual(res.x) ** 2).sum())
        return IntensityResult(x.cpu().numpy(), b.cpu().numpy(), mu, r2, None, None, 1, {"mu": [mu], "residual2": [r2]})
    n_pix = math.prod(psi.out_shape)
    target = n_pix * noise_variance / (1.0 if dp_mode == "code" else n_frames)
    trail = {"mu": [], "residual2": []}
    state = {"start": None}

    def residual2(m):
        x, b, res, f = solve_intensity(psi, y, supp, mu=m, beta=beta, fit_background=fit_background,
                                       start=state["start"])
        state["start"] = res.x
        r2 = float((f.residual(res.x) ** 2).sum())
        trail["mu"].append(m)
        trail["residual2"].append(r2)
        if progress is not None:
            progress.update(1)
        return r2, x, b

    lo, hi = math.log10(mu_bounds[0]), math.log10(mu_bounds[1])
    # Bracket by decades from mu = |Psi|^2, where the smoothness and the data fit weigh alike,
    # towards the target. Walking down from large mu keeps every solve well conditioned and
    # warm-started from a smoother neighbour; the small mu of ill-conditioned solves (thousands
    # of iterations) are reached only when the target asks for them.
    e = min(max(round(math.log10(psi.norm() ** 2)), lo), hi)
    r2, x, b = residual2(10.0**e)
    seen = {e: r2}
    direction = -1.0 if r2 > target else 1.0
    while r2 != target and (r2 > target) == (direction < 0):
        e_next = e + direction
        if not lo - 1e-9 <= e_next <= hi + 1e-9 or len(trail["mu"]) >= max_solves:
            # the target is out of reach inside mu_bounds: the nearest bound, flagged
            return IntensityResult(x.cpu().numpy(), b.cpu().numpy(), 10.0**e, r2, target, False, len(trail["mu"]),
                                   trail)
        e = e_next
        r2, x, b = residual2(10.0**e)
        seen[e] = r2
    if r2 == target:
        return IntensityResult(x.cpu().numpy(), b.cpu().numpy(), 10.0**e, r2, target, True, len(trail["mu"]), trail)
    # Illinois regula falsi on log r2 against log mu (smooth and increasing): a few solves
    # where bisection to the same tolerance took ten.
    a, c = sorted((e, e - direction))
    fa, fc = math.log(seen[a] / target), math.log(seen[c] / target)
    kept = 0  # > 0: c moved that many times in a row; < 0: a did (Illinois halves the other end's value)
    while len(trail["mu"]) < max_solves and c - a > 1e-3 and abs(r2 - target) > 1e-3 * target:
        m = c - fc * (c - a) / (fc - fa) if fc != fa else 0.5 * (a + c)
        m = min(max(m, a + 1e-4 * (c - a)), c - 1e-4 * (c - a))
        r2, x, b = residual2(10.0**m)
        fm = math.log(r2 / target)
        e = m
        if fm > 0:
            c, fc = m, fm
            kept = kept + 1 if kept > 0 else 1
            if kept >= 2:
                fa *= 0.5
        else:
            a, fa = m, fm
            kept = kept - 1 if kept < 0 else -1
            if kept <= -2:
                fc *= 0.5
    return IntensityResult(x.cpu().numpy(), b.cpu().numpy(), 10.0**e, r2, target, True, len(trail["mu"]), trail)
