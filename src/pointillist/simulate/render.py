"""Rendering point emitters into camera frames (pixel-integrated Gaussian PSF)."""

from __future__ import annotations

import numpy as np

from ..optics import gaussian_pixel_weights

__all__ = ["render_events", "render_fixed_emitters"]


def _profiles(x_nm, y_nm, shape, pixel_size_nm, sigma_nm):
    h, w = shape
    px = gaussian_pixel_weights(x_nm, np.arange(w + 1) * pixel_size_nm, sigma_nm)  # (n, W)
    py = gaussian_pixel_weights(y_nm, np.arange(h + 1) * pixel_size_nm, sigma_nm)  # (n, H)
    return py, px


def render_events(frame, x_nm, y_nm, photons, *, n_frames, shape, pixel_size_nm, sigma_nm) -> np.ndarray:
    """Expected photon counts per camera pixel for emitters that are on in given frames.

    Each event (frame, x, y, photons) adds ``photons`` times the Gaussian of
    ``sigma_nm`` integrated over each pixel (erf differences, no
    truncation). The PSF is separable, so a frame is ``Py^T diag(photons) Px``.

    Parameters
    ----------
    frame : array_like of int
        0-based frame of each event.
    x_nm, y_nm : array_like of float
        Position of each event in nm.
    photons : array_like of float
        Photons of each event.
    n_frames : int
        Number of frames of the result.
    shape : (int, int)
        Frame shape in camera pixels.
    pixel_size_nm : float
        Camera pixel size in nm.
    sigma_nm : float
        Standard deviation of the Gaussian PSF in nm.

    Returns
    -------
    ndarray of float64, shape (n_frames, *shape)
        Expected photons per pixel.

    Examples
    --------
    >>> img = render_events([0], [150.0], [150.0], [1000.0], n_frames=1, shape=(3, 3),
    ...                     pixel_size_nm=100.0, sigma_nm=1.0)
    >>> img[0].round(3).tolist()
    [[0.0, 0.0, 0.0], [0.0, 1000.0, 0.0], [0.0, 0.0, 0.0]]
    """
    frame = np.asarray(frame, dtype=np.int64)
    photons = np.asarray(photons, dtype=np.float64)
    out = np.zeros((n_frames, *shape))
    if frame.size == 0:
        return out
    py, px = _profiles(np.asarray(x_nm, float), np.asarray(y_nm, float), shape, pixel_size_nm, sigma_nm)
    order = np.argsort(frame, kind="stable")
    bounds = np.searchsorted(frame[order], np.arange(n_frames + 1))
    for t in range(n_frames):
        idx = order[bounds[t] : bounds[t + 1]]
        if idx.size:
            out[t] = py[idx].T @ (photons[idx, None] * px[idx])
    return out


def render_fixed_emitters(x_nm, y_nm, photons_per_frame, *, shape, pixel_size_nm, sigma_nm, chunk=32) -> np.ndarray:
    """Frames of fixed emitters whose photon counts vary per frame.

    Parameters
    ----------
    x_nm, y_nm : array_like of float, (n_emitters,)
        Emitter positions in nm.
    photons_per_frame : array_like of float, (T, n_emitters)
        Photons of each emitter in each frame (e.g. from ``blinking``).
    shape : (int, int)
        Frame shape in camera pixels.
    pixel_size_nm, sigma_nm : float
        Camera pixel size and Gaussian PSF standard deviation in nm.
    chunk : int, default 32
        Frames rendered at once (bounds temporary memory).

    Returns
    -------
    ndarray of float64, shape (T, H, W)
        Expected photons per pixel.

    Examples
    --------
    >>> frames = render_fixed_emitters([150.0], [50.0], [[0.0], [10.0]], shape=(2, 2), pixel_size_nm=100.0,
    ...                                sigma_nm=1.0)
    >>> frames.round(3).tolist()
    [[[0.0, 0.0], [0.0, 0.0]], [[0.0, 10.0], [0.0, 0.0]]]
    """
    photons_per_frame = np.asarray(photons_per_frame, dtype=np.float64)
    n_frames = photons_per_frame.shape[0]
    py, px = _profiles(np.asarray(x_nm, float), np.asarray(y_nm, float), shape, pixel_size_nm, sigma_nm)
    out = np.empty((n_frames, *shape))
    for start in range(0, n_frames, chunk):
        ph = photons_per_frame[start : start + chunk]
        out[start : start + chunk] = py.T @ (ph[:, :, None] * px[None])
    return out
