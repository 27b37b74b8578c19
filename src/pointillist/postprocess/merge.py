"""Merge the localizations of one emitter seen in consecutive frames (ThunderSTORM's rule)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..localizations import Localizations
from ._checks import check_locs, count, positive

__all__ = ["merge_localizations", "track_localizations"]


def track_localizations(locs: Localizations, *, max_distance_nm: float = 20.0, max_off_frames: int = 1,
                        max_frames: int | None = None) -> np.ndarray:
    """Track label of every localization (ThunderSTORM's merging rule).

    Frames are visited in order. A localization continues a track when it
    lies within ``max_distance_nm`` of the track's last position and the
    track was last seen at most ``max_off_frames + 1`` frames earlier;
    tracks and localizations are paired closest first, one to one, and a
    localization left over starts a new track. With ``max_frames``, a track
    ends once it spans that many frames (the next localization starts another).

    Parameters
    ----------
    locs : Localizations
        Table to track.
    max_distance_nm : float, default 20
        Largest step between a track's last position and its next one.
    max_off_frames : int, default 1
        Frames an emitter may stay dark inside one track (0: consecutive frames only).
    max_frames : int, optional
        Most frames one track may span, first to last (ThunderSTORM's "max frames per molecule"); None: no cap.

    Returns
    -------
    ndarray of int64
        Track label per row of ``locs`` (0, 1, ... in order of first appearance).

    Examples
    --------
    >>> locs = Localizations(frame=[0, 1, 1, 4], x_nm=[0.0, 5.0, 500.0, 5.0], y_nm=[0.0, 0.0, 0.0, 0.0])
    >>> track_localizations(locs, max_distance_nm=20.0, max_off_frames=1).tolist()
    [0, 0, 1, 2]
    >>> track_localizations(locs, max_distance_nm=20.0, max_off_frames=3).tolist()
    [0, 0, 1, 0]
    >>> track_localizations(locs, max_distance_nm=20.0, max_off_frames=3, max_frames=2).tolist()
    [0, 0, 1, 2]
    """
    from scipy.spatial import cKDTree

    check_locs(locs)
    radius = positive("max_distance_nm", max_distance_nm)
    off = count("max_off_frames", max_off_frames)
    span = None if max_frames is None else count("max_frames", max_frames, low=1)
    labels = np.full(len(locs), -1, np.int64)
    order = np.argsort(locs.frame, kind="stable")
    frames = locs.frame[order]
    bounds = np.flatnonzero(np.diff(frames)) + 1
    track_xy = np.zeros((0, 2))
    track_last = np.zeros(0, np.int64)
    track_first = np.zeros(0, np.int64)
    track_id = np.zeros(0, np.int64)
    n_tracks = 0
    xy = locs.xy_nm
    for rows in np.split(order, bounds):
        if not rows.size:
            continue
        frame = locs.frame[rows[0]]
        alive = frame - track_last <= off + 1
        if span is not None:
            alive &= frame - track_first < span
        track_xy, track_last, track_first, track_id = (a[alive] for a in (track_xy, track_last, track_first, track_id))
        here = xy[rows]
        matched = np.zeros(rows.size, bool)
        if track_id.size:
            pairs = cKDTree(track_xy).sparse_distance_matrix(cKDTree(here), radius, output_type="ndarray")
            used = np.zeros(track_id.size, bool)
            # closest pairs first: a greedy one-to-one assignment, as ThunderSTORM does
            for p in np.argsort(pairs["v"], kind="stable"):
                t, k = pairs["i"][p], pairs["j"][p]
                if used[t] or matched[k]:
                    continue
                used[t] = matched[k] = True
                labels[rows[k]] = track_id[t]
                track_xy[t] = here[k]
                track_last[t] = frame
        new = np.flatnonzero(~matched)
        labels[rows[new]] = n_tracks + np.arange(new.size)
        track_xy = np.vstack([track_xy, here[new]])
        track_last = np.concatenate([track_last, np.full(new.size, frame)])
        track_first = np.concatenate([track_first, np.full(new.size, frame)])
        track_id = np.concatenate([track_id, labels[rows[new]]])
        n_tracks += new.size
    # relabel in row order of first appearance, so the labels do not depend on the sort above
    _, first = np.unique(labels, return_index=True)
    rank = np.empty(first.size, np.int64)
    rank[np.argsort(first)] = np.arange(first.size)
    return rank[labels] if labels.size else labels


def merge_localizations(
    locs: Localizations, *, max_distance_nm: float = 20.0, max_off_frames: int = 1, max_frames: int | None = None,
    weighted: bool = True,
) -> Localizations:
    """One localization per track of :func:`track_localizations`.

    The merged position is the photon-weighted mean of the track (plain mean
    if ``weighted`` is False), photons are summed, the frame is the track's
    first frame, the background is averaged, and the uncertainty combines
    the members' as independent measurements, ``(sum 1/u^2)^(-1/2)``.

    Parameters
    ----------
    locs : Localizations
        Table to merge.
    max_distance_nm : float, default 20
        Largest step between consecutive localizations of one emitter.
    max_off_frames : int, default 1
        Dark frames allowed inside one emission event.
    max_frames : int, optional
        Most frames one event may span (longer ones are split); None: no cap.
    weighted : bool, default True
        Weight positions by photons.

    Returns
    -------
    Localizations
        One row per track, in order of first appearance.

    Examples
    --------
    >>> locs = Localizations(frame=[0, 1, 2], x_nm=[10.0, 12.0, 14.0], y_nm=[0.0] * 3, photons=[100.0, 300.0, 100.0])
    >>> merged = merge_localizations(locs)
    >>> merged.frame.tolist(), merged.x_nm.tolist(), merged.photons.tolist()
    ([0], [12.0], [500.0])
    """
    labels = track_localizations(locs, max_distance_nm=max_distance_nm, max_off_frames=max_off_frames,
                                 max_frames=max_frames)
    if weighted and np.any(locs.photons <= 0):
        raise InputError("weighted=True needs positive photons in every row; pass weighted=False for a plain mean")
    n = int(labels.max()) + 1 if labels.size else 0
    w = locs.photons if weighted else np.ones(len(locs))

    def weighted_mean(values):
        return np.bincount(labels, w * values, n) / np.bincount(labels, w, n)

    frame = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(frame, labels, locs.frame)
    background = uncertainty = None
    if locs.background is not None:
        background = np.bincount(labels, locs.background, n) / np.bincount(labels, minlength=n)
    if locs.uncertainty_nm is not None:
        uncertainty = np.bincount(labels, locs.uncertainty_nm**-2.0, n) ** -0.5
    return Localizations(
        frame=frame,
        x_nm=weighted_mean(locs.x_nm),
        y_nm=weighted_mean(locs.y_nm),
        photons=np.bincount(labels, locs.photons, n),
        background=background,
        uncertainty_nm=uncertainty,
    )
