"""SPARCOM (Solomon et al. 2018, 2019): l1-sparse emitter variances from the lag-0 covariance of the frames.

``min_{r >= 0} lambda |r|_1 + 1/2 |R_y - A diag(r) A^T|_F^2`` solved by FISTA
with SPARCOM's periodic band-limited imaging model, whose normal operator is
one FFT convolution (``pointillist.operators.fourier``). Unlike COL0RME
there is no noise-variance variable: the noise variance on the diagonal of
``R_y`` is explained by emitters, which biases ``r`` near bright structures
(the SPEC's pitfall, kept on purpose: this is the baseline as published).
The reference code rescales the movie to a maximum of 256 and subtracts
the temporal median; neither changes the sample covariance up to a scale,
and lambda is a fraction of ``lambda_max`` here, so both are implied.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..._device import resolve_device
from ...acquisition import as_acquisition
from ...errors import InputError
from ...optics import require_optics
from .common import BaselineResult, real_number

__all__ = ["sparcom", "DEFAULT_LAMBDA_RATIO", "DEFAULT_THRESHOLD", "DEFAULT_MAX_ITER"]

#: lambda / lambda_max and the support threshold (support = r > threshold * max(r)), calibrated on simulated
#: filaments and tubes by benchmarks/baselines_calibration.py (docs/benchmarks.md, "Baselines")
DEFAULT_LAMBDA_RATIO = 0.02
DEFAULT_THRESHOLD = 0.05
#: the reference configuration's 400 FISTA iterations
DEFAULT_MAX_ITER = 400


def sparcom(stack, *, optics, lambda_ratio: float | None = None, threshold: float = DEFAULT_THRESHOLD,
            max_iter: int = DEFAULT_MAX_ITER, tol: float = 1e-6, pad: int | None = None, offset=None, gain=None,
            calibration=None, device=None, progress: bool = False) -> BaselineResult:
    """SPARCOM: sparse emitter variances on the fine grid from the covariance of the frames.

    Parameters
    ----------
    stack : array (T, H, W), path or Acquisition
        Raw frames (at least 2); ``(stack - offset) / gain`` is analysed.
    optics : Optics
        Pixel size, Gaussian PSF and super-resolution factor q.
    lambda_ratio : float, optional
        lambda / lambda_max, ``lambda_max = max_j a_j^T R_y a_j`` (the
        smallest lambda for which r = 0 is the solution); default
        ``DEFAULT_LAMBDA_RATIO``.
    threshold : float
        Support = r > threshold * max(r).
    max_iter, tol : int, float
        FISTA iteration cap (the reference code runs 400) and relative-change tolerance.
    pad : int, optional
        Constant camera pixels added on each side against the periodic
        wrap (default: 3 PSF sigmas, at least 2).
    offset, gain : float or ndarray, optional
        Camera calibration, photons = (ADU - offset) / gain; or ``calibration``.
    calibration : Calibration, optional
        Offset and gain together, instead of ``offset`` and ``gain``.
    device : str, optional
        "cpu" (default), "cuda" or "auto".
    progress : bool
        A progress bar of the FISTA iterations.

    Returns
    -------
    BaselineResult
        ``image`` = r (photons^2 per frame, the emitters' temporal variance),
        ``support``, ``history`` (objective, relative change), ``extra``
        with ``lambda`` and ``lambda_max`` on the normalised scale.

    Examples
    --------
    >>> from pointillist.optics import Optics
    >>> from pointillist.simulate import simulate_fluctuation
    >>> optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
    >>> sim = simulate_fluctuation(optics=optics, shape=(12, 12), n_frames=100, n_structures=1, seed=0)
    >>> res = sparcom(sim.stack, optics=optics, offset=100)
    >>> res.image.shape, res.support.shape
    ((48, 48), (48, 48))
    """
    from ...covariance import CovarianceFit, covariance_statistics
    from ...operators.fourier import CirculantCovarianceOperator, fourier_imaging_operator
    from ...penalties import L1
    from ...solvers import SolverOptions, fista

    t0 = time.perf_counter()
    optics = require_optics(optics, gaussian_for="SPARCOM (its Fourier model uses the Gaussian's spectrum)")
    ratio = DEFAULT_LAMBDA_RATIO if lambda_ratio is None else real_number("lambda_ratio", lambda_ratio, low=0,
                                                                          high=1, include_low=False)
    threshold = real_number("threshold", threshold, low=0, high=1)
    tol = real_number("tol", tol, low=0, high=1, include_low=False)
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise InputError(f"max_iter must be a positive integer, got {max_iter!r}")
    data = as_acquisition(stack, offset=offset, gain=gain, calibration=calibration).require("SPARCOM", min_frames=2)
    q = optics.upsample
    if pad is not None and (isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0):
        raise InputError(f"pad must be a non-negative integer, got {pad!r}")
    pad = max(2, int(math.ceil(3 * optics.sigma_px))) if pad is None else int(pad)
    dev = resolve_device(device)
    # zero-variance pixels around the field, so that the periodic model's two ends do not meet
    view = data.padded(pad)
    psi = fourier_imaging_operator(optics, view.shape[1:])
    stats = covariance_statistics(view, psi, device=dev)
    if not stats.scale > 0:
        raise InputError("the stack is constant in time: there are no fluctuations to analyse")
    op = CirculantCovarianceOperator(psi)
    fit = CovarianceFit(op, stats, device=dev, fixed_s=0.0)
    lam_max = float(fit.minus_grad_at_zero(exact=False).max())
    lam = ratio * lam_max
    bar = None
    if progress:
        from ...progress import progress_bar

        bar = progress_bar(desc="SPARCOM iterations", total=int(max_iter))
    try:
        res = fista(fit, L1(lam, nonneg=True), torch.zeros_like(fit.v), progress=bar,
                    options=SolverOptions(max_iter=int(max_iter), tol=tol, restart=True, record_objective=True))
    finally:
        if bar is not None:
            bar.close()
    crop = slice(pad * q, -pad * q if pad else None)
    r = res.x.cpu().numpy()[crop, crop] * fit.scale
    support = r > threshold * r.max() if r.max() > 0 else np.zeros(r.shape, dtype=bool)
    params = {"lambda_ratio": ratio, "threshold": threshold, "max_iter": int(max_iter), "tol": tol, "pad": pad,
              "model": "periodic band-limited (FFT normal operator)", **data.calibration.as_dict(),
              "device": str(dev), "optics": optics.as_dict(), "n_frames": int(data.shape[0]),
              "iterations": res.n_iter, "converged": res.converged}
    mean = stats.mean.cpu().numpy()[pad:-pad or None, pad:-pad or None]
    return BaselineResult(image=r, method="sparcom", optics=optics, calibration=data.calibration,
                          seconds=time.perf_counter() - t0, n_frames=data.n_frames, support=support,
                          parameters=params, history=res.history.as_dict(), mean=mean,
                          extra={"lambda": lam, "lambda_max": lam_max})
