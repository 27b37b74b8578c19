"""CEL0's lambda chosen with the ground truth, as the DeepCEL0 paper does (a benchmark helper).

Choosing a parameter by scoring against the truth is a benchmark protocol,
not part of the method, so it lives here and not in
``pointillist.methods.smlm.cel0`` (methods never import the metrics).
Benchmarks import it after putting this folder on ``sys.path``::

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from cel0_lambda import select_cel0_lambda
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pointillist import Optics
from pointillist.localizations import Localizations
from pointillist.methods.smlm.cel0 import CEL0Options, cel0_frames, spike_localizations
from pointillist.metrics import match_localizations

__all__ = ["LambdaSelection", "select_cel0_lambda"]


@dataclass
class LambdaSelection:
    """Result of :func:`select_cel0_lambda`: the best lambda and the Jaccard of every candidate."""

    best: float
    lambdas: np.ndarray
    jaccard: np.ndarray
    frames: np.ndarray
    tolerance_nm: float
    protocol: str


def select_cel0_lambda(stack, ground_truth: Localizations, *, optics: Optics, lambdas=None, n_frames: int = 8,
                       tolerance_nm: float = 50.0, protocol: str = "maxima", rng=None,
                       options: CEL0Options = CEL0Options(), device="cpu") -> LambdaSelection:
    """Pick CEL0's lambda as the DeepCEL0 paper does: the best Jaccard on a few frames with ground truth.

    By default 30 values log-spaced in [1e-3, 1] on 8 random frames,
    Jaccard at 50 nm (2 fine pixels of 25 nm). The frames of a candidate
    are solved as one batch.

    Parameters
    ----------
    stack : array_like, (T, H, W)
        Frames in photons.
    ground_truth : Localizations
        True emitters (0-based frames).
    optics : Optics
    lambdas : array_like, optional
        Candidates (absolute, on max-normalised frames).
    n_frames : int
        Frames drawn at random (without replacement) from the stack.
    tolerance_nm, protocol
        Matching tolerance and localisation protocol (see
        ``pointillist.methods.smlm.cel0.spike_localizations``).
    rng : int, numpy.random.Generator or None
        Draws the frames.
    options : CEL0Options
    device
        Where the CEL0 solves run.

    Returns
    -------
    LambdaSelection
        The best lambda, the Jaccard (percent) of every candidate and the frames used.
    """
    stack = np.asarray(stack)
    lambdas = np.geomspace(1e-3, 1.0, 30) if lambdas is None else np.asarray(lambdas, dtype=np.float64)
    rng = np.random.default_rng(rng)
    frames = np.sort(rng.choice(len(stack), size=min(n_frames, len(stack)), replace=False))
    # One solve per candidate: each stops when its own frames have converged (a single batch
    # of all candidates would iterate as long as the slowest, usually the smallest lambda).
    x = np.stack([cel0_frames(stack[frames], optics=optics, lam=lam, options=options, device=device)
                  for lam in lambdas])
    truth = ground_truth.select(np.isin(ground_truth.frame, frames))
    renumber = np.searchsorted(frames, truth.frame)
    truth = Localizations(frame=renumber, x_nm=truth.x_nm, y_nm=truth.y_nm)
    scores = np.array([
        match_localizations(spike_localizations(x[k], pixel_size_nm=optics.fine_pixel_nm, protocol=protocol), truth,
                            tolerance_nm=tolerance_nm).jaccard
        for k in range(len(lambdas))
    ])
    return LambdaSelection(best=float(lambdas[int(np.argmax(scores))]), lambdas=lambdas, jaccard=scores,
                           frames=frames, tolerance_nm=tolerance_nm, protocol=protocol)
