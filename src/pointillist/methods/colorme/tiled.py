"""The COL0RME pipeline on one field, tile by tile: covariance statistics, a support step, the intensity step.

Shared by COL0RME and by the methods that replace only its support step
(PnP-COL0RME). Each tile is a lazy window of the acquisition
(:mod:`pointillist.tiles` cuts and stitches); from the statistics to the
intensity the data stay in torch on the chosen device, and only the
stitched images are NumPy arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..._device import resolve_device
from ...errors import InputError
from ...optics import Optics
from ...tiles import TileOutput, run_tiles, tile_margin
from .intensity import estimate_intensity

__all__ = ["CovarianceRun", "covariance_tiles", "check_covariance_inputs", "DEFAULT_TILE_SIZE", "DEFAULT_BLOCK_FRAMES"]

#: camera pixels per tile side (with its overlap); see docs/benchmarks.md
DEFAULT_TILE_SIZE = 64
#: frames per block of the covariance (each block centred on its own mean; see ``covariance_statistics``):
#: removes the correlation that bleaching adds between all pixels (docs/benchmarks.md, robustness suite)
DEFAULT_BLOCK_FRAMES = 100


@dataclass
class CovarianceRun:
    """Stitched outputs of :func:`covariance_tiles` and the per-tile records.

    ``support``, ``intensity`` and ``variance_map`` are on the fine grid,
    ``background`` and ``mean`` (the calibrated mean frame) on the camera grid.
    """

    support: np.ndarray
    intensity: np.ndarray
    background: np.ndarray
    variance_map: np.ndarray
    mean: np.ndarray
    tiles: list
    history: dict
    iterations: int
    n_frames: int
    margin: int
    device: object

    def median(self, key) -> float:
        """Median of a per-tile scalar over the tiles that were solved."""
        return float(np.median([t[key] for t in self.tiles if not t.get("empty")]))


def check_covariance_inputs(optics, tile_size, block_frames=None) -> None:
    """Checks of the options the covariance-domain methods share (the stack is the acquisition's business).

    Parameters
    ----------
    optics : Optics
        Must be a :class:`~pointillist.optics.Optics` with a Gaussian PSF
        (``psf_fwhm_nm``).
    tile_size : int
        Camera pixels per tile side; at least 16.
    block_frames : int or None
        Frames per covariance block: at least 2, or None for the whole stack.

    Returns
    -------
    None
        Returns when the options are valid.

    Raises
    ------
    InputError
        Naming the option that is wrong and how to fix it.
    """
    if not isinstance(optics, Optics):
        raise InputError("optics must be a pointillist.optics.Optics")
    if not optics.is_gaussian:
        raise InputError("COL0RME needs a Gaussian PSF (--psf-fwhm): its covariance operator uses a separable PSF")
    if int(tile_size) < 16:
        raise InputError(f"tile_size must be at least 16 camera pixels, got {tile_size}")
    if block_frames is not None and (int(block_frames) != block_frames or block_frames < 2):
        raise InputError(f"block_frames must be a whole number of frames >= 2, or None for the whole stack; "
                         f"got {block_frames}")


def covariance_tiles(acquisition, optics: Optics, support_step, *, mu, beta, dp_mode, background, tile_size,
                     device, progress, desc, block_frames: int | None = DEFAULT_BLOCK_FRAMES) -> CovarianceRun:
    """Covariance statistics, a support step and COL0RME's intensity step, tile by tile, stitched.

    Parameters
    ----------
    acquisition : Acquisition
        The calibrated frames (at least 2).
    optics : Optics
    support_step : callable
        ``support_step(stats, psi, device, progress_bar)`` returns a result
        with ``support``, ``variance_map`` (tensors), ``noise_variance``,
        ``n_iter``, ``converged`` and ``history``, and a dict of scalars for
        the tile record.
    mu, beta, dp_mode, background :
        The intensity step's options (see ``estimate_intensity``).
    tile_size : int
        Camera pixels per tile side.
    block_frames : int or None
        Frames per block of the covariance (None: the whole stack).
    device : str or torch.device
    progress : bool
        Show a progress bar of the iterations.
    desc : str
        The progress bar's label.

    Returns
    -------
    CovarianceRun
    """
    from ...covariance import covariance_statistics
    from ...operators import imaging_operator

    dev = resolve_device(device)
    q = optics.upsample
    margin = tile_margin(optics.sigma_px)
    n_frames = acquisition.n_frames
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(desc=desc, unit="it", total=None, leave=False, disable=None)

    def solve(window, tile):
        psi = imaging_operator(optics, window.frame_shape)
        stats = covariance_statistics(window, psi, device=dev, block=block_frames)
        if stats.scale <= 0 or not math.isfinite(stats.scale):
            return None
        sup, extra = support_step(stats, psi, dev, bar)
        inten = estimate_intensity(psi, stats.mean, sup.support, noise_variance=sup.noise_variance,
                                   n_frames=n_frames, mu=mu, beta=beta, dp_mode=dp_mode,
                                   fit_background=background, device=dev)
        out = TileOutput(
            fine={"support": sup.support.cpu().numpy(), "intensity": inten.intensity,
                  "variance_map": sup.variance_map.cpu().numpy()},
            coarse={"background": inten.background, "mean": stats.mean.cpu().numpy()},
            record={"noise_variance": sup.noise_variance, "mu": inten.mu, "dp_satisfied": inten.dp_satisfied,
                    "iterations": sup.n_iter, "converged": sup.converged, **extra},
            extra={"support_history": sup.history.as_dict(), "intensity_history": inten.history})
        return out

    try:
        run = run_tiles(acquisition, solve, tile_size=tile_size, margin=margin, upsample=q)
    finally:
        if bar is not None:
            bar.close()
    solved = [o for o in run.outputs if o is not None]
    if not solved:
        raise InputError("the stack is constant in time: there are no fluctuations to analyse")
    if len(run.tiles) == 1:
        history = {"support": solved[0].extra["support_history"], "intensity": solved[0].extra["intensity_history"]}
    else:
        # objective and relative change of every tile's support solve (convergence figures)
        history = {"tiles": [{k: o.extra["support_history"][k] for k in ("objective", "rel_change")} for o in solved]}
    h, w = acquisition.frame_shape
    fine_zero, coarse_zero = np.zeros((h * q, w * q)), np.zeros((h, w))
    return CovarianceRun(
        support=run.fine.get("support", fine_zero.astype(bool)), intensity=run.fine.get("intensity", fine_zero),
        background=run.coarse.get("background", coarse_zero), variance_map=run.fine.get("variance_map", fine_zero),
        mean=run.coarse.get("mean", coarse_zero), tiles=run.records, history=history,
        iterations=sum(r["iterations"] for r in run.solved), n_frames=n_frames, margin=margin, device=dev)
