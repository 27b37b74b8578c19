"""Emitter dynamics: SMLM activations per frame, and blinking of fixed emitters."""

from __future__ import annotations

import numpy as np

from .._rng import RNGLike, as_rng
from ..errors import InputError
from ..localizations import Localizations

__all__ = ["smlm_activations", "blinking", "snap_to_grid"]


def smlm_activations(
    pool_xy: np.ndarray,
    *,
    n_frames: int,
    density_per_um2: float,
    area_um2: float,
    photons_mean: float = 2250.0,
    photons_std: float = 250.0,
    rng: RNGLike = None,
) -> Localizations:
    """Which emitters of a structure are on in each frame, and their photons.

    Each frame draws ``Poisson(density * area)`` emitters from ``pool_xy``
    (without replacement while the pool allows), each emitting
    ``Normal(photons_mean, photons_std)`` photons (clipped to at least 1).

    Parameters
    ----------
    pool_xy : ndarray, (n, 2)
        Possible emitter positions ``(x, y)`` in nm (e.g. from ``make_structure``).
    n_frames : int
        Number of frames.
    density_per_um2 : float
        Mean number of active emitters per um^2 per frame.
    area_um2 : float
        Area of the field of view in um^2.
    photons_mean, photons_std : float
        Normal distribution of the photons of an active emitter.
    rng : int, numpy.random.Generator or None
        Counts, picks and photons.

    Returns
    -------
    Localizations
        One row per activation (0-based frames, nm, photons).

    Examples
    --------
    >>> pool = np.random.default_rng(0).random((1000, 2)) * 6400
    >>> locs = smlm_activations(pool, n_frames=3, density_per_um2=6, area_um2=40.96, rng=0)
    >>> locs.n_frames, 150 < len(locs) / 3 < 350
    (3, True)
    """
    rng = as_rng(rng)
    pool_xy = np.asarray(pool_xy, dtype=np.float64)
    if pool_xy.ndim != 2 or pool_xy.shape[1] != 2 or len(pool_xy) == 0:
        raise InputError("the structure has no emitters to activate")
    if n_frames < 1 or not density_per_um2 > 0 or not area_um2 > 0:
        raise InputError("n_frames, density_per_um2 and area_um2 must be positive")
    if photons_mean <= 0 or photons_std < 0:
        raise InputError("photons_mean must be positive and photons_std non-negative")
    counts = rng.poisson(density_per_um2 * area_um2, n_frames)
    frames, picks = [], []
    for t, k in enumerate(counts):
        picks.append(rng.choice(len(pool_xy), size=k, replace=k > len(pool_xy)))
        frames.append(np.full(k, t))
    picks = np.concatenate(picks)
    photons = np.maximum(rng.normal(photons_mean, photons_std, picks.size), 1.0)
    return Localizations(frame=np.concatenate(frames), x_nm=pool_xy[picks, 0], y_nm=pool_xy[picks, 1], photons=photons)


def blinking(
    n_emitters: int,
    n_frames: int,
    *,
    on_probability: float = 0.25,
    brightness: float = 500.0,
    model: str = "bernoulli",
    mean_on_frames: float = 1.0,
    rng: RNGLike = None,
) -> np.ndarray:
    """Photons per frame of fixed, independently blinking emitters, shape ``(T, n)``.

    ``model="bernoulli"``: each emitter is on in each frame independently
    with ``on_probability`` and then emits ``brightness`` photons.
    ``model="telegraph"`` (SOFI simulation tool): a continuous-time on/off
    process with exponential on-times of mean ``mean_on_frames`` and
    off-times of mean ``mean_on_frames (1 - p) / p``, started in its
    stationary state; photons = ``brightness`` x the on-time inside the frame.

    Parameters
    ----------
    n_emitters, n_frames : int
        Size of the result.
    on_probability : float, default 0.25
        Probability (bernoulli) or stationary fraction of time (telegraph) on.
    brightness : float, default 500.0
        Photons per frame of an emitter on for the whole frame.
    model : {"bernoulli", "telegraph"}, default "bernoulli"
        The blinking process.
    mean_on_frames : float, default 1.0
        Mean on-time in frames (telegraph only).
    rng : int, numpy.random.Generator or None
        The on/off draws.

    Returns
    -------
    ndarray of float64, shape (n_frames, n_emitters)
        Photons of each emitter in each frame.

    Examples
    --------
    >>> ph = blinking(2000, 200, on_probability=0.3, brightness=100.0, rng=0)
    >>> ph.shape, round(float((ph > 0).mean()), 2)
    ((200, 2000), 0.3)
    """
    rng = as_rng(rng)
    if not 0 < on_probability <= 1:
        raise InputError(f"on_probability must be in (0, 1], got {on_probability}")
    if not brightness > 0:
        raise InputError(f"brightness must be positive (photons per frame), got {brightness}")
    if model == "bernoulli":
        return (rng.random((n_frames, n_emitters)) < on_probability) * float(brightness)
    if model != "telegraph":
        raise InputError(f"blinking model must be 'bernoulli' or 'telegraph', got {model!r}")
    if not mean_on_frames > 0:
        raise InputError(f"mean_on_frames must be positive, got {mean_on_frames}")
    if on_probability == 1:
        return np.full((n_frames, n_emitters), float(brightness))
    t_on = float(mean_on_frames)
    t_off = t_on * (1 - on_probability) / on_probability
    out = np.zeros((n_frames, n_emitters))
    for e in range(n_emitters):
        state = rng.random() < on_probability
        t = 0.0
        while t < n_frames:
            dur = rng.exponential(t_on if state else t_off)
            if state:
                _add_interval(out[:, e], t, min(t + dur, n_frames))
            t += dur
            state = not state
    return out * float(brightness)


def _add_interval(column: np.ndarray, start: float, stop: float) -> None:
    """Add the overlap of [start, stop) with each frame [t, t+1) to ``column``."""
    first, last = int(np.floor(start)), int(np.floor(stop))
    if first == last:
        column[first] += stop - start
        return
    column[first] += first + 1 - start
    column[first + 1 : last] += 1.0
    if last < column.size:
        column[last] += stop - last


def snap_to_grid(xy_nm: np.ndarray, *, shape, pixel_size_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """Unique (row, col) fine-grid pixels containing the points inside the grid, raster order.

    Parameters
    ----------
    xy_nm : ndarray, (n, 2)
        Positions ``(x, y)`` in nm.
    shape : (int, int)
        Grid shape (rows, columns); points outside are dropped.
    pixel_size_nm : float
        Size of a grid pixel in nm.

    Returns
    -------
    rows, cols : ndarray of int64
        One entry per occupied pixel.

    Examples
    --------
    >>> xy = np.array([[30.0, 10.0], [35.0, 12.0], [90.0, 60.0]])  # two in pixel (0, 1), one outside
    >>> rows, cols = snap_to_grid(xy, shape=(2, 2), pixel_size_nm=25.0)
    >>> rows.tolist(), cols.tolist()
    ([0], [1])
    """
    xy_nm = np.asarray(xy_nm, dtype=np.float64)
    rows = np.floor(xy_nm[:, 1] / pixel_size_nm).astype(np.int64)
    cols = np.floor(xy_nm[:, 0] / pixel_size_nm).astype(np.int64)
    keep = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    flat = np.unique(rows[keep] * shape[1] + cols[keep])
    return flat // shape[1], flat % shape[1]
