"""The axial step of 3D-COL0RME: from K super-resolved intensity images to a depth profile per support pixel.

``min_{u >= 0, u = 0 off the support} 1/2 sum_k |(A u)_k - y_k|^2 + mu TV_xy(u)``

with ``y_k`` the intensity image of angle k (fine grid, already deconvolved
by COL0RME, so no lateral blur), ``u`` the density on depth bins x the fine
grid, ``A`` the exact-bin excitation matrix (:func:`pointillist.tirf.depth_bin_matrix`)
with columns normalised to unit norm for the solve, and ``TV_xy`` the
isotropic total variation of each depth slice (SPEC 1.8, after the MA-TIRF
reconstruction code of Soubies et al. 2019). The data are divided by their
maximum so that ``mu`` is relative.

The solver is ADMM on the splitting ``u = v`` (as the reference code): the
``u`` step is one ``J x J`` linear system shared by every pixel (``A^T A +
rho I``, factorised once), the ``v`` step the prox of TV plus the
constraints (dual projected gradient). The exponential columns of ``A``
make the least-squares part badly conditioned: for one emitter (13 angles,
20 nm bins) FISTA was still 5-6 nm off after 2,000 iterations and needed
20,000 to come within 1 nm, where ADMM (``rho = RHO_FRACTION |A|^2``) is
within about 2 nm after 1,000.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..._device import resolve_device
from ...errors import InputError, real_number
from ...operators.axial import DepthMixing
from ...penalties import TV
from ...solvers import History, SolverResult, relative_change

__all__ = ["AxialResult", "axial_reconstruction", "DEFAULT_AXIAL_MU", "AXIAL_MAX_ITER"]

#: TV weight on data divided by their maximum, calibrated on seed 101 of benchmarks/colorme_3d.py (depth RMSE
#: 25.7 nm at 0, 24.0 at 3e-3, 23.5 at 1e-2 with 300 iterations; the reference MA-TIRF code used 5e-4)
DEFAULT_AXIAL_MU = 3e-3
#: ADMM iterations of colorme_3d's axial step: 300 reached 24.0 nm where 1000 reached 23.9 in 2.2x the time
AXIAL_MAX_ITER = 300
#: ADMM penalty rho as a fraction of |A|^2 (columns normalised); see tests/test_axial.py
RHO_FRACTION = 1e-3


class _SupportTV(TV):
    """TV of each depth slice, with ``u >= 0`` and ``u = 0`` off the support as the constraint."""

    def __init__(self, lam, mask, **kwargs):
        super().__init__(lam, nonneg=True, **kwargs)
        self.mask = mask

    def _project_primal(self, x):
        return x.clamp_min(0) * self.mask


@dataclass
class AxialResult:
    """Density on depth bins and the depth map.

    ``volume`` is ``(J, H, W)`` in the unit of the intensities per unit of
    the excitation integral; ``depth`` (nm) is the density-weighted mean of
    the bin centres at each support pixel, NaN elsewhere (and where the
    density vanished).
    """

    volume: np.ndarray
    depth: np.ndarray
    edges_nm: np.ndarray
    n_iter: int
    converged: bool
    history: dict = field(default_factory=dict, repr=False)


def axial_reconstruction(intensities, support, matrix, edges_nm, *, mu: float = DEFAULT_AXIAL_MU,
                         max_iter: int = 1000, tol: float = 1e-5, device=None) -> AxialResult:
    """Depth profiles on the support from the intensity images of K angles.

    Parameters
    ----------
    intensities : array_like (K, H, W)
        One intensity image per angle (fine grid, non-negative in the main).
    support : array_like (H, W) bool
        Where the density may be non-zero.
    matrix : array_like (K, J)
        ``A`` of :func:`pointillist.tirf.depth_bin_matrix` for the angles and the bins.
    edges_nm : array_like (J + 1,)
        The depth bins' edges (nm).
    mu : float
        TV weight (data divided by their maximum).
    max_iter, tol : int, float
        ADMM controls: stop when the iterate and the primal residual ``|u - v| / |v|`` both change by less
        than ``tol``.
    device : str or torch.device, optional

    Returns
    -------
    AxialResult

    Examples
    --------
    >>> from pointillist.tirf import DEFAULT_ANGLES_DEG, TIRFExcitation, depth_bin_matrix, depth_edges
    >>> exc = TIRFExcitation(DEFAULT_ANGLES_DEG)
    >>> edges = depth_edges(300, 10)
    >>> y = np.zeros((13, 3, 3)); y[:, 1, 1] = 80.0 * exc.excitation(95.0)  # one emitter 95 nm deep
    >>> res = axial_reconstruction(y, y[0] > 0, depth_bin_matrix(exc, edges), edges, mu=0.0)
    >>> abs(float(res.depth[1, 1]) - 95.0) < 5, bool(np.isnan(res.depth[0, 0]))
    (True, True)
    """
    y = np.asarray(intensities, dtype=np.float64)
    mask = np.asarray(support, dtype=bool)
    a = np.asarray(matrix, dtype=np.float64)
    edges = np.asarray(edges_nm, dtype=np.float64)
    if y.ndim != 3:
        raise InputError(f"intensities must be (angles, rows, columns), got shape {y.shape}")
    if mask.shape != y.shape[1:]:
        raise InputError(f"the support is {mask.shape} but the intensity images are {y.shape[1:]}")
    if a.ndim != 2 or a.shape[0] != y.shape[0]:
        raise InputError(f"the depth matrix must have one row per angle ({y.shape[0]}), got shape {a.shape}")
    if edges.shape != (a.shape[1] + 1,):
        raise InputError(f"{a.shape[1]} depth bins need {a.shape[1] + 1} edges, got {edges.size}")
    if not np.all(np.isfinite(y)):
        raise InputError("the intensity images contain NaN or infinite values")
    mu = real_number("mu", mu, low=0, high=1e6)
    dev = resolve_device(device)
    scale = float(np.abs(y).max()) or 1.0
    norms = np.linalg.norm(a, axis=0)
    if not np.all(norms > 0):
        raise InputError("a depth bin receives no excitation (a zero column of the depth matrix)")
    an = torch.as_tensor(a / norms, device=dev)
    yt = torch.as_tensor(y / scale, device=dev)
    m = torch.as_tensor(mask, dtype=yt.dtype, device=dev)
    prox = _SupportTV(mu, m)
    rho = RHO_FRACTION * float(torch.linalg.matrix_norm(an, 2)) ** 2
    factor = torch.linalg.cholesky(an.T @ an + rho * torch.eye(an.shape[1], dtype=an.dtype, device=dev))
    aty = DepthMixing(an.cpu().numpy(), y.shape[1:]).adjoint(yt)
    v = torch.zeros((an.shape[1], *y.shape[1:]), dtype=yt.dtype, device=dev)
    w = torch.zeros_like(v)
    history = History()
    converged, k = False, 0
    for k in range(1, int(max_iter) + 1):
        rhs = (aty + rho * (v - w)).reshape(an.shape[1], -1)
        u = torch.cholesky_solve(rhs, factor).reshape(v.shape)
        v_new = prox.prox(u + w, 1.0 / rho)
        w = w + u - v_new
        change = relative_change(v_new, v)
        primal = float(torch.linalg.vector_norm(u - v_new)) / max(float(torch.linalg.vector_norm(v_new)), 1e-300)
        history.append(float("nan"), change, {"primal_residual": primal})
        v = v_new
        if k > 1 and change < tol and primal < tol:
            converged = True
            break
    res = SolverResult(x=v, history=history, n_iter=k, converged=converged)
    volume = res.x.cpu().numpy() / norms[:, None, None] * scale
    centres = 0.5 * (edges[:-1] + edges[1:])
    total = volume.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        depth = np.tensordot(centres, volume, axes=1) / total
    depth[~mask | ~(total > 0)] = np.nan
    return AxialResult(volume=volume, depth=depth, edges_nm=edges, n_iter=res.n_iter, converged=res.converged,
                       history=res.history.as_dict())
