"""Microscope optics: camera pixel size, PSF and super-resolution factor.

All lengths at the interface are in nm; operators work in pixel indices of
the fine grid (pixel size ``pixel_size_nm / upsample``).

PSF width from wavelength and numerical aperture
------------------------------------------------
``Optics.from_wavelength(wavelength_nm, na, convention=...)`` turns an
emission wavelength and NA into the FWHM of the Gaussian PSF model:

* ``"airy"`` (default): FWHM = 0.5145 lambda / NA, the full width at half
  maximum of the Airy pattern of a circular pupil.
* ``"rayleigh"``: FWHM = 0.61 lambda / NA, the Rayleigh radius, which the
  COL0RME reference scripts use as "FWHM" for real data (larger than the
  true Airy FWHM; keep it for comparability with those results).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError

__all__ = ["Optics", "FWHM_TO_SIGMA", "fwhm_from_wavelength", "gaussian_pixel_weights"]

#: sigma = FWHM * FWHM_TO_SIGMA for a Gaussian.
FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))

_FWHM_FACTORS = {"airy": 0.5145, "rayleigh": 0.61}


def fwhm_from_wavelength(wavelength_nm: float, na: float, *, convention: str = "airy") -> float:
    """PSF FWHM in nm from the emission wavelength and the numerical aperture.

    Examples
    --------
    >>> round(fwhm_from_wavelength(525, 1.33, convention="rayleigh"), 1)
    240.8
    """
    if convention not in _FWHM_FACTORS:
        raise InputError(f"convention must be one of {sorted(_FWHM_FACTORS)}, got {convention!r}")
    if not wavelength_nm > 0:
        raise InputError(f"wavelength_nm must be positive, got {wavelength_nm}")
    if not 0 < na < 2:
        raise InputError(f"numerical aperture must be in (0, 2), got {na}")
    return _FWHM_FACTORS[convention] * wavelength_nm / na


def gaussian_pixel_weights(centers: np.ndarray, edges: np.ndarray, sigma: float) -> np.ndarray:
    """Integral of a unit Gaussian of width ``sigma`` over pixel intervals.

    ``out[k, j] = Phi((edges[j+1] - centers[k]) / sigma) - Phi((edges[j] - centers[k]) / sigma)``:
    the fraction of the light of a point source at ``centers[k]`` that falls
    in the pixel ``[edges[j], edges[j+1])``. Any length unit works.

    Examples
    --------
    >>> w = gaussian_pixel_weights(np.array([50.0]), np.arange(0, 1001, 100.0), 110.0)
    >>> w.shape, round(float(w.sum()), 4)
    ((1, 10), 0.6753)
    """
    from scipy.special import ndtr

    z = (np.asarray(edges, np.float64)[None, :] - np.asarray(centers, np.float64)[:, None]) / sigma
    cdf = ndtr(z)
    return np.diff(cdf, axis=1)


#: camera pixel sizes in the sample (nm) that any microscope gives: from a 1 nm scan step to a 10 um low-NA pixel
PIXEL_SIZE_RANGE_NM = (1.0, 1e4)
#: largest super-resolution factor: beyond 16 fine pixels per camera pixel the fine grid holds no information
MAX_UPSAMPLE = 16
#: PSF FWHM in camera pixels: below 0.2 a pixel holds the whole spot, above 50 a frame holds a few spots at most
FWHM_RANGE_PX = (0.2, 50.0)


@dataclass(frozen=True)
class Optics:
    """Camera pixel size, PSF and super-resolution factor.

    Parameters
    ----------
    pixel_size_nm : float
        Camera (back-projected) pixel size in nm.
    psf_fwhm_nm : float, optional
        FWHM of the Gaussian PSF in nm. Required unless ``psf_image`` is given.
    upsample : int
        Super-resolution factor q: the fine grid has pixels of
        ``pixel_size_nm / upsample``.
    psf_image : ndarray, optional
        A measured PSF sampled on the fine grid (odd or even size; its centre
        is pixel ``(K // 2, K // 2)``), used as the blur kernel instead of the
        Gaussian. It is normalised to sum 1.
    psf_pixel_size_nm : float, optional
        Pixel size of ``psf_image``; must equal the fine pixel size.

    Examples
    --------
    >>> optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
    >>> optics.fine_pixel_nm, round(optics.sigma_nm, 2), round(optics.sigma_fine_px, 3)
    (25.0, 109.65, 4.386)
    """

    pixel_size_nm: float
    psf_fwhm_nm: float | None = None
    upsample: int = 4
    psf_image: np.ndarray | None = field(default=None, repr=False, compare=False)
    psf_pixel_size_nm: float | None = None

    def __post_init__(self):
        p = self.pixel_size_nm
        if not (isinstance(p, (int, float, np.floating, np.integer)) and math.isfinite(p) and p > 0):
            raise InputError(f"pixel_size_nm must be a positive number of nm, got {p!r}")
        if not PIXEL_SIZE_RANGE_NM[0] <= p <= PIXEL_SIZE_RANGE_NM[1]:
            raise InputError(f"pixel_size_nm {p:g} nm is outside what a microscope camera sees in the sample "
                             f"([{PIXEL_SIZE_RANGE_NM[0]:g}, {PIXEL_SIZE_RANGE_NM[1]:g}] nm); check the units")
        q = self.upsample
        if isinstance(q, bool) or not isinstance(q, (int, np.integer)) or q < 1:
            raise InputError(f"upsample must be a positive integer (super-resolution factor q), got {q!r}")
        if q > MAX_UPSAMPLE:
            raise InputError(f"upsample {q} is beyond any useful super-resolution factor (at most {MAX_UPSAMPLE})")
        object.__setattr__(self, "upsample", int(q))
        object.__setattr__(self, "pixel_size_nm", float(p))
        if self.psf_image is None:
            f = self.psf_fwhm_nm
            if f is None:
                raise InputError("give the PSF: psf_fwhm_nm (nm), a wavelength and NA, or a measured psf_image")
            if not (math.isfinite(f) and f > 0):
                raise InputError(f"psf_fwhm_nm must be a positive number of nm, got {f!r}")
            lo, hi = FWHM_RANGE_PX
            if not lo <= f / p <= hi:
                raise InputError(f"psf_fwhm_nm {f:g} nm is {f / p:.3g} camera pixels of {p:g} nm; a PSF that can be "
                                 f"imaged spans {lo:g} to {hi:g} pixels: check the units of --psf-fwhm and "
                                 "--pixel-size")
            object.__setattr__(self, "psf_fwhm_nm", float(f))
        else:
            kernel = np.asarray(self.psf_image, dtype=np.float64)
            if kernel.ndim != 2 or min(kernel.shape) < 1:
                raise InputError(f"psf_image must be a 2-D image, got shape {kernel.shape}")
            if not np.all(np.isfinite(kernel)):
                raise InputError("psf_image contains NaN or infinite values")
            if kernel.sum() <= 0:
                raise InputError("psf_image must have a positive sum")
            fine = self.pixel_size_nm / self.upsample
            if self.psf_pixel_size_nm is not None and not math.isclose(self.psf_pixel_size_nm, fine, rel_tol=1e-3):
                raise InputError(
                    f"inconsistent pixel sizes: the PSF image has {self.psf_pixel_size_nm} nm pixels but the "
                    f"fine grid has {fine} nm (pixel size {self.pixel_size_nm} nm / upsample {self.upsample}); "
                    "resample the PSF or change --upsample"
                )
            object.__setattr__(self, "psf_image", kernel / kernel.sum())

    @classmethod
    def from_wavelength(cls, *, pixel_size_nm, wavelength_nm, na, upsample=4, convention="airy") -> "Optics":
        """Optics with the Gaussian FWHM from wavelength and NA (see module docstring)."""
        fwhm = fwhm_from_wavelength(wavelength_nm, na, convention=convention)
        return cls(pixel_size_nm=pixel_size_nm, psf_fwhm_nm=fwhm, upsample=upsample)

    @property
    def fine_pixel_nm(self) -> float:
        """Pixel size of the fine grid in nm."""
        return self.pixel_size_nm / self.upsample

    @property
    def sigma_nm(self) -> float:
        """Gaussian standard deviation in nm (Gaussian PSF only)."""
        self._require_gaussian()
        return self.psf_fwhm_nm * FWHM_TO_SIGMA

    @property
    def sigma_px(self) -> float:
        """Gaussian standard deviation in camera pixels."""
        return self.sigma_nm / self.pixel_size_nm

    @property
    def sigma_fine_px(self) -> float:
        """Gaussian standard deviation in fine pixels."""
        return self.sigma_nm / self.fine_pixel_nm

    @property
    def is_gaussian(self) -> bool:
        return self.psf_image is None

    def _require_gaussian(self):
        if self.psf_image is not None:
            raise InputError("this needs a Gaussian PSF (psf_fwhm_nm); the optics use a measured PSF image")

    def as_dict(self) -> dict:
        """JSON-friendly description (the measured PSF by its shape only)."""
        out = {"pixel_size_nm": self.pixel_size_nm, "upsample": self.upsample, "psf_fwhm_nm": self.psf_fwhm_nm}
        if self.psf_image is not None:
            out["psf_image_shape"] = list(self.psf_image.shape)
        return out


def require_optics(optics, *, gaussian_for: str | None = None) -> Optics:
    """``optics`` itself when it is an :class:`Optics` (with a Gaussian PSF when ``gaussian_for`` names the
    method that needs one), else an ``InputError`` saying what is wrong.

    Examples
    --------
    >>> require_optics(Optics(pixel_size_nm=100, psf_fwhm_nm=258.21)).upsample
    4
    >>> require_optics("100 nm")
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: optics must be a pointillist.optics.Optics, got str
    """
    if not isinstance(optics, Optics):
        raise InputError(f"optics must be a pointillist.optics.Optics, got {type(optics).__name__}")
    if gaussian_for is not None and not optics.is_gaussian:
        raise InputError(f"{gaussian_for} needs a Gaussian PSF (--psf-fwhm); the optics use a measured PSF image")
    return optics
