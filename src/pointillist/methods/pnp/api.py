"""``pnp_colorme(stack, optics=...)``: PnP support step, then COL0RME's intensity step, tile by tile."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ...acquisition import as_acquisition
from ...errors import InputError
from ...optics import Optics
from ...solvers import SolverOptions
from ..colorme.api import ColormeResult
from ..colorme.tiled import DEFAULT_BLOCK_FRAMES, DEFAULT_TILE_SIZE, check_covariance_inputs, covariance_tiles
from .support import (COVARIANCE_MODELS, DEFAULT_MU, DEFAULT_SHIFTS, DEFAULT_SIGMA, DEFAULT_THRESHOLD,
                      check_parameters, pnp_support)

__all__ = ["pnp_colorme", "PnPResult"]


@dataclass(kw_only=True)
class PnPResult(ColormeResult):
    """What ``pnp_colorme`` returns: COL0RME's result (``penalty = "pnp"``, no lambda), whose record
    names the denoiser's smoothness and noise level apart from the intensity smoothness."""

    def summary(self) -> dict:
        """JSON-friendly scalars for ``run.json``: ``intensity_mu``, ``denoiser_mu``, ``denoiser_sigma``,
        ``convergence`` (G and relative change per iteration, per tile)."""
        out = super().summary()
        out["intensity_mu"] = out.pop("mu")
        out["denoiser_mu"] = self.parameters["denoiser"]["mu"]
        out["denoiser_sigma"] = self.parameters["denoiser"]["sigma"]
        out["convergence"] = self.history.get("tiles") or [
            {k: self.history["support"][k] for k in ("objective", "rel_change")}]
        return out


def pnp_colorme(
    stack,
    *,
    optics: Optics,
    mu: float = DEFAULT_MU,
    sigma: float = DEFAULT_SIGMA,
    covariance: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    weights=None,
    denoiser=None,
    nonneg: bool = False,
    shifts: int = DEFAULT_SHIFTS,
    tau_factor: float = 0.99,
    intensity_mu: float | None = None,
    beta: float = 20.0,
    dp_mode: str = "code",
    background: bool = True,
    offset=None,
    gain=None,
    calibration=None,
    tile_size: int = DEFAULT_TILE_SIZE,
    block_frames: int | None = DEFAULT_BLOCK_FRAMES,
    max_iter: int = 2000,
    tol: float = 1e-4,
    device=None,
    progress: bool = False,
    scheduler=None,
) -> PnPResult:
    """PnP-COL0RME: support from the covariance with a learned gradient-step denoiser, then intensity.

    Parameters
    ----------
    stack : array (T, H, W), path or Acquisition
    optics : Optics
        Gaussian PSF; ``upsample = 1`` is the talk's deconvolution setting.
    mu : float
        Denoiser scaling ``D_{mu,sigma}(z) = D_sigma(mu z) / mu`` (the talk: 0.4 to 1.1).
    sigma : float
        Denoiser noise level in units of 1/255 (the talk: 5, 10, 20).
    covariance : {"full", "diagonal"}, optional
        Fit every lag of the covariance (issue 3's operator) or the pixel
        variances only; default ``"diagonal"`` for ``upsample = 1`` (the
        talk's setting) and ``"full"`` otherwise.
    threshold : float
        Support = ``r > threshold * max r``.
    weights : path, optional
        Denoiser checkpoint (default: the shipped one); or pass ``denoiser``.
    denoiser : GradientStepDenoiser or LoadedWeights, optional
        An already loaded denoiser (``load_denoiser``'s result keeps its
        weights record for the run record); ``weights`` is then ignored.
    nonneg : bool
        Clamp the iterates at 0 after the denoiser (off: keeps ``G`` monotone).
    shifts : int
        Average the denoiser over ``shifts x shifts`` circular shifts of the
        image (default 2: no alternating bright and dim pixels along
        structures, and the accelerated solver converges; 1: the network
        alone, a third of the time per iteration; see ``pnp_support``).
    tau_factor : float
        Step ``tau = tau_factor / L_F``.
    intensity_mu, beta, dp_mode, background :
        COL0RME's intensity step (``intensity_mu`` None: discrepancy principle).
    offset, gain : float or ndarray, optional
        Camera calibration, photons = (ADU - offset) / gain; or ``calibration``.
    calibration : Calibration, optional
    tile_size : int
        Camera pixels per tile side; larger fields are processed in
        overlapping tiles and stitched.
    block_frames : int or None
        The covariance is pooled over blocks of this many frames, each
        centred on its own mean, so that bleaching or a drift of the
        illumination does not correlate all pixels (default
        COL0RME's ``DEFAULT_BLOCK_FRAMES`` = 100; None: centre on the mean of the
        whole stack, as the reference code).
    max_iter, tol :
        Iteration cap and tolerance on ``|r_{k+1} - r_k| / |r_0|``.
    device : str, optional
        "cpu" (default), "cuda" or "auto".
    progress : bool
        Show a progress bar of the iterations.
    scheduler : Scheduler, optional
        Where the tiles' tasks run (:mod:`pointillist.scheduler`): threads of
        this process by default, or a Dask cluster; the result is the same bytes.

    Returns
    -------
    PnPResult
        A :class:`~pointillist.methods.colorme.api.ColormeResult` (fields on
        the same grids and in the same units) with ``penalty = "pnp"``, no
        lambda, ``mu`` the intensity smoothness;
        ``parameters["denoiser"]`` and each tile's record say which denoiser
        (path, sha256), mu, sigma and step were used, and whether ``G``
        decreased (``parameters["objective_decreasing"]``; None with ``nonneg``);
        ``history["support"]`` holds ``G`` (``objective``) and
        ``rel_change`` per iteration (single-tile runs).

    Examples
    --------
    >>> from pointillist.simulate import simulate_fluctuation
    >>> optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=1)
    >>> sim = simulate_fluctuation(optics=optics, shape=(16, 16), n_frames=100, n_structures=1, seed=0)
    >>> res = pnp_colorme(sim.stack, optics=optics, offset=100)
    >>> res.support.shape, res.penalty, res.parameters["covariance"]
    ((16, 16), 'pnp', 'diagonal')
    """
    from ...denoisers import load_denoiser
    from ...io.weights import LoadedWeights

    t0 = time.perf_counter()
    check_covariance_inputs(optics, tile_size, block_frames)
    acq = as_acquisition(stack, offset=offset, gain=gain, calibration=calibration).require("PnP-COL0RME",
                                                                                            min_frames=2)
    if covariance is None:
        covariance = "diagonal" if optics.upsample == 1 else "full"
    if covariance not in COVARIANCE_MODELS:
        raise InputError(f"covariance must be one of {', '.join(COVARIANCE_MODELS)}, got {covariance!r}")
    check_parameters(mu, sigma, threshold, tau_factor, max_iter, tol, shifts)
    if denoiser is None:
        denoiser = load_denoiser(weights, device=device or "cpu")
    record = None
    if isinstance(denoiser, LoadedWeights):  # the network and the record of its weights file
        denoiser, record = denoiser.net, denoiser.record
    options = SolverOptions(max_iter=max_iter, tol=tol, record_objective=True)

    def support_step(stats, psi, dev, bar):
        sup = pnp_support(stats, psi, denoiser, covariance=covariance, mu=mu, sigma=sigma, threshold=threshold,
                          tau_factor=tau_factor, nonneg=nonneg, shifts=shifts, options=options, device=dev,
                          progress=bar)
        return sup, {"tau": sup.tau, "objective_decreasing": sup.objective_decreasing,
                     "max_objective_increase": sup.max_objective_increase,
                     "objective_first": sup.history.objective[0], "objective_last": sup.history.objective[-1],
                     "rel_change_last": sup.history.rel_change[-1]}

    run = covariance_tiles(acq, optics, support_step, mu=intensity_mu, beta=beta, dp_mode=dp_mode,
                           background=background, tile_size=tile_size, device=device, progress=progress,
                           desc="PnP-COL0RME iterations", block_frames=block_frames, scheduler=scheduler)
    den_info = {"weights": None if record is None else record.path,
                "sha256": None if record is None else record.sha256,
                "prox_finetuned": None if record is None else record.extra.get("prox_finetuned"),
                "mu": mu, "sigma": sigma, "threshold": threshold, "tau_factor": tau_factor, "nonneg": nonneg,
                "shifts": shifts}
    params = {
        "method": "pnp-colorme", "covariance": covariance, "denoiser": den_info, "intensity_mu": intensity_mu,
        "beta": beta, "dp_mode": dp_mode, "background": background, **acq.calibration.as_dict(),
        "tile_size": tile_size, "tile_margin": run.margin, "block_frames": block_frames,
        "max_iter": max_iter, "tol": tol,
        "device": str(run.device), "optics": optics.as_dict(), "n_frames": run.n_frames,
        "objective_decreasing": None if nonneg else all(t["objective_decreasing"] for t in run.tiles
                                                        if not t.get("empty")),
    }
    return PnPResult(
        support=run.support, intensity=run.intensity, background=run.background, variance_map=run.variance_map,
        noise_variance=run.median("noise_variance"), lam=None, lambda_ratio=None, lambda_max=None,
        mu=run.median("mu"), penalty="pnp", method="pnp-colorme", optics=optics, calibration=acq.calibration,
        seconds=time.perf_counter() - t0, n_frames=run.n_frames, iterations=run.iterations, parameters=params,
        tiles=run.tiles, history=run.history, mean=run.mean,
    )
