"""Emitter structures in continuous coordinates (nm).

Every function returns an ``(n, 2)`` array of ``(x, y)`` positions in nm in
a field of view ``fov_nm = (height, width)`` (pixel convention of
pointillist: x along columns, y along rows, origin at the top-left corner).
"""

from __future__ import annotations

import numpy as np

from .._rng import RNGLike, as_rng
from ..errors import InputError

__all__ = ["filaments", "random_points", "rings", "emitter_pair", "emitter_circle", "STRUCTURES"]


def _fov(fov_nm) -> tuple[float, float]:
    try:
        h, w = (float(v) for v in fov_nm)
    except (TypeError, ValueError):
        raise InputError(f"fov_nm must be (height, width) in nm, got {fov_nm!r}") from None
    if not (h > 0 and w > 0):
        raise InputError(f"fov_nm must be positive, got {fov_nm!r}")
    return h, w


def _positive(value, name):
    if not (np.isfinite(value) and value > 0):
        raise InputError(f"{name} must be positive, got {value!r}")


def filaments(
    n: int,
    *,
    fov_nm,
    spacing_nm: float = 5.0,
    persistence_nm: float = 3000.0,
    diameter_nm: float = 0.0,
    margin_nm: float = 0.0,
    rng: RNGLike = None,
) -> np.ndarray:
    """Smooth random curves (a worm-like chain) crossing the field of view.

    Each filament starts at a random point, grows in both directions with a
    heading that diffuses with variance ``spacing / persistence`` per step,
    and stops where it leaves the field (shrunk by ``margin_nm``). Emitters
    sit every ``spacing_nm`` along the curve. With ``diameter_nm > 0`` the
    filament is a hollow tube (like a microtubule) seen in projection: each
    emitter is displaced across the axis by ``diameter/2 * cos(theta)``,
    ``theta`` uniform.

    Parameters
    ----------
    n : int
        Number of filaments.
    fov_nm : (float, float)
        Field of view ``(height, width)`` in nm.
    spacing_nm : float, default 5.0
        Distance between consecutive emitters along a filament.
    persistence_nm : float, default 3000.0
        Persistence length: larger is straighter.
    diameter_nm : float, default 0.0
        Tube diameter (0: a thin curve).
    margin_nm : float, default 0.0
        The curves stop this far from the border of the field.
    rng : int, numpy.random.Generator or None
        Starts, headings, turns and tube offsets.

    Returns
    -------
    ndarray of float64, shape (n_emitters, 2)
        Emitter positions ``(x, y)`` in nm, filament after filament.

    Examples
    --------
    >>> xy = filaments(3, fov_nm=(2000, 2000), rng=0)
    >>> xy.shape[1], bool(xy.min() >= 0 and xy.max() <= 2000)
    (2, True)
    """
    h, w = _fov(fov_nm)
    _positive(spacing_nm, "spacing_nm")
    _positive(persistence_nm, "persistence_nm")
    if n < 0 or diameter_nm < 0 or margin_nm < 0 or 2 * margin_nm >= min(h, w):
        raise InputError("filaments: n, diameter_nm and margin_nm must be non-negative and the margin smaller than the field")
    rng = as_rng(rng)
    lo = np.array([margin_nm, margin_nm])
    hi = np.array([w - margin_nm, h - margin_nm])
    max_steps = int(4 * (h + w) / spacing_nm) + 1
    out = []
    for _ in range(n):
        start = lo + rng.random(2) * (hi - lo)
        heading = rng.uniform(0, 2 * np.pi)
        halves = []
        for direction in (0.0, np.pi):
            turns = rng.normal(0.0, np.sqrt(spacing_nm / persistence_nm), max_steps)
            angles = heading + direction + np.cumsum(turns)
            steps = spacing_nm * np.stack([np.cos(angles), np.sin(angles)], axis=1)
            path = start + np.cumsum(steps, axis=0)
            inside = np.all((path >= lo) & (path <= hi), axis=1)
            stop = np.argmin(inside) if not inside.all() else len(inside)
            halves.append(path[:stop])
        curve = np.concatenate([halves[1][::-1], start[None], halves[0]])
        if diameter_nm > 0:
            tangent = np.gradient(curve, axis=0)
            norm = np.linalg.norm(tangent, axis=1, keepdims=True)
            normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1) / np.maximum(norm, 1e-12)
            offset = 0.5 * diameter_nm * np.cos(rng.uniform(0, 2 * np.pi, len(curve)))
            curve = np.clip(curve + normal * offset[:, None], lo, hi)
        out.append(curve)
    return np.concatenate(out) if out else np.zeros((0, 2))


def random_points(n: int, *, fov_nm, margin_nm: float = 0.0, rng: RNGLike = None) -> np.ndarray:
    """``n`` points uniformly distributed in the field (minus a margin).

    Parameters
    ----------
    n : int
        Number of points.
    fov_nm : (float, float)
        ``(height, width)`` of the field in nm.
    margin_nm : float, default 0.0
        No point is closer than this to the border.
    rng : int, numpy.random.Generator or None
        Draws the positions.

    Returns
    -------
    ndarray of float64, shape (n, 2)
        ``(x, y)`` of each point in nm.

    Examples
    --------
    >>> random_points(4, fov_nm=(100, 200), rng=1).shape
    (4, 2)
    """
    h, w = _fov(fov_nm)
    if n < 0 or margin_nm < 0 or 2 * margin_nm >= min(h, w):
        raise InputError("random_points: n and margin_nm must be non-negative and the margin smaller than the field")
    rng = as_rng(rng)
    u = rng.random((n, 2))
    return np.stack([margin_nm + u[:, 0] * (w - 2 * margin_nm), margin_nm + u[:, 1] * (h - 2 * margin_nm)], axis=1)


def rings(
    n: int, *, fov_nm, radius_nm: float = 250.0, spacing_nm: float = 5.0, margin_nm: float = 0.0, rng: RNGLike = None
) -> np.ndarray:
    """``n`` circles of radius ``radius_nm`` with emitters every ``spacing_nm``, centres at random.

    Parameters
    ----------
    n : int
        Number of rings.
    fov_nm : (float, float)
        Field ``(height, width)`` in nm; every ring lies inside it.
    radius_nm : float, default 250.0
        Radius of every ring.
    spacing_nm : float, default 5.0
        Distance between neighbouring emitters on a ring (at least 3 per ring).
    margin_nm : float, default 0.0
        Gap between the rings and the border of the field.
    rng : int, numpy.random.Generator or None
        Draws the centres.

    Returns
    -------
    ndarray of float64, shape (n * emitters per ring, 2)
        Emitter positions ``(x, y)`` in nm, ring after ring.

    Examples
    --------
    >>> xy = rings(1, fov_nm=(1000, 1000), radius_nm=100, rng=0)
    >>> c = xy.mean(axis=0); bool(np.allclose(np.hypot(*(xy - c).T), 100, atol=1e-6))
    True
    """
    _positive(radius_nm, "radius_nm")
    _positive(spacing_nm, "spacing_nm")
    h, w = _fov(fov_nm)
    inner = margin_nm + radius_nm
    if 2 * inner >= min(h, w):
        raise InputError(f"rings of radius {radius_nm} nm do not fit in the field {fov_nm} nm")
    centres = random_points(n, fov_nm=(h, w), margin_nm=inner, rng=rng)
    k = max(3, int(round(2 * np.pi * radius_nm / spacing_nm)))
    theta = 2 * np.pi * np.arange(k) / k
    ring = radius_nm * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return (centres[:, None, :] + ring[None]).reshape(-1, 2) if n else np.zeros((0, 2))


def emitter_pair(separation_nm: float, *, center_nm) -> np.ndarray:
    """Two emitters on one column (same x), ``separation_nm`` apart in y (DeepCEL0 tests 1a, 2a).

    Parameters
    ----------
    separation_nm : float
        Distance between the two emitters.
    center_nm : (float, float)
        ``(x, y)`` of their midpoint in nm.

    Returns
    -------
    ndarray of float64, shape (2, 2)
        ``(x, y)`` positions in nm, the upper one first.

    Examples
    --------
    >>> emitter_pair(25.0, center_nm=(100.0, 100.0)).tolist()
    [[100.0, 87.5], [100.0, 112.5]]
    """
    _positive(separation_nm, "separation_nm")
    x, y = (float(v) for v in center_nm)
    return np.array([[x, y - separation_nm / 2], [x, y + separation_nm / 2]])


def emitter_circle(radius_nm: float = 125.0, *, center_nm, n: int = 4) -> np.ndarray:
    """``n`` emitters evenly spaced on a circle (DeepCEL0 test 3a: four on a 125 nm circle).

    Parameters
    ----------
    radius_nm : float, default 125.0
        Radius of the circle.
    center_nm : (float, float)
        ``(x, y)`` of its centre in nm.
    n : int, default 4
        Number of emitters, the first at angle 0 (on the +x side).

    Returns
    -------
    ndarray of float64, shape (n, 2)
        ``(x, y)`` positions in nm.

    Examples
    --------
    >>> emitter_circle(125.0, center_nm=(0.0, 0.0)).round(6).tolist()
    [[125.0, 0.0], [0.0, 125.0], [-125.0, 0.0], [-0.0, -125.0]]
    """
    _positive(radius_nm, "radius_nm")
    x, y = (float(v) for v in center_nm)
    theta = 2 * np.pi * np.arange(n) / n
    return np.stack([x + radius_nm * np.cos(theta), y + radius_nm * np.sin(theta)], axis=1)


STRUCTURES = ("tubes", "filaments", "points", "rings")
