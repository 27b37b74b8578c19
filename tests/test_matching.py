"""One-to-one matching: optimal assignment, tolerance, frames, and the derived scores."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from pointillist.errors import InputError
from pointillist.localizations import Localizations
from pointillist.metrics import MatchResult, match_localizations, match_points


def brute_force_best(pred, true, tol):
    """(number of pairs, total distance) of the best matching, by enumeration."""
    d = np.hypot(*(pred[:, None, :] - true[None, :, :]).transpose(2, 0, 1))
    best = (0, 0.0)
    n_pred, n_true = len(pred), len(true)
    for k in range(min(n_pred, n_true), 0, -1):
        totals = [
            sum(d[i, j] for i, j in zip(ps, ts))
            for ps in itertools.combinations(range(n_pred), k)
            for ts in itertools.permutations(range(n_true), k)
            if all(d[i, j] <= tol for i, j in zip(ps, ts))
        ]
        if totals:
            return k, min(totals)
    return best


def test_optimal_beats_greedy_nearest_neighbour():
    # Greedy (closest pair first) and Gale-Shapley both pair P0 with its
    # nearest truth T0 at 0.5 and then leave P1 and T1 unmatched; the
    # optimal assignment matches both, each at 0.9.
    pred = [[0.0, 0.0], [1.4, 0.0]]
    true = [[0.5, 0.0], [-0.9, 0.0]]
    pi, ti, d = match_points(pred, true, 1.0)
    assert pi.tolist() == [0, 1]
    assert ti.tolist() == [1, 0]
    np.testing.assert_allclose(d, [0.9, 0.9])


def test_minimum_total_distance_among_maximum_matchings():
    # Both assignments pair two points; the one with total 0.7 wins over 1.7.
    pred = [[0.0, 0.0], [1.0, 0.0]]
    true = [[0.5, 0.0], [1.2, 0.0]]
    pi, ti, d = match_points(pred, true, 1.5)
    assert list(zip(pi.tolist(), ti.tolist())) == [(0, 0), (1, 1)]
    np.testing.assert_allclose(d, [0.5, 0.2])


def test_agrees_with_brute_force_on_random_clusters():
    rng = np.random.default_rng(5)
    for _ in range(40):
        pred = rng.uniform(0, 3, (rng.integers(0, 6), 2))
        true = rng.uniform(0, 3, (rng.integers(0, 6), 2))
        pi, ti, d = match_points(pred, true, 1.0)
        k, total = brute_force_best(pred, true, 1.0)
        assert pi.size == k
        assert len(set(pi.tolist())) == k and len(set(ti.tolist())) == k
        assert d.sum() == pytest.approx(total, abs=1e-12)
        np.testing.assert_allclose(d, np.hypot(*(pred[pi] - true[ti]).T))
        assert np.all(d <= 1.0)


def test_tie_gives_one_match():
    pi, ti, d = match_points([[0.0, 0.0]], [[-1.0, 0.0], [1.0, 0.0]], 2.0)
    assert pi.tolist() == [0] and ti.item() in (0, 1)
    assert d.tolist() == [1.0]
    # Duplicated predictions on one truth: one pair only.
    pi, ti, _ = match_points([[1.0, 1.0], [1.0, 1.0]], [[1.0, 1.0]], 0.0)
    assert pi.size == 1 and ti.tolist() == [0]


def test_tolerance_boundary_counts():
    pred, true = [[0.0, 0.0]], [[30.0, 40.0]]
    assert match_points(pred, true, 50.0)[0].size == 1
    assert match_points(pred, true, 49.999)[0].size == 0


def test_tolerance_zero_means_coincidence():
    pi, _, d = match_points([[12.5, 37.5], [0.0, 0.0]], [[12.5, 37.5], [0.0, 1e-6]], 0.0)
    assert pi.tolist() == [0]
    assert d.tolist() == [0.0]


@pytest.mark.parametrize("n_pred, n_true", [(0, 3), (3, 0), (0, 0)])
def test_empty_inputs(n_pred, n_true):
    pred = np.ones((n_pred, 2))
    true = np.ones((n_true, 2))
    pi, ti, d = match_points(pred, true, 1.0)
    assert pi.size == ti.size == d.size == 0
    assert pi.dtype == np.int64
    empty = Localizations.empty()
    p = Localizations(frame=np.zeros(n_pred), x_nm=pred[:, 0], y_nm=pred[:, 1]) if n_pred else empty
    t = Localizations(frame=np.zeros(n_true), x_nm=true[:, 0], y_nm=true[:, 1]) if n_true else empty
    r = match_localizations(p, t, tolerance_nm=10.0)
    assert (r.tp, r.fp, r.fn) == (0, n_pred, n_true)
    assert math.isnan(r.rmse_nm)
    if n_pred == n_true == 0:
        assert r.jaccard == r.recall == r.precision == r.f1 == 100.0
    elif n_pred == 0:
        assert (r.jaccard, r.recall, r.precision, r.f1) == (0.0, 0.0, 100.0, 0.0)
    else:
        assert (r.jaccard, r.recall, r.precision, r.f1) == (0.0, 100.0, 0.0, 0.0)


def test_frames_are_matched_separately():
    true = Localizations(frame=[0, 1], x_nm=[100.0, 500.0], y_nm=[100.0, 500.0])
    # The prediction in frame 1 sits exactly on the frame-0 truth.
    pred = Localizations(frame=[1, 1], x_nm=[100.0, 510.0], y_nm=[100.0, 500.0])
    r = match_localizations(pred, true, tolerance_nm=50.0)
    assert (r.tp, r.fp, r.fn) == (1, 1, 1)
    assert r.pred_index.tolist() == [1] and r.true_index.tolist() == [1]


def test_indices_refer_to_unsorted_input_rows():
    true = Localizations(frame=[2, 0, 1], x_nm=[0.0, 10.0, 20.0], y_nm=[0.0, 0.0, 0.0])
    pred = Localizations(frame=[1, 2, 0], x_nm=[21.0, 1.0, 11.0], y_nm=[0.0, 0.0, 0.0])
    r = match_localizations(pred, true, tolerance_nm=5.0)
    assert r.pred_index.tolist() == [0, 1, 2]
    assert r.true_index.tolist() == [2, 0, 1]
    np.testing.assert_allclose(r.distances_nm, 1.0)


def test_hand_computed_scores_3tp_1fp_2fn():
    true = Localizations(frame=[0, 0, 1, 1, 1], x_nm=[0.0, 500.0, 0.0, 800.0, 1600.0], y_nm=[0.0] * 5)
    pred = Localizations(frame=[0, 0, 1, 1], x_nm=[3.0, 1000.0, 0.0, 1604.0], y_nm=[0.0] * 4)
    r = match_localizations(pred, true, tolerance_nm=10.0)
    assert (r.tp, r.fp, r.fn) == (3, 1, 2)
    assert r.jaccard == pytest.approx(50.0)
    assert r.recall == r.sensitivity == pytest.approx(60.0)
    assert r.precision == pytest.approx(75.0)
    assert r.f1 == pytest.approx(200 / 3)
    assert r.rmse_nm == pytest.approx(math.sqrt((9 + 0 + 16) / 3))
    d = r.as_dict()
    assert list(d) == ["jaccard", "recall", "precision", "f1", "rmse_nm", "tp", "fp", "fn"]
    assert type(d["tp"]) is int and type(d["jaccard"]) is float
    assert json.loads(json.dumps(d)) == d


def test_as_dict_nan_is_none():
    r = MatchResult(tp=0, fp=2, fn=1, pred_index=[], true_index=[], distances_nm=[])
    assert r.as_dict()["rmse_nm"] is None


def test_match_result_rejects_inconsistent_pairs():
    with pytest.raises(InputError, match="tp=2"):
        MatchResult(tp=2, fp=0, fn=0, pred_index=[0], true_index=[0], distances_nm=[0.0])


@pytest.mark.parametrize(
    "pred, true, tol, message",
    [
        (np.ones((3, 3)), np.ones((2, 2)), 1.0, "pred_xy"),
        (np.ones((2, 2)), [[np.nan, 0.0]], 1.0, "true_xy"),
        (np.ones((2, 2)), np.ones((2, 2)), -1.0, "tolerance"),
        (np.ones((2, 2)), np.ones((2, 2)), math.inf, "tolerance"),
    ],
)
def test_match_points_validation(pred, true, tol, message):
    with pytest.raises(InputError, match=message):
        match_points(pred, true, tol)


def test_match_localizations_validation():
    locs = Localizations(frame=[0], x_nm=[0.0], y_nm=[0.0])
    with pytest.raises(InputError, match="pred must be a Localizations"):
        match_localizations(np.zeros((1, 2)), locs, tolerance_nm=1.0)
    with pytest.raises(InputError, match="tolerance_nm"):
        match_localizations(locs, locs, tolerance_nm=-5.0)


def test_many_frames_runs_quickly():
    # 361 frames x 220 emitters, as in the SMLM 2013 bundled-tubes data.
    # Not timed: it only has to finish within the test budget.
    rng = np.random.default_rng(0)
    n = 361 * 220
    frame = np.repeat(np.arange(361), 220)
    x, y = rng.uniform(0, 6400, (2, n))
    true = Localizations(frame=frame, x_nm=x, y_nm=y)
    order = rng.permutation(n)
    pred = Localizations(frame=frame[order], x_nm=x[order] + 3.0, y_nm=y[order] - 4.0)
    r = match_localizations(pred, true, tolerance_nm=50.0)
    assert (r.tp, r.fp, r.fn) == (n, 0, 0)
    # The identity pairing costs 5 nm per pair; an optimal one cannot cost more.
    assert r.distances_nm.sum() <= 5.0 * n + 1e-6
    assert np.mean(order[r.pred_index] == r.true_index) > 0.99
