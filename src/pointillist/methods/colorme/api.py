"""``colorme(stack, optics=...)``: support, intensity and background, tile by tile."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ...acquisition import as_acquisition
from ...errors import InputError
from ...optics import Optics
from ...result import Result
from ...solvers import SolverOptions
from ...tiles import tile_layout
from .support import PENALTIES, estimate_support, support_operator
from .tiled import DEFAULT_BLOCK_FRAMES, DEFAULT_TILE_SIZE, check_covariance_inputs, covariance_tiles

__all__ = ["ColormeResult", "colorme", "tile_layout", "DEFAULT_TILE_SIZE", "DEFAULT_RESTARTS"]

#: CEL0 restarting strategy off by default: +2-3 Jaccard points but 20-40x the time (docs/benchmarks.md)
DEFAULT_RESTARTS = 0


@dataclass(kw_only=True)
class ColormeResult(Result):
    """What ``colorme`` returns (fine grid = camera grid x ``optics.upsample``): the core
    fields of :class:`~pointillist.result.Result` and the following.

    Attributes
    ----------
    support : bool ndarray (qH, qW)
    intensity : ndarray (qH, qW)
        Mean emitted intensity per frame in each fine pixel, in the stack's
        units after calibration (photons if ``offset``/``gain`` were given);
        also ``image``.
    background : ndarray (H, W)
    variance_map : ndarray (qH, qW)
        The estimated emitter variance ``r`` (support step).
    noise_variance : float
        ``s``, median over tiles (per-tile values in ``tiles``).
    lam, lambda_ratio, lambda_max, mu : float
        Parameters used (medians over tiles when tiled; ``lam`` on the
        normalised covariance scale; None for PnP-COL0RME, which has no
        lambda). ``mu`` is the intensity smoothness.
    penalty : str
        The support regulariser (``"pnp"`` for PnP-COL0RME).
    iterations : int
        Support-step iterations, summed over tiles.
    tiles : list of dict
        Per-tile records (rows, columns, parameters, convergence).
    """

    support: np.ndarray
    intensity: np.ndarray
    background: np.ndarray
    variance_map: np.ndarray
    noise_variance: float
    lam: float | None
    lambda_ratio: float | None
    lambda_max: float | None
    mu: float
    penalty: str
    iterations: int
    tiles: list = field(default_factory=list, repr=False)

    @property
    def image(self) -> np.ndarray:
        """The main fine-grid image (``intensity.tif``)."""
        return self.intensity

    def summary(self) -> dict:
        """JSON-friendly scalars for ``run.json``."""
        return {
            "penalty": self.penalty,
            "lambda": self.lam,
            "lambda_ratio": self.lambda_ratio,
            "lambda_max": self.lambda_max,
            "mu": self.mu,
            "noise_variance": self.noise_variance,
            "iterations": self.iterations,
            "seconds": self.seconds,
            "support_pixels": int(self.support.sum()),
            "n_tiles": len(self.tiles),
            "tiles": self.tiles,
            "parameters": self.parameters,
        }


def colorme(
    stack,
    *,
    optics: Optics,
    penalty: str = "cel0",
    lambda_ratio: float | None = None,
    lambda_mode: str = "exact",
    algorithm: str = "irl1",
    restarts: int | None = None,
    threshold: float | None = None,
    mu: float | None = None,
    beta: float = 20.0,
    dp_mode: str = "code",
    background: bool = True,
    offset=None,
    gain=None,
    calibration=None,
    tile_size: int = DEFAULT_TILE_SIZE,
    block_frames: int | None = DEFAULT_BLOCK_FRAMES,
    max_iter: int = 3000,
    tol: float = 1e-5,
    device=None,
    progress: bool = False,
    scheduler=None,
) -> ColormeResult:
    """COL0RME: sparse support from the covariance of the frames, then intensity on it.

    Parameters
    ----------
    stack : array (T, H, W), path or Acquisition
        The frames (any real dtype; a memory map is read chunk by chunk).
    optics : Optics
        Camera pixel size, Gaussian PSF and super-resolution factor q.
    penalty : {"cel0", "l1", "tv"}
        Regulariser of the support step.
    lambda_ratio : float, optional
        lambda / lambda_max (default per penalty, see
        ``pointillist.methods.colorme.support.DEFAULT_LAMBDA_RATIO``).
    lambda_mode : {"exact", "code"}
        lambda_max with the optimal noise variance at r = 0, or the reference code's.
    algorithm : {"irl1", "fista"}
        CEL0 solver.
    restarts : int, optional
        CEL0 restarting strategy: up to this many extra runs started between
        neighbouring support pixels, the support being the union (default
        ``DEFAULT_RESTARTS`` = 0: the benchmark shows +2 to 3 Jaccard points
        for 10 restarts, at 20 to 40 times the run time).
    threshold : float, optional
        Support = r > threshold * max(r).
    mu : float, optional
        Smoothness of the intensity; by the discrepancy principle if omitted.
    beta : float
        Smoothness of the background (reference code: 20).
    dp_mode : {"code", "statistical"}
        Discrepancy target: one frame's noise energy (reference code) or the mean image's.
    background : bool
        Estimate a smooth background (else none).
    offset, gain : float or ndarray, optional
        Camera calibration, photons = (ADU - offset) / gain (never guessed);
        or give ``calibration`` (a :class:`~pointillist.acquisition.Calibration`).
    calibration : Calibration, optional
    tile_size : int
        Camera pixels per tile side; larger fields are processed in
        overlapping tiles and stitched.
    block_frames : int or None
        The covariance is pooled over blocks of this many frames, each
        centred on its own mean, so that bleaching or a drift of the
        illumination does not correlate all pixels (default
        ``DEFAULT_BLOCK_FRAMES`` = 100; None: centre on the mean of the
        whole stack, as the reference code).
    max_iter, tol : int, float
        Iteration cap and tolerance of the support solver.
    device : str, optional
        "cpu" (default), "cuda" or "auto".
    progress : bool
        Show a progress bar of the iterations.
    scheduler : Scheduler, optional
        Where the tiles' tasks run (:mod:`pointillist.scheduler`): threads of
        this process by default, or a Dask cluster; the result is the same bytes.

    Returns
    -------
    ColormeResult
        Support, intensity and variance map on the fine grid, background
        and mean frame on the camera grid, the parameters used.

    Examples
    --------
    >>> from pointillist.simulate import simulate_fluctuation
    >>> optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
    >>> sim = simulate_fluctuation(optics=optics, shape=(16, 16), n_frames=100, n_structures=1, seed=0)
    >>> res = colorme(sim.stack, optics=optics, offset=100)
    >>> res.support.shape, res.intensity.shape, res.background.shape
    ((64, 64), (64, 64), (16, 16))
    """
    t0 = time.perf_counter()
    check_covariance_inputs(optics, tile_size, block_frames)
    acq = as_acquisition(stack, offset=offset, gain=gain, calibration=calibration).require("COL0RME", min_frames=2)
    if penalty not in PENALTIES:
        raise InputError(f"penalty must be one of {', '.join(PENALTIES)}, got {penalty!r}")
    if restarts is None:
        restarts = DEFAULT_RESTARTS if penalty == "cel0" else 0
    if int(restarts) < 0:
        raise InputError(f"restarts must be a non-negative integer, got {restarts}")
    options = SolverOptions(max_iter=max_iter, tol=tol, record_objective=True)

    def support_step(stats, psi, dev, bar):
        sup = estimate_support(stats, support_operator(psi), penalty=penalty, lambda_ratio=lambda_ratio,
                               lambda_mode=lambda_mode, algorithm=algorithm, restarts=restarts,
                               threshold=threshold, options=options, device=dev, progress=bar)
        return sup, {"lambda": sup.lam, "lambda_max": sup.lambda_max, "lambda_ratio": sup.lambda_ratio,
                     "runs": sup.runs}

    run = covariance_tiles(acq, optics, support_step, mu=mu, beta=beta, dp_mode=dp_mode, background=background,
                           tile_size=tile_size, device=device, progress=progress, desc="COL0RME iterations",
                           block_frames=block_frames, scheduler=scheduler)

    params = {
        "penalty": penalty, "lambda_ratio": lambda_ratio, "lambda_mode": lambda_mode, "algorithm": algorithm,
        "restarts": restarts, "threshold": threshold, "mu": mu, "beta": beta, "dp_mode": dp_mode,
        "background": background, **acq.calibration.as_dict(), "tile_size": tile_size, "tile_margin": run.margin,
        "block_frames": block_frames,
        "max_iter": max_iter, "tol": tol, "device": str(run.device), "optics": optics.as_dict(),
        "n_frames": run.n_frames,
    }
    return ColormeResult(
        support=run.support, intensity=run.intensity, background=run.background, variance_map=run.variance_map,
        noise_variance=run.median("noise_variance"), lam=run.median("lambda"), lambda_ratio=run.median("lambda_ratio"),
        lambda_max=run.median("lambda_max"), mu=run.median("mu"), penalty=penalty, method="colorme", optics=optics,
        calibration=acq.calibration, seconds=time.perf_counter() - t0, n_frames=run.n_frames,
        iterations=run.iterations, parameters=params, tiles=run.tiles, history=run.history, mean=run.mean,
    )
