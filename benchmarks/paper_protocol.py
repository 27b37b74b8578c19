"""The DeepCEL0 paper's Tests 1b-4b built and scored on the 25 nm grid, as its text says (a benchmark helper).

Cascarano et al. 2022 (SPEC.md sections 4.5, 4.4, 0.5, 5.1) simulate the
SMLM 2013 "bundled tubes" frames from a ground-truth *image* on the fine
grid, ``Y = S_L K X``, and score binarised outputs pixel by pixel:

* ``X`` (T, 4M, 4M): the emitters of each frame counted per fine pixel of
  25 nm (pixel ``floor(x / 25)``), times the photons of one emitter. Counts,
  not a 0/1 indicator: two emitters in one pixel give twice the light, as
  they would on the camera (the CSV has no intensities, so every emitter
  has the same photons);
* ``K``: the Gaussian of FWHM 258.21 nm on the fine grid (sigma 4.386 fine
  pixels, integrated over each fine pixel, zero boundary), ``S_L``: 4 x 4
  sum binning, i.e. ``pointillist.operators.imaging_operator``, the very
  operator CEL0 inverts (the paper uses one ``S_L K`` for both);
* Poisson noise, then Gaussian noise scaled so that each frame's
  ``10 log10(|S K x|^2 / |S K x - y|^2)`` is the target SNR (eq. 12);
* truth = the non-zero pixels of ``X`` (one molecule per pixel, however
  many emitters it holds), detections = the positive pixels of an output,
  matched one-to-one within ``tol`` fine pixels (Euclidean or Chebyshev
  distance between pixel indices), TN = fine pixels - TP - FP - FN.

Benchmarks import it after putting this folder on ``sys.path``::

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from paper_protocol import paper_tests, pixel_scores
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from pointillist import Optics
from pointillist.localizations import Localizations
from pointillist.methods.smlm.cel0 import CEL0Options, cel0_frames
from pointillist.metrics import jaccard, specificity
from pointillist.operators import imaging_operator
from pointillist.simulate.camera import add_noise_at_snr

__all__ = ["PixelMatch", "gt_counts", "paper_clean_frames", "noisy_tests", "paper_tests", "match_pixels",
           "pixel_scores", "select_lambda_pixels", "cel0_batched"]

#: photons per emitter: the paper does not give it; the DeepCEL0 notebook's training simulator uses 2250 +- 250
PHOTONS = 2250.0


def gt_counts(gt: Localizations, n_frames: int, fine_shape, fine_nm: float) -> np.ndarray:
    """Emitters per fine pixel and frame, ``(T, L, L)`` int32; pixel ``j`` covers ``[j, j + 1) * fine_nm``.

    Emitters outside the field of view are dropped (there are none in the
    SMLM 2013 tubes).

    Examples
    --------
    >>> gt = Localizations(frame=[0, 0, 1], x_nm=[10.0, 20.0, 30.0], y_nm=[60.0, 70.0, 5.0])
    >>> c = gt_counts(gt, 2, (4, 4), 25.0)
    >>> int(c[0, 2, 0]), int(c[1, 0, 1]), int(c.sum())
    (2, 1, 3)
    """
    rows = np.floor(np.asarray(gt.y_nm) / fine_nm).astype(np.int64)
    cols = np.floor(np.asarray(gt.x_nm) / fine_nm).astype(np.int64)
    frame = np.asarray(gt.frame, dtype=np.int64)
    ok = (rows >= 0) & (rows < fine_shape[0]) & (cols >= 0) & (cols < fine_shape[1]) & (frame >= 0) & (frame < n_frames)
    counts = np.zeros((n_frames, *fine_shape), dtype=np.int32)
    np.add.at(counts, (frame[ok], rows[ok], cols[ok]), 1)
    return counts


def paper_clean_frames(x: np.ndarray, optics: Optics, chunk: int = 64) -> np.ndarray:
    """``S_L K x`` for fine images ``x`` (T, qM, qM) in photons: camera frames (T, M, M), float64."""
    x = np.asarray(x, dtype=np.float64)
    psi = imaging_operator(optics, (x.shape[1] // optics.upsample, x.shape[2] // optics.upsample))
    return np.concatenate([psi(torch.as_tensor(x[i : i + chunk])).numpy() for i in range(0, len(x), chunk)])


def noisy_tests(clean: np.ndarray, tests: dict, seed: int, *, poisson: bool = True) -> dict[str, np.ndarray]:
    """Each test's noisy stack: per frame an SNR drawn uniformly in ``(lo, hi)``, eq. 12 reached exactly.

    ``tests`` maps a name to ``(lo, hi)`` dB; ``lo == hi`` is a fixed SNR.
    The noise of test number ``k`` comes from ``default_rng([seed, k])``.
    """
    out = {}
    for k, (name, (lo, hi)) in enumerate(tests.items()):
        rng = np.random.default_rng([seed, k])
        snrs = rng.uniform(lo, hi, len(clean))
        out[name] = np.stack([add_noise_at_snr(clean[t], snrs[t], rng=rng, poisson=poisson)[0][0]
                              for t in range(len(clean))]).astype(np.float32)
    return out


def paper_tests(gt: Localizations, n_frames: int, optics: Optics, size: int, tests: dict, seed: int, *,
                photons: float = PHOTONS, poisson: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """GT counts ``(T, qM, qM)`` and the noisy stacks of the paper's Tests (``Y = S_L K X`` + noise)."""
    q = optics.upsample
    counts = gt_counts(gt, n_frames, (q * size, q * size), optics.fine_pixel_nm)
    clean = paper_clean_frames(counts * photons, optics)
    return counts, noisy_tests(clean, tests, seed, poisson=poisson)


@dataclass(frozen=True)
class PixelMatch:
    """Counts of a one-to-one pixel matching (summed over frames) and the fine pixels they live in."""

    tp: int
    fp: int
    fn: int
    n_pixels: int

    @property
    def jaccard(self) -> float:
        return jaccard(self.tp, self.fp, self.fn)

    @property
    def sensitivity(self) -> float:
        return 100.0 * self.tp / max(self.tp + self.fn, 1)

    @property
    def specificity(self) -> float:
        return specificity(self.tp, self.fp, self.fn, self.n_pixels)


def _points(mask_or_points):
    """(frame, row, col) int64 arrays from a boolean stack or an (n, 3) array."""
    a = np.asarray(mask_or_points)
    if a.dtype == bool:
        return np.stack(np.nonzero(a), axis=1).astype(np.int64)
    return a.astype(np.int64).reshape(-1, 3)


def match_pixels(pred, true, tol: float, *, metric: str = "euclidean", n_pixels: int | None = None,
                 assignment: str = "optimal") -> PixelMatch:
    """One-to-one matching of detected and true fine pixels within ``tol`` pixels, frame by frame.

    A pair is a candidate when the distance between the pixel indices is at
    most ``tol`` (Euclidean: ``hypot``; Chebyshev: ``max(|dr|, |dc|)``, the
    ``(2 tol + 1)^2`` square). The matching maximises the number of pairs
    (then minimises the Euclidean total), as ``pointillist.metrics``. A
    detection farther than ``tol`` from every true pixel is a false positive
    before any matching, which keeps "every positive pixel" maps (tens of
    millions of detections) cheap.

    Parameters
    ----------
    pred, true : bool array (T, L, L) or int array (n, 3) of (frame, row, col)
        Detections and true molecules (an array may hold one pixel twice:
        two molecules there).
    tol : float
        Tolerance in fine pixels.
    metric : {"euclidean", "chebyshev"}
    n_pixels : int, optional
        Fine pixels times frames for the specificity (default: the size of a
        boolean ``pred``).
    assignment : {"optimal", "greedy"}
        "greedy": pairs taken by increasing Euclidean distance while both
        ends are free, which is the stable (Gale-Shapley) matching of
        ThunderSTORM and COL0RME's ``molmatch.m`` when distances are
        distinct (ties broken by row order); it can pair fewer points.

    Returns
    -------
    PixelMatch

    Examples
    --------
    >>> t = np.array([[0, 5, 5]]); p = np.array([[0, 7, 7], [0, 9, 9]])
    >>> m = match_pixels(p, t, 2, metric="chebyshev", n_pixels=100)
    >>> (m.tp, m.fp, m.fn), match_pixels(p, t, 2, n_pixels=100).tp
    ((1, 1, 0), 0)
    """
    if metric not in ("euclidean", "chebyshev"):
        raise ValueError(f"metric must be 'euclidean' or 'chebyshev', got {metric!r}")
    if n_pixels is None:
        n_pixels = int(np.asarray(pred).size)
    p, t = _points(pred), _points(true)
    if len(p) == 0 or len(t) == 0:
        return PixelMatch(0, len(p), len(t), n_pixels)
    r = int(np.floor(tol + 1e-9))
    # detections within the tolerance square of some true pixel (a superset of both metrics' candidates)
    spacing = 4 * (r + 1)
    p3 = np.column_stack([p[:, 0] * spacing, p[:, 1], p[:, 2]]).astype(float)
    t3 = np.column_stack([t[:, 0] * spacing, t[:, 1], t[:, 2]]).astype(float)
    pairs = cKDTree(p3).sparse_distance_matrix(cKDTree(t3), r + 1e-6, p=np.inf, output_type="ndarray")
    ei, ej = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
    keep = p[ei, 0] == t[ej, 0]
    ei, ej = ei[keep], ej[keep]
    d = np.hypot(*(p[ei, 1:] - t[ej, 1:]).T)
    if metric == "euclidean":
        keep = d <= tol + 1e-9
        ei, ej, d = ei[keep], ej[keep], d[keep]
    if ei.size == 0:
        return PixelMatch(0, len(p), len(t), n_pixels)
    n_p, n_t = len(p), len(t)
    if assignment == "greedy":
        free_p, free_t = np.ones(n_p, bool), np.ones(n_t, bool)
        tp = 0
        for k in np.lexsort((ej, ei, d)):
            if free_p[ei[k]] and free_t[ej[k]]:
                free_p[ei[k]] = free_t[ej[k]] = False
                tp += 1
        return PixelMatch(tp, n_p - tp, n_t - tp, n_pixels)
    graph = coo_matrix((np.ones(ei.size), (ei, n_p + ej)), shape=(n_p + n_t, n_p + n_t))
    _, labels = connected_components(graph, directed=False)
    lab = labels[ei]
    order = np.argsort(lab, kind="stable")
    lab_sorted = lab[order]
    bounds = np.r_[np.flatnonzero(np.r_[True, lab_sorted[1:] != lab_sorted[:-1]]), lab_sorted.size]
    tp = 0
    for a, b in zip(bounds[:-1], bounds[1:]):
        sel = order[a:b]
        if b - a == 1:
            tp += 1
            continue
        rows, ri = np.unique(ei[sel], return_inverse=True)
        cols, rj = np.unique(ej[sel], return_inverse=True)
        big = min(rows.size, cols.size) * (tol + 2) * 2 + 1.0  # beats any sum of candidate distances
        cost = np.full((rows.size, cols.size), big)
        cost[ri, rj] = d[sel]
        rr, cc = linear_sum_assignment(cost)
        tp += int(np.sum(cost[rr, cc] < big))
    return PixelMatch(tp, n_p - tp, n_t - tp, n_pixels)


def pixel_scores(images, truth, tolerances=(2, 4, 6), *, metric: str = "euclidean", threshold: float = 0.0) -> dict:
    """The paper's scores of spike images ``(T, L, L)``: every pixel above ``threshold`` is a detection.

    ``truth`` is a GT count stack (its non-zero pixels are the molecules) or
    an (n, 3) array of (frame, row, col), one row per molecule. Jaccard at
    each tolerance (fine pixels), sensitivity and specificity at the first,
    in percent, and the counts at the first.
    """
    images = np.asarray(images)
    pred = images > threshold
    true = np.asarray(truth)
    true = true > 0 if true.shape == images.shape else true
    out = {"n_detections": int(pred.sum())}
    for k, tol in enumerate(tolerances):
        m = match_pixels(pred, true, tol, metric=metric, n_pixels=images.size)
        out[f"ji_{tol:g}"] = m.jaccard
        if k == 0:
            out.update(sensitivity=m.sensitivity, specificity=m.specificity, tp=m.tp, fp=m.fp, fn=m.fn)
    return out


def cel0_batched(stack, optics: Optics, lam, *, options: CEL0Options = CEL0Options(), device="cpu",
                 batch: int = 16) -> np.ndarray:
    """CEL0 of every frame in batches of ``batch`` (a batch iterates until its slowest frame converges)."""
    return np.concatenate([cel0_frames(stack[i : i + batch], optics=optics, lam=lam, options=options, device=device)
                           for i in range(0, len(stack), batch)])


def select_lambda_pixels(stack, counts, optics: Optics, *, lambdas=None, n_frames: int = 8, tol: float = 2,
                         metric: str = "euclidean", rng=None, options: CEL0Options = CEL0Options(),
                         device="cpu") -> dict:
    """The paper's lambda choice, scored its way: best pixel Jaccard at ``tol`` on ``n_frames`` random frames.

    Same draw of frames as ``cel0_lambda.select_cel0_lambda`` for the same
    ``rng``. Returns a JSON-ready dict: ``best``, ``lambdas``, ``jaccard``
    (percent), ``frames``, ``at_edge`` (the best is the first or last
    candidate: the grid may be too narrow).
    """
    lambdas = np.geomspace(1e-3, 1.0, 30) if lambdas is None else np.asarray(lambdas, dtype=np.float64)
    rng = np.random.default_rng(rng)
    frames = np.sort(rng.choice(len(stack), size=min(n_frames, len(stack)), replace=False))
    truth = np.asarray(counts)[frames] > 0
    scores = []
    for lam in lambdas:
        x = cel0_frames(np.asarray(stack)[frames], optics=optics, lam=lam, options=options, device=device)
        scores.append(match_pixels(x > 0, truth, tol, metric=metric).jaccard)
    k = int(np.argmax(scores))
    return {"best": float(lambdas[k]), "lambdas": lambdas.tolist(), "jaccard": [float(s) for s in scores],
            "frames": frames.tolist(), "at_edge": k in (0, len(lambdas) - 1)}
