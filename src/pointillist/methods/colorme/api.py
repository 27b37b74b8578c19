"""``colorme(stack, optics=...)``: support, intensity and background, tile by tile."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..._device import resolve_device
from ...errors import InputError
from ...optics import Optics
from ...solvers import SolverOptions
from .intensity import estimate_intensity
from .support import PENALTIES, estimate_support

__all__ = ["ColormeResult", "colorme", "tile_layout", "run_tiles", "TiledRun", "validate_common", "DEFAULT_TILE_SIZE",
           "DEFAULT_RESTARTS"]

#: camera pixels per tile side (with its overlap); see docs/benchmarks.md
DEFAULT_TILE_SIZE = 64
#: CEL0 restarting strategy off by default: +2-3 Jaccard points but 20-40x the time (docs/benchmarks.md)
DEFAULT_RESTARTS = 0


@dataclass
class ColormeResult:
    """What ``colorme`` returns (fine grid = camera grid x ``optics.upsample``).

    Attributes
    ----------
    support : bool ndarray (qH, qW)
    intensity : ndarray (qH, qW)
        Mean emitted intensity per frame in each fine pixel, in the stack's
        units after calibration (photons if ``offset``/``gain`` were given).
    background : ndarray (H, W)
    variance_map : ndarray (qH, qW)
        The estimated emitter variance ``r`` (support step).
    noise_variance : float
        ``s``, median over tiles (per-tile values in ``tiles``).
    lam, lambda_ratio, lambda_max, mu : float
        Parameters used (medians over tiles when tiled; ``lam`` on the
        normalised covariance scale; None for PnP-COL0RME, which has no
        lambda). ``mu`` is the intensity smoothness.
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
    optics: Optics
    seconds: float
    iterations: int
    parameters: dict = field(default_factory=dict)
    tiles: list = field(default_factory=list, repr=False)
    history: dict = field(default_factory=dict, repr=False)

    def summary(self) -> dict:
        """JSON-friendly scalars for ``run.json`` (PnP-COL0RME: ``intensity_mu`` and ``denoiser_mu``, not ``mu``)."""
        out = self._summary()
        if self.penalty == "pnp":
            out["intensity_mu"] = out.pop("mu")
            out["denoiser_mu"] = self.parameters["denoiser"]["mu"]
            out["denoiser_sigma"] = self.parameters["denoiser"]["sigma"]
            out["convergence"] = self.history.get("tiles") or [
                {k: self.history["support"][k] for k in ("objective", "rel_change")}]
        return out

    def _summary(self) -> dict:
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


def tile_layout(size: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """Split ``range(size)`` into tiles ``(start, stop, core_start, core_stop)``.

    Cores partition the axis; each tile is its core grown by ``margin`` on
    both sides (clipped), so every kept pixel was reconstructed at least
    ``margin`` pixels away from a tile edge (except at the image edge).

    Examples
    --------
    >>> tile_layout(100, 64, 6)
    [(0, 56, 0, 50), (44, 100, 50, 100)]
    """
    if size <= tile:
        return [(0, size, 0, size)]
    core = tile - 2 * margin
    if core < 8:
        raise InputError(f"tile size {tile} is too small for an overlap of {margin} pixels on each side")
    n = math.ceil(size / core)
    edges = np.linspace(0, size, n + 1).round().astype(int)
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        out.append((max(0, int(a) - margin), min(size, int(b) + margin), int(a), int(b)))
    return out


def _validate_stack(stack) -> tuple[int, int, int]:
    if not hasattr(stack, "ndim") or not hasattr(stack, "shape"):
        stack = np.asarray(stack)
    if stack.ndim != 3:
        raise InputError(f"COL0RME needs a stack of frames (frames, rows, columns), got shape {tuple(stack.shape)}")
    t, h, w = stack.shape
    if t < 2:
        raise InputError(f"COL0RME needs at least 2 frames to estimate a covariance, got {t}")
    if h < 4 or w < 4:
        raise InputError(f"frames of {h} x {w} pixels are too small (at least 4 x 4)")
    if np.asarray(stack[:1]).dtype.kind not in "biuf":
        raise InputError(f"the stack must hold real numbers, got dtype {np.asarray(stack[:1]).dtype}")
    return t, h, w


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
    offset: float = 0.0,
    gain: float = 1.0,
    tile_size: int = DEFAULT_TILE_SIZE,
    max_iter: int = 3000,
    tol: float = 1e-5,
    device=None,
    progress: bool = False,
) -> ColormeResult:
    """COL0RME: sparse support from the covariance of the frames, then intensity on it.

    Parameters
    ----------
    stack : array (T, H, W)
        The frames (any real dtype; a memory map is read chunk by chunk).
    optics : Optics
        Camera pixel size, Gaussian PSF and super-resolution factor q.
    penalty : {"cel0", "l1", "tv"}
        Regulariser of the support step.
    lambda_ratio : float, optional
        lambda / lambda_max (default per penalty, see
        ``pointillist.colorme.support.DEFAULT_LAMBDA_RATIO``).
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
    offset, gain : float
        Camera calibration, photons = (ADU - offset) / gain (never guessed).
    tile_size : int
        Camera pixels per tile side; larger fields are processed in
        overlapping tiles and stitched.
    device : str, optional
        "cpu" (default), "cuda" or "auto".

    Examples
    --------
    >>> from pointillist.simulate import simulate_fluctuation
    >>> optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
    >>> sim = simulate_fluctuation(optics=optics, shape=(16, 16), n_frames=100, n_structures=1, seed=0)
    >>> res = colorme(sim.stack, optics=optics, offset=100)
    >>> res.support.shape, res.intensity.shape, res.background.shape
    ((64, 64), (64, 64), (16, 16))
    """
    from ...operators.covariance import CovarianceOperator

    t0 = time.perf_counter()
    validate_common(stack, optics, offset=offset, gain=gain, tile_size=tile_size)
    if penalty not in PENALTIES:
        raise InputError(f"penalty must be one of {', '.join(PENALTIES)}, got {penalty!r}")
    if restarts is None:
        restarts = DEFAULT_RESTARTS if penalty == "cel0" else 0
    if int(restarts) < 0:
        raise InputError(f"restarts must be a non-negative integer, got {restarts}")
    options = SolverOptions(max_iter=max_iter, tol=tol, record_objective=True)

    def support_step(stats, psi, dev, bar):
        sup = estimate_support(stats, CovarianceOperator(psi), penalty=penalty, lambda_ratio=lambda_ratio,
                               lambda_mode=lambda_mode, algorithm=algorithm, restarts=restarts,
                               threshold=threshold, options=options, device=dev, progress=bar)
        return sup, {"lambda": sup.lam, "lambda_max": sup.lambda_max, "lambda_ratio": sup.lambda_ratio,
                     "runs": sup.runs}

    run = run_tiles(stack, optics, support_step, mu=mu, beta=beta, dp_mode=dp_mode, background=background,
                    offset=offset, gain=gain, tile_size=tile_size, device=device, progress=progress,
                    desc="COL0RME iterations")

    params = {
        "penalty": penalty, "lambda_ratio": lambda_ratio, "lambda_mode": lambda_mode, "algorithm": algorithm,
        "restarts": restarts, "threshold": threshold, "mu": mu, "beta": beta, "dp_mode": dp_mode,
        "background": background, "offset": offset, "gain": gain, "tile_size": tile_size, "tile_margin": run.margin,
        "max_iter": max_iter, "tol": tol, "device": str(run.device), "optics": optics.as_dict(),
        "n_frames": run.n_frames,
    }
    return ColormeResult(
        support=run.support, intensity=run.intensity, background=run.background, variance_map=run.variance_map,
        noise_variance=run.median("noise_variance"), lam=run.median("lambda"), lambda_ratio=run.median("lambda_ratio"),
        lambda_max=run.median("lambda_max"), mu=run.median("mu"), penalty=penalty, optics=optics,
        seconds=time.perf_counter() - t0, iterations=run.iterations, parameters=params, tiles=run.tiles,
        history=run.history,
    )


def validate_common(stack, optics, *, offset, gain, tile_size) -> tuple[int, int, int]:
    """Checks shared by the covariance-domain methods; returns ``(T, H, W)``."""
    if not isinstance(optics, Optics):
        raise InputError("optics must be a pointillist.optics.Optics")
    if not optics.is_gaussian:
        raise InputError("COL0RME needs a Gaussian PSF (--psf-fwhm): its covariance operator uses a separable PSF")
    if not gain > 0 or not math.isfinite(offset):
        raise InputError(f"gain must be positive and offset finite, got gain={gain}, offset={offset}")
    if int(tile_size) < 16:
        raise InputError(f"tile_size must be at least 16 camera pixels, got {tile_size}")
    return _validate_stack(stack)


@dataclass
class TiledRun:
    """Stitched outputs of ``run_tiles`` and the per-tile records."""

    support: np.ndarray
    intensity: np.ndarray
    background: np.ndarray
    variance_map: np.ndarray
    tiles: list
    history: dict
    iterations: int
    n_frames: int
    margin: int
    device: object

    def median(self, key) -> float:
        return float(np.median([t[key] for t in self.tiles if not t.get("empty")]))


def run_tiles(stack, optics: Optics, support_step, *, mu, beta, dp_mode, background, offset, gain, tile_size,
              device, progress, desc) -> TiledRun:
    """Covariance statistics, a support step and COL0RME's intensity step, tile by tile, stitched.

    ``support_step(stats, psi, device, progress_bar)`` returns a result
    with ``support``, ``variance_map``, ``noise_variance``, ``n_iter``,
    ``converged`` and ``history``, and a dict of scalars for the tile record.
    """
    from ...covariance import covariance_statistics
    from ...operators import imaging_operator

    n_frames, h, w = _validate_stack(stack)
    dev = resolve_device(device)
    q = optics.upsample
    margin = int(math.ceil(3 * optics.sigma_px)) + 1
    rows, cols = tile_layout(h, tile_size, margin), tile_layout(w, tile_size, margin)
    support = np.zeros((h * q, w * q), dtype=bool)
    intensity = np.zeros((h * q, w * q))
    variance_map = np.zeros((h * q, w * q))
    bg = np.zeros((h, w))
    tiles, history = [], {}
    total_iter = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(desc=desc, unit="it", total=None, leave=False, disable=None)
    try:
        for r0, r1, cr0, cr1 in rows:
            for c0, c1, cc0, cc1 in cols:
                sub = _TileView(stack, r0, r1, c0, c1)
                psi = imaging_operator(optics, (r1 - r0, c1 - c0))
                stats = covariance_statistics(sub, psi, device=dev)
                stats = _calibrate(stats, offset, gain)
                if stats.scale <= 0 or not math.isfinite(stats.scale):
                    if len(rows) * len(cols) == 1:
                        raise InputError("the stack is constant in time: there are no fluctuations to analyse")
                    tiles.append({"rows": [r0, r1], "cols": [c0, c1], "empty": True})
                    continue
                sup, extra = support_step(stats, psi, dev, bar)
                inten = estimate_intensity(psi, stats.mean, sup.support, noise_variance=sup.noise_variance,
                                           n_frames=n_frames, mu=mu, beta=beta, dp_mode=dp_mode,
                                           fit_background=background, device=dev)
                total_iter += sup.n_iter
                fr = slice((cr0 - r0) * q, (cr1 - r0) * q)
                fc = slice((cc0 - c0) * q, (cc1 - c0) * q)
                out_r, out_c = slice(cr0 * q, cr1 * q), slice(cc0 * q, cc1 * q)
                support[out_r, out_c] = sup.support[fr, fc]
                intensity[out_r, out_c] = inten.intensity[fr, fc]
                variance_map[out_r, out_c] = sup.variance_map[fr, fc]
                bg[cr0:cr1, cc0:cc1] = inten.background[cr0 - r0 : cr1 - r0, cc0 - c0 : cc1 - c0]
                tiles.append({
                    "rows": [r0, r1], "cols": [c0, c1], "noise_variance": sup.noise_variance, "mu": inten.mu,
                    "dp_satisfied": inten.dp_satisfied, "iterations": sup.n_iter, "converged": sup.converged,
                    **extra,
                })
                if len(rows) * len(cols) == 1:
                    history = {"support": sup.history.as_dict(), "intensity": inten.history}
                else:
                    # objective and relative change of every tile's support solve (convergence figures)
                    h_tile = sup.history.as_dict()
                    history.setdefault("tiles", []).append(
                        {"objective": h_tile["objective"], "rel_change": h_tile["rel_change"]})
    finally:
        if bar is not None:
            bar.close()
    if not any(not t.get("empty") for t in tiles):
        raise InputError("the stack is constant in time: there are no fluctuations to analyse")
    return TiledRun(support=support, intensity=intensity, background=bg, variance_map=variance_map, tiles=tiles,
                    history=history, iterations=total_iter, n_frames=n_frames, margin=margin, device=dev)


class _TileView:
    """A lazy (frames, rows, cols) window of a stack: slices read only what they need."""

    def __init__(self, stack, r0, r1, c0, c1):
        self.stack, self.r0, self.r1, self.c0, self.c1 = stack, r0, r1, c0, c1
        self.shape = (stack.shape[0], r1 - r0, c1 - c0)
        self.ndim = 3

    def __getitem__(self, frames):
        block = np.asarray(self.stack[frames, self.r0 : self.r1, self.c0 : self.c1], dtype=np.float64)
        if not np.all(np.isfinite(block)):
            raise InputError("the stack contains NaN or infinite values")
        return block


def _calibrate(stats, offset, gain):
    """Statistics of (ADU - offset) / gain from those of the ADU (exact rescaling)."""
    from dataclasses import replace

    if offset == 0 and gain == 1:
        return stats
    g2 = gain * gain
    return replace(
        stats, v=stats.v / g2, trace=stats.trace / g2, frob2=None if stats.frob2 is None else stats.frob2 / g2**2,
        variance=stats.variance / g2, mean=(stats.mean - offset) / gain,
    )
