"""FRC resolution of a localization table: split it in two, render both halves, correlate."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from ..io.render import render_localizations
from ..localizations import Localizations
from ._checks import check_locs, positive

if TYPE_CHECKING:
    from ..metrics.resolution import FRCResult

__all__ = ["frc_resolution", "split_localizations"]


def split_localizations(locs: Localizations, *, split: str = "random", seed=0) -> tuple[Localizations, Localizations]:
    """Two halves of a table for FRC.

    Parameters
    ----------
    locs : Localizations
        Table to split.
    split : {"random", "odd-even"}, default "random"
        ``"random"`` draws each localization's half at random (both halves
        then sample the same blinking events, which can make the FRC
        optimistic: merge events first); ``"odd-even"`` puts even frames in
        the first half and odd frames in the second.
    seed : int, numpy Generator or None, default 0
        Randomness of the ``"random"`` split.

    Returns
    -------
    (Localizations, Localizations)

    Examples
    --------
    >>> locs = Localizations(frame=[0, 1, 2, 3], x_nm=[1.0, 2.0, 3.0, 4.0], y_nm=[0.0] * 4)
    >>> a, b = split_localizations(locs, split="odd-even")
    >>> a.x_nm.tolist(), b.x_nm.tolist()
    ([1.0, 3.0], [2.0, 4.0])
    """
    check_locs(locs)
    if split == "random":
        first = np.random.default_rng(seed).random(len(locs)) < 0.5
    elif split == "odd-even":
        first = locs.frame % 2 == 0
    else:
        raise InputError(f"split must be 'random' or 'odd-even', got {split!r}")
    return locs.select(first), locs.select(~first)


def frc_resolution(
    locs: Localizations,
    *,
    pixel_size_nm: float,
    split: str = "random",
    seed=0,
    threshold: float | None = None,
) -> FRCResult:
    """Fourier ring correlation resolution of a localization table.

    The table is split with :func:`split_localizations`, each half is
    rendered as a histogram on the same grid (covering the bounding box of
    all localizations) and the two images go to
    :func:`pointillist.metrics.fourier_ring_correlation`.

    Parameters
    ----------
    locs : Localizations
        Table to assess.
    pixel_size_nm : float
        Render pixel; it must be well below the resolution (a quarter of it or less).
    split : {"random", "odd-even"}, default "random"
        How to split the table.
    seed : int, numpy Generator or None, default 0
        Randomness of the ``"random"`` split.
    threshold : float, optional
        FRC level that defines the resolution; 1/7 if None.

    Returns
    -------
    FRCResult
        Curve, frequencies and ``resolution_nm``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> sites = rng.uniform(0, 2000, (100, 2))
    >>> xy = np.repeat(sites, 40, axis=0) + rng.normal(0, 10, (4000, 2))
    >>> locs = Localizations(frame=np.arange(4000), x_nm=xy[:, 0], y_nm=xy[:, 1])
    >>> 20 < frc_resolution(locs, pixel_size_nm=5.0).resolution_nm < 60
    True
    """
    # imported here: pointillist.metrics loads scipy, which a plain import of postprocess should not
    from ..metrics.resolution import FRC_THRESHOLD, fourier_ring_correlation

    check_locs(locs, minimum=2)
    pixel = positive("pixel_size_nm", pixel_size_nm)
    threshold = FRC_THRESHOLD if threshold is None else threshold
    x0, y0 = locs.x_nm.min(), locs.y_nm.min()
    size = max(locs.x_nm.max() - x0, locs.y_nm.max() - y0)
    n = int(math.floor(size / pixel)) + 1
    if n < 16:
        raise InputError(
            f"the localizations span {size:g} nm, only {n} pixels of {pixel:g} nm; FRC needs 16 at least: "
            "decrease pixel_size_nm"
        )
    # a square grid from the lowest position: FRC reduces images to a square anyway
    moved = Localizations(frame=locs.frame, x_nm=locs.x_nm - x0, y_nm=locs.y_nm - y0, photons=locs.photons)
    halves = split_localizations(moved, split=split, seed=seed)
    for half, name in zip(halves, ("first", "second")):
        if not len(half):
            raise InputError(f"the {name} half of the {split!r} split is empty; FRC needs localizations in both")
    images = [render_localizations(h, shape=(n, n), pixel_size_nm=pixel) for h in halves]
    return fourier_ring_correlation(*images, pixel_size_nm=pixel, threshold=threshold)
