"""LSPARCOM (Dardikman-Yoffe et al. 2020): SPARCOM's ISTA unfolded into a small network, on the temporal variance.

ISTA on SPARCOM's problem iterates ``x <- S_{lambda/L}((I - M/L) x + v/L)``
with ``M`` a convolution and ``v`` a filtered copy of the data. LSPARCOM
keeps that shape and learns its parts, fold by fold:

``x_0 = relu(W_0 * u - t_0)``, ``x_k = relu(K_k * x_{k-1} + W_k * u - t_k)``, k = 1..folds

with ``u`` the temporal variance of each camera pixel (the diagonal of the
lag-0 covariance, max-normalised, repeated over the q x q fine pixels of
each camera pixel), ``W_k`` large learned convolutions (the data filter),
``K_k`` small learned convolutions (the ``I - M/L`` step) and ``t_k >= 0``
learned thresholds (non-negative soft thresholding). The output is the
emitters' variance on the fine grid, relative to the input's max and
multiplied by ``target_scale(optics)`` (which puts isolated emitters at a
few units, near the input's scale); ``lsparcom`` undoes both factors.

Weights are trained for one pair (q, PSF width in camera pixels), as the
published network (x4, one PSF); ``lsparcom`` refuses other optics and says
how to train weights for them. The shipped ``weights/lsparcom.pt`` was made
by ``scripts/train_lsparcom.sh``.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..._device import resolve_device
from ...errors import InputError
from ...io.weights import LoadedWeights, check_weights_optics, load_weights
from ...acquisition import as_acquisition
from ...optics import require_optics
from .common import BaselineResult, real_number

__all__ = ["LSPARCOMNet", "lsparcom", "variance_input", "load_lsparcom", "target_scale", "ARCHITECTURE",
           "ARCHITECTURES", "DEFAULT_THRESHOLD", "SIGMA_TOLERANCE"]

#: architecture name in the weights record (keyword arguments: ``folds``, ``input_kernel``, ``state_kernel``)
ARCHITECTURE = "lsparcom-unfolded-ista"
#: support = output > threshold * max(output); calibrated on simulated filaments and tubes by
#: benchmarks/baselines_calibration.py (docs/benchmarks.md, "Baselines")
DEFAULT_THRESHOLD = 0.2
#: relative PSF-width mismatch (camera pixels) accepted between the data and the weights' training optics
SIGMA_TOLERANCE = 0.15


class LSPARCOMNet(nn.Module):
    """The unfolded ISTA network (``folds`` folds after an initial one).

    Parameters
    ----------
    folds : int
        Folds after the initial one (at least 1).
    input_kernel : int
        Side of the learned data filters ``W_k``, in fine pixels (odd).
    state_kernel : int
        Side of the learned state convolutions ``K_k``, in fine pixels (odd).

    Examples
    --------
    >>> net = LSPARCOMNet(folds=3, input_kernel=9, state_kernel=3)
    >>> net(torch.rand(2, 1, 16, 16)).shape
    torch.Size([2, 1, 16, 16])
    """

    def __init__(self, folds: int = 10, input_kernel: int = 25, state_kernel: int = 5):
        super().__init__()
        if folds < 1 or input_kernel % 2 == 0 or state_kernel % 2 == 0:
            raise InputError("LSPARCOM needs at least 1 fold and odd kernel sizes")
        self.folds, self.input_kernel, self.state_kernel = folds, input_kernel, state_kernel
        # all the data filters in one convolution: one output channel per fold
        self.data = nn.Conv2d(1, folds + 1, input_kernel, padding=input_kernel // 2, bias=False)
        self.state = nn.ModuleList(
            nn.Conv2d(1, 1, state_kernel, padding=state_kernel // 2, bias=False) for _ in range(folds))
        self.raw_thresholds = nn.Parameter(torch.full((folds + 1,), -8.0))
        with torch.no_grad():
            # start from a plain iteration (identity state step, a weak smooth data filter, thresholds near 0)
            # whose output is already on the target's scale: a larger start makes the first steps cut every
            # ReLU, and a network that outputs 0 everywhere gets no gradient back
            c = input_kernel // 2
            yy, xx = torch.meshgrid(torch.arange(input_kernel) - c, torch.arange(input_kernel) - c, indexing="ij")
            g = torch.exp(-(yy**2 + xx**2) / 8.0)
            self.data.weight.copy_((0.01 * g / g.sum()).expand_as(self.data.weight))
            for conv in self.state:
                conv.weight.zero_()
                conv.weight[0, 0, state_kernel // 2, state_kernel // 2] = 1.0

    @property
    def thresholds(self) -> torch.Tensor:
        return nn.functional.softplus(self.raw_thresholds)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        b = self.data(u)
        t = self.thresholds
        x = torch.relu(b[:, :1] - t[0])
        for k, conv in enumerate(self.state):
            x = torch.relu(conv(x) + b[:, k + 1 : k + 2] - t[k + 1])
        return x


def target_scale(optics) -> float:
    """Total camera variance (summed over camera pixels) of one unit-variance emitter, at its best-placed fine pixel.

    That is ``|Psi e_j|^2``, the emitter's squared camera image. The network
    predicts each fine pixel's emitter variance times this factor (relative
    to the input's max), which puts an isolated emitter's target at
    ``|Psi e_j|^2 / max (Psi e_j)^2`` (about 4 for the shipped optics): of
    order 1, the input's scale, rather than the ~60 of the raw ratio.

    Parameters
    ----------
    optics : Optics
        Gaussian PSF width (``sigma_px``, camera pixels) and upsampling
        factor q.

    Returns
    -------
    float
        ``|Psi e_j|^2`` of the separable Gaussian imaging operator
        (dimensionless: camera variance per unit of emitter variance), at the
        fine pixel that maximises it, away from the field's borders.

    Examples
    --------
    >>> from pointillist.optics import Optics
    >>> round(target_scale(Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)), 4)
    0.0619
    """
    from ...operators import gaussian_psi_matrix

    n, q = 16, optics.upsample
    g2 = (gaussian_psi_matrix(n, q, optics.sigma_px * q) ** 2).sum(axis=0)
    return float(g2[(n // 2 - 1) * q : (n // 2 + 1) * q].max() ** 2)


def variance_input(variance: np.ndarray, upsample: int) -> tuple[np.ndarray, float]:
    """The network input: camera-pixel variance / its max, repeated over q x q fine pixels; and the max.

    Parameters
    ----------
    variance : ndarray (H, W)
        Temporal variance of each camera pixel (photons^2 for a calibrated
        stack; any unit works, since it is divided by its maximum).
    upsample : int
        q, fine pixels per camera pixel.

    Returns
    -------
    u : ndarray (qH, qW) float64
        ``variance / max(variance)``, each camera pixel repeated over its
        q x q fine pixels (maximum 1).
    scale : float
        ``max(variance)``, in the unit of ``variance``.

    Raises
    ------
    InputError
        When the variance is zero everywhere (a stack constant in time).

    Examples
    --------
    >>> u, scale = variance_input(np.array([[1.0, 2.0], [0.0, 4.0]]), 2)
    >>> u.shape, scale, float(u[3, 3])
    ((4, 4), 4.0, 1.0)
    """
    scale = float(np.max(variance))
    if not scale > 0:
        raise InputError("the stack is constant in time: there are no fluctuations to analyse")
    q = int(upsample)
    return np.kron(variance / scale, np.ones((q, q))), scale


ARCHITECTURES = {ARCHITECTURE: LSPARCOMNet}


def load_lsparcom(path=None, *, device="cpu") -> LoadedWeights:
    """Load LSPARCOM weights (the shipped ones if ``path`` is None), in eval mode, offline.

    Parameters
    ----------
    path : path, optional
        Weights file from ``pointillist train --method lsparcom``.
    device : str or torch.device

    Returns
    -------
    LoadedWeights
        ``.net`` (an :class:`LSPARCOMNet`) and ``.record``: ``record.optics``
        the optics it was trained for (the PSF width in camera pixels is
        what must match, within ``SIGMA_TOLERANCE``), ``record.extra["output_scale"]``
        the factor the outputs carry (see ``target_scale``).

    Examples
    --------
    >>> w = load_lsparcom()
    >>> w.net.folds, w.record.optics.upsample, w.record.optics.pixel_size_tolerance
    (10, 4, None)
    """
    return load_weights(path, method="lsparcom", architectures=ARCHITECTURES, device=resolve_device(device))


def temporal_variance(data, *, chunk: int = 256) -> np.ndarray:
    """Per-pixel temporal variance (``T - 1`` normalisation), accumulated in chunks around a pilot mean.

    ``data`` is an array or an :class:`~pointillist.acquisition.Acquisition`
    (then in photons; the pass also leaves its mean frame).

    Parameters
    ----------
    data : array (T, H, W) or Acquisition
        The frames (at least 2).
    chunk : int
        Frames read at a time.

    Returns
    -------
    ndarray (H, W) float64
        The variance of each camera pixel over time, in the frames' unit
        squared (photons^2 for a calibrated acquisition).

    Examples
    --------
    >>> data = np.random.default_rng(0).normal(size=(50, 4, 5))
    >>> bool(np.allclose(temporal_variance(data, chunk=7), data.var(axis=0, ddof=1)))
    True
    """
    acq = as_acquisition(data)
    pilot, s1, s2 = None, 0.0, 0.0
    for _, block in acq.chunks(chunk):
        pilot = block.mean(axis=0) if pilot is None else pilot
        d = block - pilot
        s1 = s1 + d.sum(axis=0)
        s2 = s2 + (d * d).sum(axis=0)
    t = acq.n_frames
    return (s2 - s1 * s1 / t) / (t - 1)


def lsparcom(stack, *, optics, weights=None, threshold: float = DEFAULT_THRESHOLD, offset=None, gain=None,
             calibration=None, device=None, progress: bool = False) -> BaselineResult:
    """LSPARCOM: the trained unfolded-ISTA network applied to the temporal variance of the frames.

    Parameters
    ----------
    stack : array (T, H, W), path or Acquisition
        Raw frames (at least 2, fluctuating); ``(stack - offset) / gain`` is
        analysed.
    optics : Optics
        Must match the optics the weights were trained for (same q, PSF
        sigma within 15 %); the shipped weights: q = 4, FWHM 258.21 nm at
        100 nm pixels.
    weights : path or LoadedWeights, optional
        A weights file or what ``load_lsparcom`` returned; default: the shipped weights.
    threshold : float
        Support = output > threshold * max(output).
    offset, gain : float or ndarray, optional
        Camera calibration (the variance scales with 1 / gain^2); or ``calibration``.
    calibration : Calibration, optional
        Offset and gain together, instead of ``offset`` and ``gain``.
    device : str, optional
        Torch device of the forward pass; None means CPU.
    progress : bool
        Unused (one forward pass); accepted as every method's.

    Returns
    -------
    BaselineResult
        ``image`` (qH, qW) float64: the emitters' temporal variance in each
        fine pixel, in the calibrated unit squared (photons^2 when calibrated),
        i.e. the network output times ``max(variance) / output_scale``;
        ``support`` (qH, qW) bool, ``image > threshold * max(image)``;
        ``parameters`` (threshold, weights path and sha256, trained optics,
        folds, calibration, device, optics, number of frames);
        ``extra["variance_scale"]`` the input's normalisation
        ``max(variance)``.

    Examples
    --------
    >>> from pointillist.optics import Optics
    >>> from pointillist.simulate import simulate_fluctuation
    >>> optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
    >>> sim = simulate_fluctuation(optics=optics, shape=(12, 12), n_frames=100, n_structures=1, seed=0)
    >>> lsparcom(sim.stack, optics=optics, offset=100).image.shape
    (48, 48)
    """
    t0 = time.perf_counter()
    optics = require_optics(optics)
    threshold = real_number("threshold", threshold, low=0, high=1)
    data = as_acquisition(stack, offset=offset, gain=gain, calibration=calibration).require(
        "LSPARCOM", min_frames=2, fluctuations=True)
    dev = resolve_device(device)
    if isinstance(weights, LoadedWeights):
        # the caller's network stays where it is, in its mode
        net, record = copy.deepcopy(weights.net).to(dev).eval(), weights.record
    elif weights is None or isinstance(weights, (str, Path)):
        loaded = load_lsparcom(weights, device=dev)
        net, record = loaded.net, loaded.record
    else:
        raise InputError(f"weights must be a weights file or what load_lsparcom returned, got "
                         f"{type(weights).__name__}")
    check_weights_optics(record, optics, force_option=None)
    u, scale = variance_input(temporal_variance(data), optics.upsample)
    with torch.no_grad():
        out = net(torch.as_tensor(u, dtype=torch.float32, device=dev)[None, None])[0, 0].double().cpu().numpy()
    image = out * (scale / record.extra["output_scale"])
    support = image > threshold * image.max() if image.max() > 0 else np.zeros(image.shape, dtype=bool)
    params = {"threshold": threshold, "weights": record.path, "weights_sha256": record.sha256,
              "trained_optics": record.optics.as_dict(), "folds": net.folds,
              **data.calibration.as_dict(), "device": str(dev), "optics": optics.as_dict(), "n_frames": data.n_frames}
    return BaselineResult(image=image, method="lsparcom", optics=optics, calibration=data.calibration,
                          seconds=time.perf_counter() - t0, n_frames=data.n_frames, support=support,
                          parameters=params, extra={"variance_scale": scale}, mean=data.mean)
