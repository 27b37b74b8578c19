"""COL0RME step 1: sparse support of the emitter variance map in the covariance domain.

Solves ``min_{r >= 0, s >= 0} 1/2 |R_y - Psi diag(r) Psi^T - s I|_F^2 + R(r; lambda)``
with ``R`` in {CEL0, l1, TV} on normalised data (``R_y / max R_y``), the
noise variance ``s`` in closed form after each step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ...covariance import CovarianceFit, CovarianceStats
from ...errors import InputError, real_number
from ...operators.covariance import CovarianceOperator
from ...penalties import CEL0, L1, TV
from ...solvers import History, SolverOptions, fista, irl1

__all__ = ["SupportResult", "estimate_support", "support_operator", "lambda_max", "PENALTIES", "DEFAULT_LAMBDA_RATIO",
           "DEFAULT_THRESHOLD"]

PENALTIES = ("cel0", "l1", "tv")

#: lambda / lambda_max used when none is given, as the reference code fixes its own fraction gamma.
#: CEL0 and l1: calibrated on simulated filaments (benchmarks/colorme.py, the sweep in
#: docs/benchmarks.md) and confirmed on the calibration part of the robustness suite; TV: on the
#: suite's calibration stacks (benchmarks/colorme_suite.py; 1e-5 with a cut at 0.3 scored 32 % there).
DEFAULT_LAMBDA_RATIO = {"cel0": 1e-5, "l1": 1e-2, "tv": 1e-6}
#: support = r > threshold * max(r); TV has no exact zeros and needs a cut.
DEFAULT_THRESHOLD = {"cel0": 0.0, "l1": 0.0, "tv": 0.1}


def support_operator(psi) -> CovarianceOperator:
    """The covariance operator of COL0RME's support step for the imaging operator ``psi``.

    Its normal operator runs in float32 (the iterates stay in float64): the
    two 256 x 256 products of a 64-pixel tile at q = 4 take 2.7x less time,
    with a relative error near 1e-7, a hundred times below the solver's
    tolerance. On the robustness suite the supports are as good as in
    float64 (docs/benchmarks.md, ``colorme-speed``).

    Examples
    --------
    >>> from pointillist.optics import Optics
    >>> from pointillist.operators import imaging_operator
    >>> op = support_operator(imaging_operator(Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=2), (8, 8)))
    >>> op.normal_dtype
    torch.float32
    """
    return CovarianceOperator(psi, normal_dtype=torch.float32)


@dataclass
class SupportResult:
    """Output of the support step.

    ``variance_map`` is ``r`` (fine grid, data units squared), ``support``
    the boolean map ``r > threshold``, both tensors on the solver's device
    (the COL0RME path stays in torch up to its public result);
    ``noise_variance`` is ``s`` in data units squared; ``lam`` is on the
    normalised scale (``R_y / max R_y``).
    """

    variance_map: torch.Tensor
    support: torch.Tensor
    noise_variance: float
    lam: float
    lambda_max: float
    lambda_ratio: float
    penalty: str
    n_iter: int
    converged: bool
    runs: int
    history: History = field(repr=False, default_factory=History)


def lambda_max(fit: CovarianceFit, penalty: str, *, mode: str = "exact") -> float:
    """The smallest lambda for which ``r = 0`` is a solution (critical point for CEL0).

    ``c = A^T(R_y - s I)`` at ``r = 0``: ``mode="exact"`` uses the optimal
    ``s*(0)``; ``mode="code"`` uses ``s = 0`` as the reference code does.
    l1: ``max c``; CEL0: ``max c^2 / (2 |a_i|^2)``. TV never has ``r = 0``
    optimal under non-negativity (a constant image always lowers the fit),
    so for TV this is the smallest lambda for which a *constant* image is
    optimal, bounded by the least-squares dual certificate
    ``max |grad u|`` with ``-div grad u = c - mean(c)`` (solved by DCT).

    Parameters
    ----------
    fit : CovarianceFit
        The covariance data term (data divided by ``max R_y``).
    penalty : {"cel0", "l1", "tv"}
        The support regulariser.
    mode : {"exact", "code"}
        Noise variance at ``r = 0``: the optimal ``s*(0)``, or 0 as the
        reference code.

    Returns
    -------
    float
        lambda_max (>= 0) on the normalised scale of ``fit``.

    Raises
    ------
    InputError
        For an unknown ``mode`` or ``penalty``.
    """
    if mode not in ("exact", "code"):
        raise InputError(f"lambda_max mode must be 'exact' or 'code', got {mode!r}")
    c = fit.minus_grad_at_zero(exact=mode == "exact")
    if penalty == "l1":
        return max(float(c.max()), 0.0)
    if penalty == "cel0":
        return float((c.clamp_min(0) ** 2 / (2 * fit.norms**2)).max())
    if penalty == "tv":
        return _tv_certificate(c)
    raise InputError(f"penalty must be one of {', '.join(PENALTIES)}, got {penalty!r}")


def _tv_certificate(c: torch.Tensor) -> float:
    from scipy.fft import dctn, idctn

    g = (c - c.mean()).cpu().numpy()
    h, w = g.shape
    # eigenvalues of the Neumann Laplacian -div grad in the DCT-II basis
    ev = (2 - 2 * np.cos(np.pi * np.arange(h) / h))[:, None] + (2 - 2 * np.cos(np.pi * np.arange(w) / w))[None, :]
    ev[0, 0] = 1.0
    u_hat = dctn(g, norm="ortho") / ev
    u_hat[0, 0] = 0.0
    u = idctn(u_hat, norm="ortho")
    gy = np.zeros_like(u)
    gx = np.zeros_like(u)
    gy[:-1] = u[1:] - u[:-1]
    gx[:, :-1] = u[:, 1:] - u[:, :-1]
    return float(np.sqrt(gy**2 + gx**2).max())


def _penalty(name, lam, fit, tv_inner):
    if name == "cel0":
        return CEL0(lam, norms=fit.norms)
    if name == "l1":
        return L1(lam)
    return TV(lam, inner_iter=tv_inner)


def _restart_init(r: torch.Tensor, support: torch.Tensor) -> torch.Tensor | None:
    """New starting point: add pixels halfway between each support pixel and its nearest other one."""
    from scipy.spatial import cKDTree

    support = support.cpu().numpy()
    pts = np.argwhere(support)
    if len(pts) < 2:
        return None
    dist, idx = cKDTree(pts).query(pts, k=2)
    mid = np.rint((pts + pts[idx[:, 1]]) / 2.0).astype(int)
    init = r.clone()
    level = float(r[r > 0].mean())
    fresh = ~support[mid[:, 0], mid[:, 1]]
    if not fresh.any():
        return None
    init[mid[fresh, 0], mid[fresh, 1]] = level
    return init


def estimate_support(
    stats: CovarianceStats,
    op: CovarianceOperator,
    *,
    penalty: str = "cel0",
    lambda_ratio: float | None = None,
    lambda_mode: str = "exact",
    algorithm: str = "irl1",
    restarts: int = 0,
    threshold: float | None = None,
    options: SolverOptions = SolverOptions(max_iter=3000, tol=1e-5, record_objective=True),
    tv_inner: int = 50,
    device=None,
    progress=None,
) -> SupportResult:
    """Support of the emitters from covariance statistics.

    Parameters
    ----------
    stats : CovarianceStats
        From ``covariance_statistics`` (one pass over the calibrated frames).
    op : CovarianceOperator
        ``r -> Psi diag(r) Psi^T`` for the tile's imaging operator ``Psi``.
    penalty : {"cel0", "l1", "tv"}
        The support regulariser.
    lambda_ratio : float, optional
        lambda as a fraction of ``lambda_max``, in (0, 1]
        (``DEFAULT_LAMBDA_RATIO`` of the penalty if omitted).
    lambda_mode : {"exact", "code"}
        How ``lambda_max`` is computed (see ``lambda_max``).
    algorithm : {"irl1", "fista"}
        CEL0 only: IRL1 as in the reference code (outer reweighting, inner
        FISTA; the default: it converges in tens of outer steps), or FISTA
        with the closed-form CEL0 prox.
    restarts : int
        CEL0 only: extra runs started from pixels halfway between
        neighbouring support pixels; the support is the union, and runs
        stop when it no longer grows (the reference code's restarting
        strategy against "dotted" supports).
    threshold : float, optional
        Support = ``r > threshold * max(r)`` (0: the exact zeros of the
        prox); ``DEFAULT_THRESHOLD`` of the penalty if omitted.
    options : SolverOptions
        Iteration cap and tolerance of FISTA (with IRL1: of the inner FISTA;
        ``options.tol`` is also the outer tolerance).
    tv_inner : int
        Inner iterations of the TV prox.
    device : str or torch.device, optional
        Where to solve; None means CPU.
    progress : tqdm-like, optional
        A progress bar that the solver updates.

    Returns
    -------
    SupportResult
        ``variance_map`` r and ``support`` (fine-grid tensors (qH, qW) on the
        solver's device; r in the data unit squared, photons^2 when
        calibrated), ``noise_variance`` s (data unit squared; mean over the
        runs), ``lam`` and ``lambda_max`` (normalised scale),
        ``lambda_ratio``, ``penalty``, ``n_iter`` and ``converged`` of the
        first run, the number of ``runs`` and the ``history`` of all runs.

    Raises
    ------
    InputError
        For an unknown ``penalty`` or ``algorithm``, a ``lambda_ratio``
        outside (0, 1] or a ``threshold`` outside [0, 1).
    """
    if penalty not in PENALTIES:
        raise InputError(f"penalty must be one of {', '.join(PENALTIES)}, got {penalty!r}")
    if algorithm not in ("fista", "irl1"):
        raise InputError(f"algorithm must be 'fista' or 'irl1', got {algorithm!r}")
    if penalty != "cel0":
        algorithm = "fista"
    lambda_ratio = DEFAULT_LAMBDA_RATIO[penalty] if lambda_ratio is None else lambda_ratio
    threshold = DEFAULT_THRESHOLD[penalty] if threshold is None else threshold
    # lambda = lambda_ratio * lambda_max: from 1 on the solution is zero everywhere.
    lambda_ratio = real_number("lambda_ratio", lambda_ratio, low=0, high=1, include_low=False, include_high=True)
    threshold = real_number("threshold", threshold, low=0, high=1)
    fit = CovarianceFit(op, stats, device=device)
    lmax = lambda_max(fit, penalty, mode=lambda_mode)
    r = torch.zeros_like(fit.v)
    history = History()

    def solve(lam, start):
        pen = _penalty(penalty, lam, fit, tv_inner)
        if algorithm == "irl1":
            res = irl1(fit, pen, start, tol=options.tol, inner=options, progress=progress)
        else:
            res = fista(fit, pen, start, options=options, progress=progress)
        history.extend(res.history)
        return res

    lam = lambda_ratio * lmax
    res = solve(lam, r)
    r = res.x
    n_iter, converged = res.n_iter, res.converged

    def support_of(x):
        cut = threshold * float(x.max()) if threshold > 0 else 0.0
        return x > cut

    support = support_of(r)
    runs = 1
    s_values = [fit.s_star(r)]
    if penalty == "cel0" and restarts > 0:
        for _ in range(restarts):
            init = _restart_init(r, support)
            if init is None:
                break
            extra = solve(lam, init)
            runs += 1
            s_values.append(fit.s_star(extra.x))
            grown = support | support_of(extra.x)
            r = torch.maximum(r, extra.x)
            if int(grown.sum()) == int(support.sum()):
                break
            support = grown
    s = float(np.mean(s_values)) * fit.scale
    return SupportResult(
        variance_map=r * fit.scale,
        support=support,
        noise_variance=s,
        lam=lam,
        lambda_max=lmax,
        lambda_ratio=lambda_ratio,
        penalty=penalty,
        n_iter=n_iter,
        converged=converged,
        runs=runs,
        history=history,
    )
