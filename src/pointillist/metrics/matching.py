"""One-to-one matching of predicted and true emitters within a tolerance.

The matching is an optimal assignment (the SMLM-challenge "Hungarian"
protocol), not a greedy nearest-neighbour pass and not the Gale-Shapley
stable matching of ThunderSTORM / COL0RME's ``molmatch.m``: among the pairs
closer than the tolerance it maximises the number of matched pairs and, among
matchings of that size, minimises the total distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..errors import InputError
from ..localizations import Localizations
from .common import check_tolerance, ratio_percent

__all__ = ["MatchResult", "match_points", "match_localizations"]

# Absolute slack on the tolerance (in the caller's length unit): a pair exactly
# at the tolerance must count even after rounding, and tolerance 0 must mean
# coincidence rather than bit-identical floats.
_SLACK = 1e-9


@dataclass(frozen=True, eq=False)
class MatchResult:
    """Counts and pairs of a one-to-one matching.

    Ratios are in percent (0-100). A ratio whose denominator is zero is
    defined as 100 (nothing could be got wrong): with no predictions and no
    truth, ``jaccard``, ``recall``, ``precision`` and ``f1`` are all 100; with
    no predictions but some truth, ``precision`` is 100 and the others are 0.

    Parameters
    ----------
    tp, fp, fn : int
        Matched pairs, unmatched predictions, unmatched true emitters.
    pred_index, true_index : array of int
        Row indices of the matched pairs in the prediction and truth tables,
        sorted by ``pred_index``.
    distances_nm : array of float
        Distance of each matched pair (nm, unless the producing function
        documents another unit).

    Examples
    --------
    >>> r = MatchResult(tp=3, fp=1, fn=2, pred_index=[0, 1, 2], true_index=[0, 1, 2],
    ...                 distances_nm=[3.0, 4.0, 0.0])
    >>> round(r.jaccard, 2), r.recall, r.precision, round(r.f1, 2)
    (50.0, 60.0, 75.0, 66.67)
    >>> r.rmse_nm
    2.886751345948129
    """

    tp: int
    fp: int
    fn: int
    pred_index: np.ndarray
    true_index: np.ndarray
    distances_nm: np.ndarray

    def __post_init__(self):
        for name in ("tp", "fp", "fn"):
            value = getattr(self, name)
            if int(value) != value or value < 0:
                raise InputError(f"MatchResult.{name} must be a non-negative integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        object.__setattr__(self, "pred_index", np.asarray(self.pred_index, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "true_index", np.asarray(self.true_index, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "distances_nm", np.asarray(self.distances_nm, dtype=np.float64).reshape(-1))
        sizes = {self.pred_index.size, self.true_index.size, self.distances_nm.size}
        if sizes != {self.tp}:
            raise InputError(
                f"MatchResult needs tp={self.tp} pairs, got pred_index/true_index/distances_nm "
                f"of sizes {self.pred_index.size}/{self.true_index.size}/{self.distances_nm.size}"
            )

    @property
    def jaccard(self) -> float:
        """Jaccard index ``TP / (TP + FP + FN)`` in percent."""
        return ratio_percent(self.tp, self.tp + self.fp + self.fn)

    @property
    def recall(self) -> float:
        """Recall (sensitivity) ``TP / (TP + FN)`` in percent."""
        return ratio_percent(self.tp, self.tp + self.fn)

    sensitivity = recall

    @property
    def precision(self) -> float:
        """Precision ``TP / (TP + FP)`` in percent."""
        return ratio_percent(self.tp, self.tp + self.fp)

    @property
    def f1(self) -> float:
        """F1 score ``2 TP / (2 TP + FP + FN)`` in percent."""
        return ratio_percent(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def rmse_nm(self) -> float:
        """Root mean square distance of the matched pairs; NaN when ``tp == 0``."""
        if self.tp == 0:
            return math.nan
        return float(np.sqrt(np.mean(self.distances_nm**2)))

    def as_dict(self) -> dict:
        """Scores and counts as plain Python values (NaN becomes ``None``), ready for JSON.

        Examples
        --------
        >>> MatchResult(tp=0, fp=0, fn=0, pred_index=[], true_index=[], distances_nm=[]).as_dict()
        {'jaccard': 100.0, 'recall': 100.0, 'precision': 100.0, 'f1': 100.0, 'rmse_nm': None, 'tp': 0, 'fp': 0, 'fn': 0}
        """

        def plain(x):
            x = float(x)
            return None if math.isnan(x) else x

        return {
            "jaccard": plain(self.jaccard),
            "recall": plain(self.recall),
            "precision": plain(self.precision),
            "f1": plain(self.f1),
            "rmse_nm": plain(self.rmse_nm),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def _as_points(xy, name: str) -> np.ndarray:
    arr = np.asarray(xy, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"{name} must be an (n, 2) array of (x, y) positions, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or infinite positions; drop those rows first")
    return arr


def _match_grouped(pred_xy, true_xy, pred_group, true_group, tol):
    """Optimal matching where only points of the same group (frame) may pair.

    Groups are separated by adding the group index, scaled beyond the
    tolerance, as a third coordinate: one KD-tree and one connected-component
    pass then serve all frames at once, with no Python loop over frames.
    """
    n_pred, n_true = len(pred_xy), len(true_xy)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if n_pred == 0 or n_true == 0:
        return empty
    radius = tol + _SLACK
    if pred_group is not None:
        spacing = 4.0 * radius + 1.0
        pred_pts = np.column_stack([pred_xy, pred_group * spacing])
        true_pts = np.column_stack([true_xy, true_group * spacing])
    else:
        pred_pts, true_pts = pred_xy, true_xy
    # The tree's own rounding must not drop a pair exactly at the tolerance;
    # the exact test is redone below on the 2-D distances.
    # Unbalanced, non-compact trees build about twice as fast, which matters
    # for dense detection maps (millions of "every positive pixel" detections)
    # and costs little for fixed-radius queries.
    tree_opts = {"balanced_tree": False, "compact_nodes": False}
    pairs = cKDTree(pred_pts, **tree_opts).sparse_distance_matrix(
        cKDTree(true_pts, **tree_opts), radius * (1 + 1e-9) + 1e-12, output_type="ndarray"
    )
    ei = pairs["i"].astype(np.int64)
    ej = pairs["j"].astype(np.int64)
    if pred_group is not None:
        keep = pred_group[ei] == true_group[ej]
        ei, ej = ei[keep], ej[keep]
    dist = np.hypot(*(pred_xy[ei] - true_xy[ej]).T)
    keep = dist <= radius
    ei, ej, dist = ei[keep], ej[keep], dist[keep]
    if ei.size == 0:
        return empty

    # Independent sub-problems: connected components of the bipartite
    # candidate graph (predictions are nodes 0..n_pred-1, truths follow).
    n_nodes = n_pred + n_true
    graph = coo_matrix((np.ones(ei.size), (ei, n_pred + ej)), shape=(n_nodes, n_nodes))
    _, labels = connected_components(graph, directed=False)
    edge_label = labels[ei]
    edges_per_label = np.bincount(edge_label, minlength=n_nodes)

    # A component with a single candidate pair is matched as is; with the
    # sparse emitter densities of SMLM this is nearly every component.
    single = edges_per_label[edge_label] == 1
    out_i, out_j, out_d = [ei[single]], [ej[single]], [dist[single]]

    multi = np.flatnonzero(~single)
    if multi.size:
        order = multi[np.argsort(edge_label[multi], kind="stable")]
        lab = edge_label[order]
        starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
        bounds = np.r_[starts, lab.size]
        for a, b in zip(bounds[:-1], bounds[1:]):
            sel = order[a:b]
            ci, cj, cd = ei[sel], ej[sel], dist[sel]
            rows, ri = np.unique(ci, return_inverse=True)
            cols, rj = np.unique(cj, return_inverse=True)
            # A non-candidate pair costs more than any sum of candidate
            # distances, so the optimum first maximises the number of
            # candidate pairs, then minimises their total distance.
            big = min(rows.size, cols.size) * radius + 1.0
            cost = np.full((rows.size, cols.size), big)
            cost[ri, rj] = cd
            cand = np.zeros(cost.shape, dtype=bool)
            cand[ri, rj] = True
            r, c = linear_sum_assignment(cost)
            ok = cand[r, c]
            out_i.append(rows[r[ok]])
            out_j.append(cols[c[ok]])
            out_d.append(cost[r[ok], c[ok]])

    pi = np.concatenate(out_i)
    tj = np.concatenate(out_j)
    d = np.concatenate(out_d)
    order = np.argsort(pi, kind="stable")
    return pi[order], tj[order], d[order]


def match_points(pred_xy, true_xy, tolerance):
    """Match two point sets one-to-one within a radial tolerance (optimal assignment).

    The matching is the SMLM-challenge "Hungarian" protocol: a pair is a
    candidate when its Euclidean distance is ``<= tolerance`` (plus 1e-9 to
    absorb rounding, so ``tolerance=0`` means coincident points); among all
    one-to-one matchings of candidate pairs it takes one with the largest
    number of pairs and, among those, the smallest total distance. It is
    neither greedy nearest-neighbour matching nor Gale-Shapley stable
    matching, both of which can pair fewer points. Candidates come from a
    KD-tree, the candidate graph is split into connected components and each
    component is solved with :func:`scipy.optimize.linear_sum_assignment`
    (non-candidate pairs cost more than any sum of candidate distances;
    assigned non-candidates are dropped). Among equally good matchings, which
    one is returned is unspecified but deterministic.

    Parameters
    ----------
    pred_xy, true_xy : array_like, shape (n, 2) and (m, 2)
        Predicted and true positions, in any common length unit. Empty
        inputs are allowed.
    tolerance : float
        Largest distance of a matched pair, in the same unit.

    Returns
    -------
    pred_index, true_index : ndarray of int64
        Rows of the matched pairs, sorted by ``pred_index``.
    distance : ndarray of float64
        Distance of each matched pair.

    Examples
    --------
    Greedy matching would pair the prediction at 1 with the closest truth at
    1.5 and leave two points unmatched; the optimal matching pairs both:

    >>> pi, ti, d = match_points([[0.0, 0.0], [1.0, 0.0]], [[1.5, 0.0], [-0.5, 0.0]], 1.0)
    >>> pi.tolist(), ti.tolist(), d.tolist()
    ([0, 1], [1, 0], [0.5, 0.5])
    """
    pred = _as_points(pred_xy, "pred_xy")
    true = _as_points(true_xy, "true_xy")
    tol = check_tolerance(tolerance, "tolerance")
    return _match_grouped(pred, true, None, None, tol)


def match_localizations(pred: Localizations, true: Localizations, *, tolerance_nm: float) -> MatchResult:
    """Match predicted to true localizations frame by frame, with counts summed over frames.

    A prediction may only pair with a true emitter of the same frame index;
    within a frame the matching is that of :func:`match_points` (maximum
    number of pairs within ``tolerance_nm``, then minimum total distance).
    All frames are solved together (the frame enters the KD-tree as a
    separating coordinate), so large tables are fast: 80,000 emitters over
    361 frames take well under a second.

    Parameters
    ----------
    pred, true : Localizations
        Predicted and ground-truth tables.
    tolerance_nm : float
        Largest lateral distance (nm) of a matched pair; ``0`` means
        coincident positions (within 1e-9 nm).

    Returns
    -------
    MatchResult
        ``pred_index`` and ``true_index`` are rows of ``pred`` and ``true``.

    Examples
    --------
    >>> from pointillist.localizations import Localizations
    >>> true = Localizations(frame=[0, 1], x_nm=[100.0, 100.0], y_nm=[100.0, 100.0])
    >>> pred = Localizations(frame=[0, 0], x_nm=[110.0, 400.0], y_nm=[100.0, 100.0])
    >>> r = match_localizations(pred, true, tolerance_nm=50.0)
    >>> r.tp, r.fp, r.fn, r.distances_nm.tolist()
    (1, 1, 1, [10.0])
    """
    for name, value in (("pred", pred), ("true", true)):
        if not isinstance(value, Localizations):
            raise InputError(
                f"{name} must be a Localizations table, got {type(value).__name__}; "
                "build one with Localizations(frame=..., x_nm=..., y_nm=...)"
            )
    tol = check_tolerance(tolerance_nm, "tolerance_nm")
    pi, ti, d = _match_grouped(
        np.column_stack([pred.x_nm, pred.y_nm]),
        np.column_stack([true.x_nm, true.y_nm]),
        pred.frame.astype(np.float64),
        true.frame.astype(np.float64),
        tol,
    )
    tp = int(pi.size)
    return MatchResult(
        tp=tp,
        fp=len(pred) - tp,
        fn=len(true) - tp,
        pred_index=pi,
        true_index=ti,
        distances_nm=d,
    )
