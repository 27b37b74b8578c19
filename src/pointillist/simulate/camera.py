"""Camera and noise models (ThunderSTORM-like camera; SNR-targeted noise)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .._rng import RNGLike, as_rng
from ..errors import InputError

__all__ = ["Camera", "smooth_background", "apply_camera", "add_noise_at_snr"]


@dataclass(frozen=True)
class Camera:
    """A camera: photons -> electrons (Poisson) + read noise -> ADU.

    Parameters
    ----------
    background : float
        Background in photons per pixel per frame (added before shot noise).
    background_kind : {"constant", "smooth"}
        ``"smooth"`` modulates the background with a random smooth field
        between 0.5x and 1.5x of ``background`` (see ``smooth_background``).
    read_noise : float
        Gaussian read noise, standard deviation in electrons.
    gain : float
        ADU per electron.
    offset : float
        Baseline in ADU.
    quantize : bool
        Round and clip to uint16, like a real camera. Otherwise float32 ADU.

    Examples
    --------
    >>> Camera(background=10).photons_to_adu_help()
    'photons = (ADU - 100.0) / 1.0'
    """

    background: float = 10.0
    background_kind: str = "constant"
    read_noise: float = 1.5
    gain: float = 1.0
    offset: float = 100.0
    quantize: bool = True

    def __post_init__(self):
        if self.background < 0 or self.read_noise < 0:
            raise InputError("camera background and read noise must be non-negative")
        if not self.gain > 0:
            raise InputError(f"camera gain must be positive (ADU per electron), got {self.gain}")
        if self.background_kind not in ("constant", "smooth"):
            raise InputError(f"background_kind must be 'constant' or 'smooth', got {self.background_kind!r}")

    def photons_to_adu_help(self) -> str:
        """How to convert this camera's ADU back to photons, as text (recorded in ``meta.json``)."""
        return f"photons = (ADU - {self.offset}) / {self.gain}"

    def as_dict(self) -> dict:
        """The fields as a plain dict (for ``meta.json``).

        Examples
        --------
        >>> Camera().as_dict()["offset"]
        100.0
        """
        return asdict(self)


def smooth_background(shape, level: float, *, rng: RNGLike = None, scale_px: float = 16.0) -> np.ndarray:
    """A positive smooth field with mean about ``level``, ranging over [0.5, 1.5] x ``level``.

    White noise low-passed by a Gaussian of ``scale_px`` pixels, rescaled.

    Parameters
    ----------
    shape : (int, int)
        Frame shape in pixels.
    level : float
        Mean background in photons per pixel.
    rng : int, numpy.random.Generator or None
        The white noise.
    scale_px : float, default 16.0
        Standard deviation of the Gaussian low-pass, in pixels.

    Returns
    -------
    ndarray of float64, shape ``shape``

    Examples
    --------
    >>> b = smooth_background((32, 32), 10.0, rng=0)
    >>> bool(b.min() >= 5.0 - 1e-9 and b.max() <= 15.0 + 1e-9)
    True
    """
    from scipy.ndimage import gaussian_filter

    rng = as_rng(rng)
    field = gaussian_filter(rng.standard_normal(tuple(shape)), scale_px, mode="wrap")
    span = field.max() - field.min()
    field = (field - field.min()) / span if span > 0 else np.full(shape, 0.5)
    return level * (0.5 + field)


def apply_camera(expected_photons: np.ndarray, camera: Camera, *, rng: RNGLike = None, background=None) -> np.ndarray:
    """Poisson shot noise on signal + background, read noise, gain, offset, quantisation.

    ``background`` (photons per pixel, broadcast to a frame) overrides the
    camera's constant background.

    Parameters
    ----------
    expected_photons : ndarray
        Expected signal photons per pixel (a frame or a stack).
    camera : Camera
        Background, read noise, gain, offset and quantisation.
    rng : int, numpy.random.Generator or None
        Shot and read noise.
    background : float or ndarray, optional
        Background photons per pixel instead of ``camera.background``.

    Returns
    -------
    ndarray
        uint16 ADU when ``camera.quantize``, else float32 ADU.

    Examples
    --------
    >>> frame = apply_camera(np.zeros((4, 4)), Camera(background=0.0, read_noise=0.0, offset=100.0), rng=0)
    >>> frame.dtype.name, int(frame.min()), int(frame.max())
    ('uint16', 100, 100)
    """
    rng = as_rng(rng)
    bg = camera.background if background is None else background
    electrons = rng.poisson(expected_photons + bg).astype(np.float64)
    if camera.read_noise > 0:
        electrons += rng.normal(0.0, camera.read_noise, electrons.shape)
    adu = electrons * camera.gain + camera.offset
    if camera.quantize:
        return np.clip(np.rint(adu), 0, 65535).astype(np.uint16)
    return adu.astype(np.float32)


def add_noise_at_snr(
    clean: np.ndarray, snr_db: float, *, rng: RNGLike = None, poisson: bool = True, definition: str = "energy"
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson (optional) plus Gaussian noise reaching a target SNR; returns (noisy, achieved SNR).

    ``definition="energy"`` is the DeepCEL0 paper's, per frame:
    ``SNR = 10 log10(|clean|^2 / |clean - noisy|^2)``. The Gaussian part of
    each frame is scaled so that the total error energy (Poisson draw
    included) equals ``|clean|^2 10^(-SNR/10)`` exactly.
    ``definition="variance"`` is the COL0RME scripts': Gaussian noise of
    variance ``var(clean) / 10^(SNR/10)`` over the whole stack, added after
    the Poisson draw (its achieved value is reported in that definition).
    The noisy stack is float (photons); it is not clipped.

    Parameters
    ----------
    clean : ndarray, (H, W) or (T, H, W)
        Clean photons (non-negative when ``poisson``).
    snr_db : float
        Target SNR in dB.
    rng : int, numpy.random.Generator or None
        The noise.
    poisson : bool, default True
        Draw Poisson noise first.
    definition : {"energy", "variance"}, default "energy"
        Which SNR is reached (see above).

    Returns
    -------
    noisy : ndarray of float64, (T, H, W)
        Noisy photons.
    achieved : ndarray of float64
        The SNR reached, per frame (``"energy"``) or one value (``"variance"``).

    Examples
    --------
    >>> clean = np.full((2, 16, 16), 100.0)
    >>> noisy, snr = add_noise_at_snr(clean, 15.0, rng=0)
    >>> bool(np.all(np.abs(snr - 15.0) < 1e-9))
    True
    """
    rng = as_rng(rng)
    clean = np.asarray(clean, dtype=np.float64)
    if clean.ndim == 2:
        clean = clean[None]
    if np.any(clean < 0) and poisson:
        raise InputError("Poisson noise needs a non-negative clean signal")
    noisy = rng.poisson(clean).astype(np.float64) if poisson else clean.copy()
    if definition == "energy":
        axes = (1, 2)
        budget = np.sum(clean**2, axis=axes) * 10.0 ** (-snr_db / 10.0)
        used = np.sum((noisy - clean) ** 2, axis=axes)
        if np.any(used > budget * 1.05):
            worst = float(10 * np.log10(np.sum(clean**2, axis=axes) / np.maximum(used, 1e-300)).min())
            raise InputError(
                f"Poisson noise alone gives an SNR of {worst:.1f} dB, below the requested {snr_db} dB; "
                "ask for a lower SNR or more photons"
            )
        # Scale a Gaussian draw g so that |residual + a g|^2 equals the budget exactly
        # (the positive root of a quadratic), so every frame hits the target SNR.
        g = rng.standard_normal(clean.shape)
        r = noisy - clean
        gg = np.sum(g * g, axis=axes)
        rg = np.sum(r * g, axis=axes)
        scale = (-rg + np.sqrt(rg**2 + gg * np.maximum(budget - used, 0.0))) / gg
        noisy += g * scale[:, None, None]
        achieved = 10 * np.log10(np.sum(clean**2, axis=axes) / np.sum((noisy - clean) ** 2, axis=axes))
    elif definition == "variance":
        sigma = np.sqrt(clean.var() / 10.0 ** (snr_db / 10.0))
        noisy += rng.standard_normal(clean.shape) * sigma
        achieved = np.array([10 * np.log10(clean.var() / np.var(noisy - clean))])
    else:
        raise InputError(f"SNR definition must be 'energy' or 'variance', got {definition!r}")
    return noisy, achieved
