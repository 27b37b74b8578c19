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
import math
import time
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..._device import resolve_device
from ...errors import InputError
from ...io.atomic import atomic_path
from ...io.hashing import file_sha256
from ...io.training_files import read_checkpoint
from .common import BaselineResult, check_calibration, check_optics, real_number, validate_stack

__all__ = ["LSPARCOMNet", "lsparcom", "variance_input", "save_lsparcom", "load_lsparcom", "shipped_lsparcom_path",
           "target_scale", "write_lsparcom_manifest", "check_trained_optics", "FORMAT", "DEFAULT_THRESHOLD",
           "SIGMA_TOLERANCE"]

FORMAT = "pointillist-lsparcom/1"
SHIPPED_NAME = "lsparcom.pt"
#: support = output > threshold * max(output); calibrated on simulated filaments and tubes by
#: benchmarks/baselines_calibration.py (docs/benchmarks.md, "Baselines")
DEFAULT_THRESHOLD = 0.2
#: relative PSF-width mismatch (camera pixels) accepted between the data and the weights' training optics
SIGMA_TOLERANCE = 0.15


class LSPARCOMNet(nn.Module):
    """The unfolded ISTA network (``folds`` folds after an initial one).

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


def save_lsparcom(net: LSPARCOMNet, path, *, optics: dict, output_scale: float, training: dict | None = None,
                  overwrite: bool = False) -> Path:
    """Write a checkpoint atomically (architecture, weights, the optics it was trained for, output scale, training)."""
    path = Path(path)
    state = {"format": FORMAT, "folds": net.folds, "input_kernel": net.input_kernel, "state_kernel": net.state_kernel,
             "optics": dict(optics), "target_scale": float(output_scale),
             "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}, "training": training or {}}
    with atomic_path(path, overwrite=overwrite) as tmp:
        torch.save(state, tmp)
    return path


def shipped_lsparcom_path() -> Path:
    path = Path(str(resources.files("pointillist") / "weights" / SHIPPED_NAME))
    if not path.is_file():
        raise InputError(f"the shipped LSPARCOM weights {path} are missing from this installation; give --weights PATH")
    return path


def load_lsparcom(path=None, *, device="cpu") -> LSPARCOMNet:
    """Load LSPARCOM weights (the shipped ones if ``path`` is None), in eval mode, offline.

    ``.trained_optics`` holds ``upsample`` and ``sigma_px`` (PSF sigma in
    camera pixels) the weights were trained for; ``.target_scale`` the
    factor the outputs carry (see ``target_scale``).

    Examples
    --------
    >>> net = load_lsparcom()
    >>> net.folds, net.trained_optics["upsample"]
    (10, 4)
    """
    path = shipped_lsparcom_path() if path is None else Path(path)
    state = read_checkpoint(path, FORMAT, "LSPARCOM weights")
    net = LSPARCOMNet(state["folds"], state["input_kernel"], state["state_kernel"])
    net.load_state_dict(state["state_dict"])
    net = net.to(resolve_device(device)).eval()
    net.trained_optics = dict(state["optics"])
    net.target_scale = float(state["target_scale"])
    net.training_summary = dict(state.get("training", {}))
    net.path, net.sha256 = str(path), file_sha256(path)
    return net


def write_lsparcom_manifest(folder, *, note: str = "") -> Path:
    """(Re)write ``folder/lsparcom.manifest.json`` for ``folder/lsparcom.pt`` (what, how trained, sha256)."""
    from ...io.atomic import write_json

    folder = Path(folder)
    path = folder / SHIPPED_NAME
    net = load_lsparcom(path)
    t = net.training_summary
    entry = {
        "file": SHIPPED_NAME, "method": "lsparcom",
        "architecture": {"name": "unfolded ISTA (relu soft threshold)", "folds": net.folds,
                         "input_kernel": net.input_kernel, "state_kernel": net.state_kernel,
                         "parameters": sum(p.numel() for p in net.parameters())},
        "optics": net.trained_optics, "target_scale": net.target_scale,
        **{k: t.get(k) for k in ("config", "epochs_run", "best_epoch", "best_val_loss", "n_train", "n_val",
                                 "device", "seconds")},
        "sha256": file_sha256(path), "bytes": path.stat().st_size,
    }
    return write_json(folder / "lsparcom.manifest.json", {"note": note, "lsparcom": entry}, overwrite=True)


def check_trained_optics(net: LSPARCOMNet, optics) -> None:
    """Refuse optics the weights were not trained for (other q, PSF sigma off by over 15 %), saying how to train."""
    trained = net.trained_optics
    q, sigma = int(trained["upsample"]), float(trained["sigma_px"])
    if optics.upsample != q or abs(optics.sigma_px / sigma - 1) > SIGMA_TOLERANCE:
        raise InputError(
            f"these LSPARCOM weights were trained for --upsample {q} and a PSF sigma of {sigma:.2f} camera pixels; "
            f"the data have --upsample {optics.upsample} and sigma {optics.sigma_px:.2f} px. Train weights for "
            f"these optics with `pointillist train --method lsparcom --upsample {optics.upsample} --pixel-size "
            f"{optics.pixel_size_nm:g} --psf-fwhm {optics.sigma_nm * 2 * math.sqrt(2 * math.log(2)):.1f} -o "
            "lsparcom.pt` and pass --weights lsparcom.pt")


def temporal_variance(data: np.ndarray, *, chunk: int = 256) -> np.ndarray:
    """Per-pixel temporal variance (``T - 1`` normalisation), accumulated in chunks around a pilot mean.

    Examples
    --------
    >>> data = np.random.default_rng(0).normal(size=(50, 4, 5))
    >>> bool(np.allclose(temporal_variance(data, chunk=7), data.var(axis=0, ddof=1)))
    True
    """
    pilot = data[: min(chunk, len(data))].mean(axis=0, dtype=np.float64)
    s1 = np.zeros(data.shape[1:])
    s2 = np.zeros(data.shape[1:])
    for start in range(0, len(data), chunk):
        d = np.asarray(data[start : start + chunk], dtype=np.float64) - pilot
        s1 += d.sum(axis=0)
        s2 += (d * d).sum(axis=0)
    t = len(data)
    return (s2 - s1 * s1 / t) / (t - 1)


def lsparcom(stack, *, optics, weights=None, threshold: float = DEFAULT_THRESHOLD, offset: float = 0.0,
             gain: float = 1.0, device=None, progress: bool = False) -> BaselineResult:
    """LSPARCOM: the trained unfolded-ISTA network applied to the temporal variance of the frames.

    Parameters
    ----------
    stack : array (T, H, W)
    optics : Optics
        Must match the optics the weights were trained for (same q, PSF
        sigma within 15 %); the shipped weights: q = 4, FWHM 258.21 nm at
        100 nm pixels.
    weights : path or LSPARCOMNet, optional
        Default: the shipped weights.
    threshold : float
        Support = output > threshold * max(output).
    offset, gain : float
        Camera calibration (the variance scales with 1 / gain^2).
    device : str, optional
    progress : bool
        Unused (one forward pass); accepted as every method's.

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
    optics = check_optics(optics)
    check_calibration(offset, gain)
    threshold = real_number("threshold", threshold, low=0, high=1)
    data = validate_stack(stack, "LSPARCOM")  # the offset cancels in the variance
    dev = resolve_device(device)
    if isinstance(weights, LSPARCOMNet):
        net = copy.deepcopy(weights).to(dev).eval()  # the caller's network stays where it is, in its mode
    elif weights is None or isinstance(weights, (str, Path)):
        net = load_lsparcom(weights, device=dev)
    else:
        raise InputError(f"weights must be a checkpoint path or an LSPARCOMNet, got {type(weights).__name__}")
    if not hasattr(net, "trained_optics") or not hasattr(net, "target_scale"):
        raise InputError("an LSPARCOMNet passed as weights needs .trained_optics and .target_scale "
                         "(load it with load_lsparcom)")
    check_trained_optics(net, optics)
    u, scale = variance_input(temporal_variance(data) / gain**2, optics.upsample)
    with torch.no_grad():
        out = net(torch.as_tensor(u, dtype=torch.float32, device=dev)[None, None])[0, 0].double().cpu().numpy()
    image = out * (scale / net.target_scale)
    support = image > threshold * image.max() if image.max() > 0 else np.zeros(image.shape, dtype=bool)
    params = {"threshold": threshold, "weights": getattr(net, "path", None),
              "weights_sha256": getattr(net, "sha256", None),
              "trained_optics": net.trained_optics, "folds": net.folds, "offset": offset, "gain": gain,
              "device": str(dev), "optics": optics.as_dict(), "n_frames": int(data.shape[0])}
    return BaselineResult(image=image, method="lsparcom", optics=optics, seconds=time.perf_counter() - t0,
                          support=support, parameters=params, extra={"variance_scale": scale})
