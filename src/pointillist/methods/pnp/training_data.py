"""Clean training images for the PnP denoiser: temporal variance maps of simulated blinking structures.

Each image is a field of ``size x size`` grid pixels holding a random mix
of patterns (filaments, hollow tubes, isolated points, blobs, rings) drawn
with the simulator's structures at a random grid pixel size (so thin
one-pixel lines and wider structures both occur, as on the fine grid of
q = 4 and the camera grid of q = 1). Each pattern gets its own brightness;
the emitters blink (Bernoulli) over a random number of frames, and the
image is the temporal variance of the photons in each grid pixel (the
diagonal of the covariance on that grid, sampling noise included),
normalised to [0, 1] by its maximum.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..._rng import RNGLike, as_rng
from ...errors import InputError
from ...simulate.dynamics import blinking
from ...simulate.structures import filaments, random_points, rings

__all__ = ["VarianceImageSettings", "PATTERNS", "simulate_variance_images", "variance_image"]

PATTERNS = ("filaments", "tubes", "points", "blobs", "rings")


@dataclass(frozen=True)
class VarianceImageSettings:
    """How the clean variance images are drawn (defaults: the shipped denoiser's)."""

    size: int = 96
    pixel_nm: tuple[float, float] = (20.0, 100.0)
    frames: tuple[int, int] = (200, 800)
    on_probability: tuple[float, float] = (0.1, 0.4)
    patterns_per_image: tuple[int, int] = (1, 4)

    def __post_init__(self):
        if self.size < 16:
            raise InputError(f"training images must be at least 16 pixels wide, got {self.size}")
        lo, hi = self.frames
        if lo < 2 or hi < lo:
            raise InputError(f"frames must be a range (low, high) with low >= 2, got {self.frames}")

    def as_dict(self) -> dict:
        return asdict(self)


def _pattern(kind: str, fov, px: float, rng: np.random.Generator) -> np.ndarray:
    h, _ = fov
    if kind in ("filaments", "tubes"):
        return filaments(int(rng.integers(1, 4)), fov_nm=fov, spacing_nm=px / 4,
                         persistence_nm=float(rng.uniform(0.3, 3.0)) * h,
                         diameter_nm=float(rng.uniform(2, 5)) * px if kind == "tubes" else 0.0, rng=rng)
    if kind == "points":
        return random_points(int(rng.integers(5, 60)), fov_nm=fov, rng=rng)
    if kind == "blobs":
        centres = random_points(int(rng.integers(2, 12)), fov_nm=fov, rng=rng)
        out = []
        for c in centres:
            radius = float(rng.uniform(1.0, 4.0)) * px
            n = int(rng.integers(10, 80))
            out.append(c + rng.normal(scale=radius, size=(n, 2)))
        return np.concatenate(out)
    if kind == "rings":
        radius = float(rng.uniform(2.0, 10.0)) * px
        if 2 * radius >= 0.9 * h:
            radius = 0.4 * h
        return rings(int(rng.integers(1, 6)), fov_nm=fov, radius_nm=radius, spacing_nm=px / 4, rng=rng)
    raise InputError(f"pattern must be one of {', '.join(PATTERNS)}, got {kind!r}")


def variance_image(settings: VarianceImageSettings, rng: RNGLike = None) -> np.ndarray:
    """One clean image: temporal variance per grid pixel of blinking patterns, max-normalised (float32).

    Parameters
    ----------
    settings : VarianceImageSettings
        Image size in grid pixels and the ranges of the grid pixel size (nm),
        the number of frames, the on-probability and the patterns per image.
    rng : int, numpy.random.Generator or None
        Seed or generator.

    Returns
    -------
    ndarray (size, size) float32
        Values in [0, 1] with maximum 1 (a draw that leaves the field empty
        is repeated).

    Examples
    --------
    >>> img = variance_image(VarianceImageSettings(size=32), rng=0)
    >>> img.shape, float(img.max()), bool(img.min() >= 0)
    ((32, 32), 1.0, True)
    """
    rng = as_rng(rng)
    n = settings.size
    while True:
        px = float(rng.uniform(*settings.pixel_nm))
        fov = (n * px, n * px)
        n_frames = int(rng.integers(settings.frames[0], settings.frames[1] + 1))
        p = float(rng.uniform(*settings.on_probability))
        kinds = rng.choice(PATTERNS, size=int(rng.integers(settings.patterns_per_image[0],
                                                           settings.patterns_per_image[1] + 1)))
        pix, photons = [], []
        for kind in kinds:
            xy = _pattern(str(kind), fov, px, rng)
            rows, cols = np.floor(xy[:, 1] / px).astype(int), np.floor(xy[:, 0] / px).astype(int)
            keep = (rows >= 0) & (rows < n) & (cols >= 0) & (cols < n)
            if not keep.any():
                continue
            pix.append(rows[keep] * n + cols[keep])
            photons.append(blinking(int(keep.sum()), n_frames, on_probability=p,
                                    brightness=float(rng.uniform(0.2, 1.0)), rng=rng))
        if not pix:
            continue
        pix = np.concatenate(pix)
        photons = np.concatenate(photons, axis=1)
        # photons of the emitters that share a grid pixel add up before the variance is taken
        order = np.argsort(pix, kind="stable")
        pix, photons = pix[order], photons[:, order]
        first = np.flatnonzero(np.r_[True, pix[1:] != pix[:-1]])
        per_pixel = np.add.reduceat(photons, first, axis=1)
        img = np.zeros(n * n)
        img[pix[first]] = per_pixel.var(axis=0, ddof=1)
        if img.max() > 0:
            return (img / img.max()).reshape(n, n).astype(np.float32)


def simulate_variance_images(n_images: int, settings: VarianceImageSettings = VarianceImageSettings(),
                             rng: RNGLike = None) -> np.ndarray:
    """``n_images`` clean images ``(n, size, size)`` (float32 in [0, 1]), seeded.

    Parameters
    ----------
    n_images : int
        Number of images; at least 1.
    settings : VarianceImageSettings
        How each image is drawn (see ``variance_image``).
    rng : int, numpy.random.Generator or None
        Seed or generator, used by the images in turn.

    Returns
    -------
    ndarray (n_images, size, size) float32
        Each image max-normalised to [0, 1].

    Examples
    --------
    >>> simulate_variance_images(2, VarianceImageSettings(size=16), rng=0).shape
    (2, 16, 16)
    """
    if n_images < 1:
        raise InputError(f"n_images must be at least 1, got {n_images}")
    rng = as_rng(rng)
    return np.stack([variance_image(settings, rng) for _ in range(n_images)])
