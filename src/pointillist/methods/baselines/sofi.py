"""SOFI: cumulant images of a fluctuation stack (Dertinger et al. 2009, XC-SOFI 2010, bSOFI 2012; SPEC section 6).

Cumulants are accumulated over chunks of frames in float64 torch, so that
memory does not grow with the number of frames beyond the stack itself.
``δF = F - <F>_t`` on the calibrated frames (photons); the camera offset cancels in every cumulant.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..._device import resolve_device
from ...acquisition import as_acquisition
from ...errors import InputError
from ...optics import require_optics
from .common import BaselineResult, to_fine_grid

__all__ = ["sofi"]

#: float64 values per chunk of frames (32 MiB); tests lower it to exercise the chunking
_CHUNK_VALUES = 1 << 22
#: Richardson-Lucy iterations and relative noise level of the bSOFI linearisation (SOFItool defaults)
_RL_ITERATIONS = 5
_LINEAR_NOISE = 0.01
#: bSOFI parameters are estimated where c2 exceeds this fraction of its maximum (c3/c2, c4/c2 are noise elsewhere)
_PARAMETER_FLOOR = 0.1

# (first pixel offset, second pixel offset) of the XC2 pairs; the midpoint of pixels r1, r2 is native index r1 + r2
_PAIRS = {
    "v1": ((0, 0), (1, 0)), "h1": ((0, 0), (0, 1)),
    "d1": ((0, 0), (1, 1)), "d2": ((1, 0), (0, 1)),
    "v2": ((0, 0), (2, 0)), "h2": ((0, 0), (0, 2)),
}


def sofi(stack, *, optics, order=2, mode="xc", lag=0, balanced=False, offset=None, gain=None, calibration=None,
         device=None, progress=False) -> BaselineResult:
    """SOFI image of a fluctuation stack: a cumulant of each pixel's intensity in time.

    Parameters
    ----------
    stack : array_like (T, H, W), path or Acquisition
        Frames in camera units; ``(stack - offset) / gain`` is analysed.
    optics : Optics
        ``sigma_px`` (Gaussian PSF) is needed for mode "xc" and for bSOFI;
        ``upsample`` q sets the output grid.
    order : {2, 3, 4}
        Cumulant order. ``image`` is the order-2 cumulant itself (positive
        in expectation; negative values from noise are kept) and ``|κ_n|``
        for orders 3 and 4, whose sign depends on the on-ratio
        (``extra["native"]`` keeps the sign).
    mode : {"xc", "ac"}
        "xc" (order 2 only): cross-cumulants of distinct pixels on the
        virtual-pixel grid (2H - 1, 2W - 1), each divided by its distance
        factor ``exp(-d^2 / (4 sigma^2))``; white pixel noise does not enter.
        An on-pixel site averages the pairs (r - e, r + e) that exist; the
        four image corners have none and take the auto-cumulant at time lag
        ``max(lag, 1)`` instead (near 0 for blinking uncorrelated between
        frames). "ac": auto-cumulants on the camera grid.
    lag : int
        Time lag τ in frames. Order n uses the products
        ``δF(t) δF(t+τ) ... δF(t+(n-1)τ)`` over ``t < T - (n-1)τ`` (with
        the pair terms of κ4 over the same frames), so white noise cancels
        for τ >= 1. In mode "xc" the pair products are symmetrised,
        ``(δF1(t) δF2(t+τ) + δF2(t) δF1(t+τ)) / 2``.
    balanced : bool
        bSOFI: the auto-cumulants c2, c3, c4 at ``lag`` give maps of the
        brightness ``eps`` (calibrated units per frame, times the PSF value
        at the pixel), the on-ratio ``rho`` and the density (SPEC 6.2) where
        c2 exceeds 10 % of its maximum (0 elsewhere). They are formed from
        the cumulants themselves, not deconvolved ones: for one emitter
        ``c_n = (eps U)^n f_n(rho)`` at every pixel, so ``rho`` does not
        depend on the PSF, whereas SOFItool's deconvolution drops the sign
        of c3 and c4 (c4 < 0 for 0.21 < rho < 0.79). ``image`` is the
        linearised 4th-order image (SOFItool: ``|c4|`` minus its mean and
        clipped at 0, 5 Richardson-Lucy iterations with a Gaussian of
        ``sigma / 2``, 4th root, values under 4 % of the maximum set to 0),
        with the negative ringing of the resampling set to 0. ``order``
        must be 2 (the default) or 4; the result records order 4, mode "ac".
    offset, gain : float or ndarray, optional
        Camera offset and gain (ADU per photon); or ``calibration``.
    calibration : Calibration, optional
    device : str, optional
        Torch device; None means CPU.
    progress : bool
        Progress bar over the chunks of frames.

    Returns
    -------
    BaselineResult
        ``image`` on the fine grid (qH, qW), resampled band-limited from the
        native grid; ``extra["native"]`` is the native-grid image (samples
        at ``native_start + k * native_step`` camera pixels). bSOFI adds
        ``cumulant2/3/4`` (signed, camera grid), ``brightness``,
        ``on_ratio``, ``density`` and ``parameter_mask`` (1 where the
        parameters are defined; the maps are 0 elsewhere).

    Examples
    --------
    >>> from pointillist.optics import Optics
    >>> rng = np.random.default_rng(0)
    >>> stack = rng.poisson(20.0, size=(30, 6, 5))
    >>> res = sofi(stack, optics=Optics(pixel_size_nm=100, psf_fwhm_nm=250, upsample=2))
    >>> res.image.shape, res.extra["native"].shape, res.extra["native_step"]
    ((12, 10), (11, 9), 0.5)
    """
    start_time = time.perf_counter()
    optics = require_optics(optics)
    arr = as_acquisition(stack, offset=offset, gain=gain, calibration=calibration).require(
        "SOFI", min_frames=2, fluctuations=True)
    n_frames = arr.n_frames
    order, mode, lag = _check_options(order, mode, lag, balanced, optics, n_frames)
    dev = resolve_device(device)
    if balanced:
        image, extra = _balanced(arr, optics, lag, dev, progress)
    elif mode == "xc":
        native = _xc2(arr, optics.sigma_px, lag, dev, progress)
        extra = {"native": native, "native_start": 0.5, "native_step": 0.5}
        image = to_fine_grid(native, start=0.5, step=0.5, upsample=optics.upsample)
    else:
        native = _auto_cumulants(arr, (order,), lag, dev, progress)[order]
        extra = {"native": native, "native_start": 0.5, "native_step": 1.0}
        image = to_fine_grid(native, start=0.5, step=1.0, upsample=optics.upsample)
        if order > 2:
            image = np.abs(image)
    parameters = {"order": order, "mode": mode, "lag": lag, "balanced": bool(balanced),
                  **arr.calibration.as_dict(), "device": str(dev), "optics": optics.as_dict(), "n_frames": n_frames}
    return BaselineResult(image=image, method="sofi", optics=optics, calibration=arr.calibration,
                          seconds=time.perf_counter() - start_time, n_frames=n_frames, support=None,
                          parameters=parameters, extra=extra, mean=arr.mean)


def _check_options(order, mode, lag, balanced, optics, n_frames):
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order not in (2, 3, 4):
        raise InputError(f"SOFI order must be 2, 3 or 4, got {order!r}")
    if mode not in ("xc", "ac"):
        raise InputError(f"SOFI mode must be 'xc' (cross-cumulants) or 'ac' (auto-cumulants), got {mode!r}")
    if not isinstance(balanced, (bool, np.bool_)):
        raise InputError(f"balanced must be True or False, got {balanced!r}")
    if balanced:
        if order == 3:
            raise InputError("balanced SOFI combines the orders 2, 3 and 4: leave order at its default or pass 4")
        order, mode = 4, "ac"
    elif mode == "xc" and order != 2:
        raise InputError(f"mode 'xc' (virtual pixels) is implemented for order 2 only; use mode='ac' "
                         f"(--cumulant ac) for order {order}")
    if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)) or lag < 0:
        raise InputError(f"lag must be a non-negative integer number of frames, got {lag!r}")
    lag = int(lag)
    span = max(lag, 1) if mode == "xc" else (order - 1) * lag
    if span >= n_frames:
        raise InputError(f"lag {lag} with order {order} (mode {mode!r}) needs more than {span} frames, "
                         f"the stack has {n_frames}: use a smaller lag")
    if (mode == "xc" or balanced) and not optics.is_gaussian:
        raise InputError("SOFI mode 'xc' and balanced SOFI need a Gaussian PSF width (psf_fwhm_nm); "
                         "with a measured PSF image use mode='ac' (--cumulant ac)")
    return int(order), mode, lag


def _accumulate(arr, terms, dev, progress):
    """Mean over start times ``t < T - r`` of each term, given as ``key -> (r, fn)``.

    ``fn(frames, n)`` sums a product over the first ``n`` start times of a
    chunk of centred frames, which carries ``max r`` frames beyond them.
    """
    import torch

    n_frames, h, w = arr.shape
    span = max(r for r, _ in terms.values())
    step = max(1, _CHUNK_VALUES // (h * w))
    mean = torch.as_tensor(arr.mean, device=dev)
    sums = {key: torch.zeros((), dtype=torch.float64, device=dev) for key in terms}
    starts = range(0, n_frames - min(r for r, _ in terms.values()), step)
    if progress:
        from ...progress import progress_bar

        starts = progress_bar(starts, desc="SOFI", unit="chunk")
    for s in starts:
        stop = min(n_frames, s + step + span)
        frames = torch.as_tensor(arr[s:stop], device=dev) - mean
        for key, (r, fn) in terms.items():
            n = min(s + step, n_frames - r) - s
            if n > 0:
                sums[key] = sums[key] + fn(frames, n)
    return {key: (sums[key] / (n_frames - r)).cpu().numpy() for key, (r, _) in terms.items()}


def _product(shifts):
    def fn(frames, n):
        prod = frames[shifts[0]:shifts[0] + n]
        for k in shifts[1:]:
            prod = prod * frames[k:k + n]
        return prod.sum(dim=0)
    return fn


def _auto_cumulants(arr, orders, lag, dev, progress):
    """Signed auto-cumulants ``{n: κ_n}`` (camera grid) at time lag ``lag``."""
    terms = {}
    for n in orders:
        r = (n - 1) * lag
        if n < 4:
            terms[(tuple(k * lag for k in range(n)), r)] = None
        else:
            terms[((0, lag, 2 * lag, 3 * lag), r)] = None
            for a, b in ((0, 1), (2, 3), (0, 2), (1, 3), (0, 3), (1, 2)):
                terms[((a * lag, b * lag), r)] = None
    moments = _accumulate(arr, {key: (key[1], _product(key[0])) for key in terms}, dev, progress)
    out = {}
    for n in orders:
        r = (n - 1) * lag
        if n < 4:
            out[n] = moments[(tuple(k * lag for k in range(n)), r)]
            continue
        m = {(a, b): moments[((a * lag, b * lag), r)] for a, b in ((0, 1), (2, 3), (0, 2), (1, 3), (0, 3), (1, 2))}
        out[n] = (moments[((0, lag, 2 * lag, 3 * lag), r)] - m[0, 1] * m[2, 3] - m[0, 2] * m[1, 3]
                  - m[0, 3] * m[1, 2])
    return out


def _pair(offsets, lag, shape):
    (a1, b1), (a2, b2) = offsets
    h, w = shape[0] - max(a1, a2), shape[1] - max(b1, b2)

    def fn(frames, n):
        first = frames[:, a1:a1 + h, b1:b1 + w]
        second = frames[:, a2:a2 + h, b2:b2 + w]
        prod = first[:n] * second[lag:lag + n]
        if lag:
            prod = 0.5 * (prod + second[:n] * first[lag:lag + n])
        return prod.sum(dim=0)
    return fn


def _xc2(arr, sigma, lag, dev, progress):
    """Flattened XC2 on the virtual-pixel grid (2H - 1, 2W - 1), samples at camera coordinates 0.5 + k / 2."""
    h, w = arr.shape[1:]
    corner_lag = max(lag, 1)
    terms = {name: (lag, _pair(offsets, lag, (h, w))) for name, offsets in _PAIRS.items()}
    terms["ac"] = (corner_lag, _product((0, corner_lag)))
    xc = _accumulate(arr, terms, dev, progress)
    # dividing by exp(-d^2 / (4 sigma^2)) leaves U^2 at the midpoint whatever the pair's distance (SPEC 6.2)
    f1, f2, f4 = (math.exp(-d2 / (4 * sigma**2)) for d2 in (1, 2, 4))
    native = np.zeros((2 * h - 1, 2 * w - 1))
    native[1::2, 0::2] = xc["v1"] / f1
    native[0::2, 1::2] = xc["h1"] / f1
    native[1::2, 1::2] = 0.5 * (xc["d1"] + xc["d2"]) / f2
    total, count = np.zeros((h, w)), np.zeros((h, w))
    total[1:-1, :] += xc["v2"]
    count[1:-1, :] += 1
    total[:, 1:-1] += xc["h2"]
    count[:, 1:-1] += 1
    # only the four corners have no (r - e, r + e) pair
    native[0::2, 0::2] = np.where(count > 0, total / np.maximum(count, 1) / f4, xc["ac"])
    return native


def _gaussian_blur(sigma, dev):
    import torch

    radius = max(1, int(math.ceil(4 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float64, device=dev)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = torch.outer(g, g)
    kernel = (kernel / kernel.sum())[None, None]
    return lambda img: torch.nn.functional.conv2d(img[None, None], kernel, padding=radius)[0, 0]


def _linearise(cumulant, n, sigma, dev):
    """SOFItool's linearisation of an order-n cumulant image: ``|deconvolved|^(1/n)``, small values set to 0.

    The sign is dropped (``|κ_n|``), the image mean subtracted and negative
    values clipped to 0, as SOFItool does, so that Richardson-Lucy (which
    needs a non-negative image) applies. Its blur uses zero padding and the
    update is divided by ``blur(1)`` so that the border is not darkened.
    """
    import torch

    img = np.abs(cumulant)
    img = np.maximum(img - img.mean(), 0.0)
    scale = img.max()
    if scale <= 0:
        return np.zeros_like(img)
    data = torch.as_tensor(img / scale, device=dev)
    blur = _gaussian_blur(sigma / math.sqrt(n), dev)
    norm = blur(torch.ones_like(data))
    est = data.clone()
    for _ in range(_RL_ITERATIONS):
        model = blur(est)
        ratio = torch.where(model > 1e-12, data / model.clamp_min(1e-12), torch.zeros_like(data))
        est = est * blur(ratio) / norm
    lin = (scale * est.cpu().numpy()) ** (1.0 / n)
    lin[lin < n * _LINEAR_NOISE * lin.max()] = 0.0
    return lin


def _balanced(arr, optics, lag, dev, progress):
    c = _auto_cumulants(arr, (2, 3, 4), lag, dev, progress)
    # Parameters from the cumulants themselves: for one emitter c_n(r) = (eps U(r))^n f_n(rho) at every pixel, so
    # rho does not depend on U; deconvolving each order by a few RL iterations would sharpen them unequally.
    mask = c[2] > _PARAMETER_FLOOR * c[2].max()
    c2 = np.where(mask, c[2], 1.0)
    k1, k2 = c[3] / c2, c[4] / c2
    bright = np.sqrt(np.maximum(3 * k1**2 - 2 * k2, 0.0))
    mask &= bright > 0
    bright = np.where(mask, bright, 0.0)
    ratio = np.where(mask, np.clip(0.5 - 0.5 * k1 / np.where(mask, bright, 1.0), 0.0, 1.0), 0.0)
    spread = bright**2 * ratio * (1 - ratio)
    density = np.where(mask & (spread > 0), c[2] / np.where(spread > 0, spread, 1.0), 0.0)
    native = _linearise(c[4], 4, optics.sigma_px, dev)
    image = np.maximum(to_fine_grid(native, start=0.5, step=1.0, upsample=optics.upsample), 0.0)
    extra = {"native": native, "native_start": 0.5, "native_step": 1.0, "cumulant2": c[2], "cumulant3": c[3],
             "cumulant4": c[4], "brightness": bright, "on_ratio": ratio, "density": density,
             "parameter_mask": mask.astype(np.uint8)}
    return image, extra
