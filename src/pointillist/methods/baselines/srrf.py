"""SRRF (Gustafsson et al., Nat. Commun. 2016; NanoJ-SRRF) and an eSRRF-like variant (Laine et al. 2023).

Speed: the ring offsets are the same for every magnified pixel, so the
gradient interpolated at ``centre + offset`` for all centres at once is the
separable product ``W_rows @ G @ W_cols.T`` of two Catmull-Rom weight
matrices (the row step as a 4-tap gather), for a chunk of frames at once, in
float32 (temporal sums in float64).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..._device import resolve_device
from ...errors import InputError
from ...acquisition import as_acquisition
from ...optics import require_optics
from .common import BaselineResult

__all__ = ["srrf", "catmull_rom_matrix"]

TEMPORAL = ("avg", "var", "tac2")
VARIANTS = ("srrf", "esrrf")
_DEFAULT_RADIUS = {"srrf": 0.5, "esrrf": 1.5}
_BORDER = 1.5  # NanoJ's interpolator returns 0 closer than this to the frame edge (camera px)
_TINY = 1e-20  # makes a zero gradient give d = R (no convergence) instead of 0/0, as NanoJ does


def _catmull_rom(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    near = (1.5 * x - 2.5) * x * x + 1.0
    far = ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _taps(n: int, points):
    """Catmull-Rom taps at ``points``: sample indices (4, P), clamped to the axis, and weights (4, P)."""
    pts = np.asarray(points, dtype=np.float64).ravel()
    u = pts - 0.5  # sample k sits at k + 0.5
    idx = np.floor(u).astype(np.int64)[None, :] + np.arange(-1, 3)[:, None]
    inside = (pts >= _BORDER) & (pts <= n - _BORDER)
    return np.clip(idx, 0, n - 1), _catmull_rom(u[None, :] - idx) * inside[None, :]


def catmull_rom_matrix(n: int, points) -> np.ndarray:
    """Weights ``W`` (len(points) x n) of Catmull-Rom (a = 0.5) interpolation on one axis.

    Sample ``k`` sits at the pixel centre ``k + 0.5`` (camera pixel ``k``
    covers ``[k, k + 1)``); ``W @ f`` evaluates at ``points``. As in
    NanoJ-SRRF, points closer than 1.5 pixels to either edge give 0 (a zero
    row) and taps beyond the edge are clamped to it.

    Parameters
    ----------
    n : int
        Number of samples (camera pixels) on the axis.
    points : array_like
        Positions in camera pixels where to interpolate (flattened: P
        points).

    Returns
    -------
    ndarray (P, n) float64
        ``W``; the rows of points within 1.5 pixels of an edge are zero.

    Examples
    --------
    >>> w = catmull_rom_matrix(6, [1.5, 2.5, 3.0, 0.7])
    >>> w[:2].round(12).tolist()[0], float(w[2].sum()), bool((w[3] == 0).all())
    ([0.0, 1.0, 0.0, 0.0, 0.0, 0.0], 1.0, True)
    """
    idx, wts = _taps(n, points)
    out = np.zeros((idx.shape[1], n))
    np.add.at(out, (np.broadcast_to(np.arange(idx.shape[1]), idx.shape), idx), wts)
    return out


def _samples(variant: str, radius: float, axes: int):
    """Offsets (dx, dy) in camera px of the sample points around a centre, and their weights (sum 1)."""
    n = 2 * axes
    theta = 2.0 * np.pi * np.arange(n) / n
    if variant == "srrf":
        # rounded so that cos(pi / 2) is 0, not 6e-17: a point on the 1.5 px border stays on it
        return np.round(radius * np.cos(theta), 12), np.round(radius * np.sin(theta), 12), np.full(n, 1.0 / n)
    # eSRRF (NanoPyx): radius is the FWHM of the distance weighting in camera px, weight
    # (d exp(-d^2 / 2 s^2))^4, neighbours up to 2 s + 1. NanoPyx sums over a half-pixel grid;
    # we integrate the same weighting in polar form (midpoint rule over [0.4 s, 2 s], where
    # 98 % of the weight lies; r is the area element, and all rings lie within NanoPyx's
    # 2 s + 1 reach), with the rings' angles staggered.
    sigma = radius / 2.355
    dx, dy, wts = [], [], []
    for k, r in enumerate(sigma * np.array([0.6, 1.0, 1.4, 1.8])):
        th = theta + (k % 2) * np.pi / n
        dx.append(r * np.cos(th))
        dy.append(r * np.sin(th))
        wts.append(np.full(n, (r * math.exp(-r * r / (2.0 * sigma * sigma))) ** 4 * r))
    wts = np.concatenate(wts)
    return np.round(np.concatenate(dx), 12), np.round(np.concatenate(dy), 12), wts / wts.sum()


def _cols(g, w_cols):
    """``g_b @ W_cols`` for every frame ``b`` of ``g`` (B, H, W), laid out (H, B * qW).

    With the frame axis in the middle, the row step below treats all frames at once.
    """
    b, h, w = g.shape
    return (g.reshape(b * h, w) @ w_cols).reshape(b, h, -1).permute(1, 0, 2).reshape(h, -1)


def _rows(a, taps, out=None, tmp=None):
    """``W_rows @ a`` from the 4 taps per row: a gather is 2-3x faster than the dense product."""
    import torch

    idx, wts = taps
    if out is None:
        out, tmp = (a.new_empty((idx.shape[1], a.shape[1])) for _ in range(2))
    torch.index_select(a, 0, idx[0], out=out).mul_(wts[0])
    for k in range(1, 4):
        out.addcmul_(torch.index_select(a, 0, idx[k], out=tmp), wts[k])
    return out


def _positive(name, value, what):
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and value > 0):
        raise InputError(f"{name} must be a positive number{what}, got {value!r}")
    return float(value)


def _check_options(variant, temporal, ring_radius, axes, sensitivity, chunk, intensity_weighting):
    if variant not in VARIANTS:
        raise InputError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    if temporal not in TEMPORAL:
        raise InputError(f"temporal must be one of {', '.join(TEMPORAL)}; got {temporal!r}")
    radius = _DEFAULT_RADIUS[variant] if ring_radius is None else ring_radius
    _positive("ring_radius", radius, " of camera pixels")
    _positive("sensitivity", sensitivity, " (1 = no sharpening)")
    if not isinstance(intensity_weighting, (bool, np.bool_)):
        raise InputError(f"intensity_weighting must be True or False, got {intensity_weighting!r}")
    for name, value, least in (("axes", axes, 2), ("chunk", chunk, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise InputError(f"{name} must be an integer >= {least}, got {value!r}")
    return float(radius), int(axes), int(chunk)


def srrf(
    stack,
    *,
    optics,
    magnification=None,
    ring_radius=None,
    axes=6,
    temporal="avg",
    intensity_weighting=True,
    variant="srrf",
    sensitivity=1.0,
    offset=None,
    gain=None,
    calibration=None,
    chunk=8,
    device=None,
    progress=False,
) -> BaselineResult:
    """Super-resolution radial fluctuations of a stack, on pointillist's fine grid.

    Parameters
    ----------
    stack : array (T, H, W), path or Acquisition
        Raw frames; calibrated as ``(stack - offset) / gain``.
    optics : Optics
        Gives the magnification ``optics.upsample``: magnified pixel ``j``
        has centre ``(j + 0.5) / q`` camera px, which is the fine grid.
    magnification : int, optional
        Only ``optics.upsample`` is accepted (the image must lie on the
        fine grid); change the optics to change it.
    ring_radius : float, optional
        ``"srrf"``: ring radius in camera px (default 0.5). ``"esrrf"``:
        eSRRF's ``radius``, the FWHM in camera px of the distance weighting
        (default 1.5).
    axes : int
        ``2 * axes`` points per ring (default 6: 12 points).
    temporal : {"avg", "var", "tac2"}
        ``"avg"``: mean over t of ``R_t * I_t`` (TRA), or of ``R_t``
        without intensity weighting; ``"var"``: temporal variance of
        ``R_t``; ``"tac2"``: ``|sum_t (R_t - mean)(R_{t+1} - mean)| / T``.
        The last two are multiplied by the mean interpolated intensity when
        ``intensity_weighting``. ``I_t`` is the frame interpolated at the
        magnified-pixel centre (Catmull-Rom).
    intensity_weighting : bool
    variant : {"srrf", "esrrf"}
        ``"srrf"``: SPEC 7 (NanoJ-SRRF), ``R_t = max(mean_i +-D_i, 0)``.
        ``"esrrf"``: eSRRF's radial gradient convergence (NanoPyx):
        weighted mean over neighbours of ``1 - d/dist`` for gradients that
        point towards the centre, weights ``(dist exp(-dist^2/2s^2))^4``,
        ``s = ring_radius / 2.355``. The neighbourhood is sampled on 4
        rings of ``2 * axes`` points (radii 0.6 to 1.8 s), a polar
        quadrature of the same weighted sum, not NanoPyx's half-pixel loop.
    sensitivity : float
        Exponent applied to ``R_t`` after clipping (eSRRF's sensitivity;
        1 leaves SRRF as in SPEC 7).
    offset, gain : float or ndarray, optional
        Camera offset (ADU) and gain (ADU per photon); or ``calibration``.
    calibration : Calibration, optional
    chunk : int
        Frames processed together (8 keeps the working set in cache).
    device : str or torch.device, optional
        None means CPU.
    progress : bool
        A progress bar over chunks.

    Returns
    -------
    BaselineResult
        ``image`` (qH, qW) float64, computed in float32. With intensity
        weighting it is zero within 1.5 camera px of the edges, where
        NanoJ's interpolation returns 0.

    Examples
    --------
    >>> from pointillist.optics import Optics
    >>> yy, xx = np.mgrid[0:8, 0:8] + 0.5
    >>> spot = np.exp(-((yy - 4.2) ** 2 + (xx - 3.9) ** 2) / (2 * 1.1**2))
    >>> stack = spot * np.array([1.0, 3.0, 2.0])[:, None, None]
    >>> res = srrf(stack, optics=Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4))
    >>> res.image.shape, np.unravel_index(res.image.argmax(), res.image.shape)
    ((32, 32), (np.int64(16), np.int64(15)))
    """
    import torch

    from ...progress import progress_bar

    started = time.perf_counter()
    optics = require_optics(optics)
    q = optics.upsample
    if magnification is not None and magnification != q:
        raise InputError(
            f"magnification {magnification!r} differs from optics.upsample = {q}: the SRRF image must lie on the "
            "fine grid, so set the upsample factor of the optics instead (or leave magnification out)"
        )
    radius, axes, chunk = _check_options(variant, temporal, ring_radius, axes, sensitivity, chunk, intensity_weighting)
    arr = as_acquisition(stack, offset=offset, gain=gain, calibration=calibration).require(
        "SRRF", min_frames=2, fluctuations=True)
    n_frames, h, w = arr.shape
    if temporal == "tac2" and n_frames < 3:
        raise InputError(f"temporal='tac2' needs at least 3 frames, the stack has {n_frames}")
    dev = resolve_device(device)
    # radiality is scale-free; working at unit scale keeps float32 and _TINY well conditioned
    # (this pass also checks the values and leaves the mean frame for the preview)
    scale = max(float(np.abs(block).max()) for _, block in arr.chunks()) or 1.0

    def tensor(a):
        return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=dev)

    rows_c, cols_c = (np.arange(q * h) + 0.5) / q, (np.arange(q * w) + 0.5) / q
    dx, dy, weights = _samples(variant, radius, axes)
    xs, x_of = np.unique(dx, return_inverse=True)
    ys, y_of = np.unique(dy, return_inverse=True)
    w_cols = [tensor(catmull_rom_matrix(w, cols_c + x).T) for x in (0.0, *xs)]

    def row_taps(y):
        idx, wts = _taps(h, rows_c + y)
        return torch.as_tensor(idx, device=dev), tensor(wts[:, :, None])

    taps = [row_taps(y) for y in (0.0, *ys)]  # index 0: the centres themselves
    right, left = np.minimum(np.arange(w) + 1, w - 1), np.maximum(np.arange(w) - 1, 0)
    down, up = np.minimum(np.arange(h) + 1, h - 1), np.maximum(np.arange(h) - 1, 0)

    f64 = torch.float64
    zeros = torch.zeros((q * h, q * w), dtype=f64, device=dev)
    main, sum_r, sum_i, lag = zeros.clone(), zeros.clone(), zeros.clone(), zeros.clone()
    first = last = None
    starts = range(0, n_frames, chunk)
    for t0 in progress_bar(starts, desc=variant.upper(), enabled=progress):
        frames = tensor(arr[t0 : t0 + chunk] / scale)
        b = frames.shape[0]
        grads = torch.cat([frames[:, :, right] - frames[:, :, left], frames[:, down, :] - frames[:, up, :]])
        rad = torch.zeros((q * h, b, q * w), dtype=torch.float32, device=dev)
        radial, conv, mag = (torch.empty_like(rad) for _ in range(3))
        g, tmp = (torch.empty((q * h, 2 * b, q * w), dtype=torch.float32, device=dev) for _ in range(2))
        for k in range(len(xs)):
            partial = _cols(grads, w_cols[k + 1])  # shared by the samples with this x offset
            for i in np.nonzero(x_of == k)[0]:
                _rows(partial, taps[y_of[i] + 1], g.view(q * h, -1), tmp.view(q * h, -1))
                gx, gy = g[:, :b], g[:, b:]
                r = math.hypot(dx[i], dy[i])
                c, s, wt = dx[i] / r, dy[i] / r, float(weights[i])
                # in-place ops on reused buffers: this loop is the run time
                torch.mul(gx, c, out=radial).add_(gy, alpha=s)  # > 0: G points away from the centre
                torch.mul(gx, s, out=conv).sub_(gy, alpha=c).abs_().add_(_TINY)
                torch.mul(gx, gx, out=mag).addcmul_(gy, gy).sqrt_().add_(_TINY)
                conv.div_(mag).sub_(1.0)  # d / dist - 1 = -(1 - d / dist)
                if variant == "srrf":  # -(+-D): subtract D where G diverges, add where it converges
                    rad.sub_(conv.square_().copysign_(radial), alpha=wt)
                else:  # eSRRF counts converging G only: (D - sign(radial) D) / 2
                    rad.sub_(conv, alpha=wt / 2).sub_(conv.copysign_(radial), alpha=wt / 2)
        rad.clamp_min_(0.0)
        if sensitivity != 1:
            rad.pow_(float(sensitivity))
        if intensity_weighting:
            inten = _rows(_cols(frames, w_cols[0]), taps[0]).view(q * h, b, q * w)
        if temporal == "avg":
            main += (rad * inten if intensity_weighting else rad).sum(1, dtype=f64)
        else:
            sum_i += inten.sum(1, dtype=f64) if intensity_weighting else 0.0
            sum_r += rad.sum(1, dtype=f64)
            if temporal == "var":
                main += (rad * rad).sum(1, dtype=f64)
            else:
                lag += (rad[:, 1:] * rad[:, :-1]).sum(1, dtype=f64)
                if last is not None:
                    lag += last * rad[:, 0]
                first = rad[:, 0].to(f64) if first is None else first
                last = rad[:, -1].to(f64)

    mean_r = sum_r / n_frames
    if temporal == "avg":
        image = main / n_frames
    elif temporal == "var":
        image = (main / n_frames - mean_r**2).clamp_min_(0.0)
    else:
        # sum_{t<T-1} (R_t - m)(R_{t+1} - m), from the running sums
        cross = lag - mean_r * (2.0 * sum_r - first - last) + (n_frames - 1) * mean_r**2
        image = cross.abs_() / n_frames
    if intensity_weighting:
        image = image * (sum_i / n_frames if temporal != "avg" else 1.0) * scale
    parameters = dict(
        variant=variant, magnification=q, ring_radius=radius, axes=axes, temporal=temporal,
        intensity_weighting=bool(intensity_weighting), sensitivity=float(sensitivity), **arr.calibration.as_dict(),
        chunk=chunk, device=str(dev), dtype="float32", n_samples=int(dx.size),
        n_frames=int(n_frames), optics=optics.as_dict(),
    )
    return BaselineResult(
        image=image.cpu().numpy().astype(np.float64),
        method=variant,
        optics=optics,
        calibration=arr.calibration,
        seconds=time.perf_counter() - started,
        n_frames=n_frames,
        parameters=parameters,
        mean=arr.mean,
    )
