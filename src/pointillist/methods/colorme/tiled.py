"""The COL0RME pipeline on one field, tile by tile: covariance statistics, a support step, the intensity step.

Shared by COL0RME and by the methods that replace only its support step
(PnP-COL0RME). The field is cut into overlapping tiles
(:mod:`pointillist.tiles`); one streaming pass over the frames gives the
statistics of every tile (each chunk of frames read once for a band of
tiles, the bands and ranges of frames being independent tasks), then each
tile is solved as a task of its own. Tasks run on a
:class:`~pointillist.scheduler.Scheduler`: threads of this process or the
workers of a Dask cluster, with the same bytes either way. From the
statistics to the intensity the data stay in torch on the chosen device,
and only the stitched images are NumPy arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..._device import resolve_device
from ...errors import InputError
from ...optics import Optics
from ...scheduler import Scheduler
from ...tiles import TileOutput, stitch_tiles, tile_grid, tile_margin
from .intensity import estimate_intensity

__all__ = ["CovarianceRun", "covariance_tiles", "tile_statistics", "check_covariance_inputs", "DEFAULT_TILE_SIZE",
           "DEFAULT_BLOCK_FRAMES"]

#: camera pixels per tile side (with its overlap); see docs/benchmarks.md
DEFAULT_TILE_SIZE = 64
#: frames per block of the covariance (each block centred on its own mean; see ``covariance_statistics``):
#: removes the correlation that bleaching adds between all pixels (docs/benchmarks.md, robustness suite)
DEFAULT_BLOCK_FRAMES = 100
#: frames per statistics task (a whole number of blocks): tasks of a long stack run side by side
TASK_FRAMES = 500
#: bytes of tile accumulators one statistics task may hold (tiles of a larger field go in several bands)
BAND_BYTES = 256 * 2**20


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


def _bands(tiles, q: int, *, one_row: bool) -> list[list[int]]:
    """Tiles grouped into bands of whole tile rows whose accumulators fit ``BAND_BYTES`` (one row each with
    ``one_row``, for more tasks on a cluster)."""
    rows: dict[tuple[int, int], list[int]] = {}
    for i, t in enumerate(tiles):
        rows.setdefault((t.r0, t.r1), []).append(i)
    bands, current, size = [], [], 0
    for members in rows.values():
        # mean and m2 on the camera grid, m2_b on the fine grid, twice over while merging
        need = sum(2 * 8 * (2 * math.prod(tiles[i].shape) + math.prod(tiles[i].shape) * q * q) for i in members)
        if current and (one_row or size + need > BAND_BYTES):
            bands.append(current)
            current, size = [], 0
        current, size = current + members, size + need
    bands.append(current)
    return bands


def tile_statistics(acquisition, tiles, optics: Optics, *, block_frames, device=None, scheduler=None,
                    frobenius: bool = False):
    """Covariance statistics of every tile of a field from one pass over the frames.

    The frames are read in chunks of ``block_frames`` (a block of the
    covariance) for a band of tile rows at a time; each chunk's tiles are
    cut from memory. Tasks are (band, range of ``TASK_FRAMES`` frames);
    their :class:`~pointillist.covariance.Moments` are merged in frame
    order, so the statistics are the same bytes whatever ran the tasks.

    Parameters
    ----------
    acquisition : Acquisition
        The calibrated frames.
    tiles : list of Tile
        From :func:`~pointillist.tiles.tile_grid`.
    optics : Optics
    block_frames : int or None
        Frames per covariance block (None: the whole stack).
    device : str or torch.device, optional
    scheduler : Scheduler, optional
        Where the tasks run (default: threads of this process).
    frobenius : bool
        Also accumulate ``|R_y|_F^2`` (small single tiles only).

    Returns
    -------
    handles : list of (band statistics, index)
        One per tile, in the order of ``tiles``: the list of
        CovarianceStats of the tile's band (on ``device``; a future on a
        cluster, kept there for the solve tasks) and the tile's place in it.
    bands : list of list of int
        The tiles of each band.

    Examples
    --------
    >>> from pointillist.acquisition import as_acquisition
    >>> from pointillist.covariance import covariance_statistics
    >>> from pointillist.operators import imaging_operator
    >>> from pointillist.tiles import tile_grid
    >>> optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=2)
    >>> acq = as_acquisition(np.random.default_rng(0).normal(size=(30, 40, 40)))
    >>> tiles = tile_grid((40, 40), 24, 5)
    >>> handles, _ = tile_statistics(acq, tiles, optics, block_frames=None)
    >>> band, j = handles[4]
    >>> t = tiles[4]
    >>> alone = covariance_statistics(acq.window(t.r0, t.r1, t.c0, t.c1), imaging_operator(optics, t.shape))
    >>> bool(np.allclose(band[j].v.numpy(), alone.v.numpy()))
    True
    """
    from ...covariance import window_moments
    from ...covariance.stats import check_frames_and_block
    from ...operators import imaging_operator

    sched = scheduler or Scheduler()
    dev = resolve_device(device)
    n_frames = acquisition.n_frames
    check_frames_and_block(n_frames, block_frames)
    blocked = block_frames is not None and block_frames < n_frames
    step = int(block_frames) if blocked else 64
    span = step * max(1, round(TASK_FRAMES / step))
    width = acquisition.frame_shape[1]
    psis = {}
    for t in tiles:
        psis.setdefault(t.shape, imaging_operator(optics, t.shape))
    bands = _bands(tiles, optics.upsample, one_row=sched.distributed)
    tasks = [(b, a, min(a + span, n_frames)) for b in range(len(bands)) for a in range(0, n_frames, span)]

    def task(item):
        b, a, stop = item
        members = [tiles[i] for i in bands[b]]
        r0, r1 = min(t.r0 for t in members), max(t.r1 for t in members)
        band = acquisition.window(r0, r1, 0, width) if (r0, r1) != (0, acquisition.frame_shape[0]) else acquisition
        windows = [(t.r0 - r0, t.r1 - r0, t.c0, t.c1) for t in members]
        return window_moments(band, windows, [psis[t.shape] for t in members], start=a, stop=stop, step=step,
                              blocked=blocked, cross=frobenius, device=dev)

    one = 1 if dev.type == "cuda" else None
    parts = sched.map(task, tasks, threads=one, keep=True)
    mats = {shape: (torch.as_tensor(p.rows, dtype=torch.float64, device=dev),
                    torch.as_tensor(p.cols, dtype=torch.float64, device=dev)) for shape, p in psis.items()}

    def merge(item):
        # a band's partial moments in frame order, whatever order their tasks ran in
        b, band_parts = item
        out = []
        for j, i in enumerate(bands[b]):
            total = None
            for moments in band_parts:
                m = moments[j].to(dev)
                total = m if total is None else total.merge(m, *mats[tiles[i].shape])
            out.append(total.statistics())
        return out

    per_band = [[p for (b, _, _), p in zip(tasks, parts) if b == k] for k in range(len(bands))]
    merged = sched.map(merge, list(enumerate(per_band)), threads=one, keep=True)
    return [(merged[b], j) for b in range(len(bands)) for j in range(len(bands[b]))], bands


def covariance_tiles(acquisition, optics: Optics, support_step, *, mu, beta, dp_mode, background, tile_size,
                     device, progress, desc, block_frames: int | None = DEFAULT_BLOCK_FRAMES,
                     scheduler: Scheduler | None = None) -> CovarianceRun:
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
        Show a progress bar (of the iterations for one tile, of the tiles otherwise).
    desc : str
        The progress bar's label.
    scheduler : Scheduler, optional
        Where the tasks run (default: threads of this process).

    Returns
    -------
    CovarianceRun
    """
    from ...covariance.stats import MAX_FROBENIUS_PIXELS
    from ...operators import imaging_operator

    sched = scheduler or Scheduler()
    dev = resolve_device(device)
    q = optics.upsample
    margin = tile_margin(optics.sigma_px)
    n_frames = acquisition.n_frames
    h, w = acquisition.frame_shape
    tiles = tile_grid((h, w), tile_size, margin)
    single = len(tiles) == 1
    handles, _ = tile_statistics(acquisition, tiles, optics, block_frames=block_frames, device=dev,
                                 scheduler=sched, frobenius=single and h * w <= MAX_FROBENIUS_PIXELS)
    bar = None
    if progress and single and not sched.distributed:
        from ...progress import progress_bar

        bar = progress_bar(desc=desc)

    def solve(item):
        (band, j), shape = item
        st = band[j]
        if st.scale <= 0 or not math.isfinite(st.scale):
            return None
        psi = imaging_operator(optics, shape)
        sup, extra = support_step(st, psi, dev, bar)
        inten = estimate_intensity(psi, st.mean, sup.support, noise_variance=sup.noise_variance,
                                   n_frames=n_frames, mu=mu, beta=beta, dp_mode=dp_mode,
                                   fit_background=background, device=dev)
        return TileOutput(
            fine={"support": sup.support.cpu().numpy(), "intensity": inten.intensity,
                  "variance_map": sup.variance_map.cpu().numpy()},
            coarse={"background": inten.background, "mean": st.mean.cpu().numpy()},
            record={"noise_variance": sup.noise_variance, "mu": inten.mu, "dp_satisfied": inten.dp_satisfied,
                    "iterations": sup.n_iter, "converged": sup.converged, **extra},
            extra={"support_history": sup.history.as_dict(), "intensity_history": inten.history})

    try:
        outputs = sched.map(solve, [(hd, t.shape) for hd, t in zip(handles, tiles)],
                            threads=1 if dev.type == "cuda" else None, desc=desc.replace("iterations", "tiles"),
                            progress=progress and not single)
    finally:
        if bar is not None:
            bar.close()
    run = stitch_tiles(tiles, outputs, (h, w), q)
    solved = [o for o in run.outputs if o is not None]
    if not solved:
        raise InputError("the stack is constant in time: there are no fluctuations to analyse")
    if single:
        history = {"support": solved[0].extra["support_history"], "intensity": solved[0].extra["intensity_history"]}
    else:
        # objective and relative change of every tile's support solve (convergence figures)
        history = {"tiles": [{k: o.extra["support_history"][k] for k in ("objective", "rel_change")} for o in solved]}
    fine_zero, coarse_zero = np.zeros((h * q, w * q)), np.zeros((h, w))
    return CovarianceRun(
        support=run.fine.get("support", fine_zero.astype(bool)), intensity=run.fine.get("intensity", fine_zero),
        background=run.coarse.get("background", coarse_zero), variance_map=run.fine.get("variance_map", fine_zero),
        mean=run.coarse.get("mean", coarse_zero), tiles=run.records, history=history,
        iterations=sum(r["iterations"] for r in run.solved), n_frames=n_frames, margin=margin, device=dev)
