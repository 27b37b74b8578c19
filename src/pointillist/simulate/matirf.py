"""Multi-angle TIRF fluctuation stacks: blinking emitters in a thin 3-D layer, one stack per incidence angle.

Emitters sit on the fine grid as in :func:`~pointillist.simulate.simulate_fluctuation`,
each at a depth ``z`` above the coverslip. Along a filament (or tube) the
depth varies smoothly (a sinusoid of random phase and period over the
filament's length, inside the layer), so filaments that cross do so at
different depths; points get independent depths. Under angle k an emitter
that is on emits ``brightness * I0_k exp(-z / d_k) / max(I0)`` photons (the
most efficient angle excites the coverslip at the set brightness). Each
angle is a separate acquisition: its blinking is drawn anew, with the same
camera model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import __version__
from ..errors import InputError
from ..optics import Optics
from ..tirf import TIRFExcitation
from .api import _blinking_settings, _noise_variance, _noisy_stack, _seeds, _shape
from .camera import Camera
from .dynamics import blinking
from .render import render_fixed_emitters
from .structures import filaments, random_points

__all__ = ["MATIRFSimulation", "simulate_matirf", "MATIRF_STRUCTURES"]

MATIRF_STRUCTURES = ("filaments", "tubes", "points")
_DEFAULT_COUNTS = {"filaments": 6, "tubes": 6, "points": 400}


@dataclass
class MATIRFSimulation:
    """Simulated MA-TIRF stacks and their 3-D ground truth (data only).

    Attributes
    ----------
    stacks : ndarray (K, T, H, W)
        One fluctuation stack per angle: uint16 ADU (camera model) or float32 photons (``snr_db``).
    excitation : TIRFExcitation
        Angles, wavelength and refractive indices.
    support : ndarray of uint8 (qH, qW)
        1 where an emitter sits.
    depth : ndarray of float64 (qH, qW)
        The emitter's depth in nm; NaN off the support.
    brightness : ndarray of float64 (qH, qW)
        Mean photons per frame of each emitter at the coverslip under the most efficient angle.
    optics : Optics
    meta : dict
    """

    stacks: np.ndarray
    excitation: TIRFExcitation
    support: np.ndarray
    depth: np.ndarray
    brightness: np.ndarray
    optics: Optics
    meta: dict = field(default_factory=dict)

    def volume(self, edges_nm) -> np.ndarray:
        """Ground truth on depth bins: ``(J, qH, qW)``, each emitter's mean brightness in its bin.

        Examples
        --------
        >>> sim = simulate_matirf(optics=Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=2),
        ...                       excitation=TIRFExcitation((63.0, 66.0)), shape=(8, 8), n_frames=10,
        ...                       n_structures=1, seed=0)
        >>> vol = sim.volume(np.linspace(0, 300, 16))
        >>> vol.shape, bool(np.isclose(vol.sum(), sim.brightness.sum()))
        ((15, 16, 16), True)
        """
        edges = np.asarray(edges_nm, dtype=np.float64)
        out = np.zeros((edges.size - 1, *self.support.shape))
        rows, cols = np.nonzero(self.support)
        bins = np.clip(np.searchsorted(edges, self.depth[rows, cols], side="right") - 1, 0, edges.size - 2)
        out[bins, rows, cols] = self.brightness[rows, cols]
        return out


def _depths(kind, n, fov_nm, layer, rng):
    """Emitter positions (x, y) nm and depths nm, filament after filament."""
    lo, hi = layer
    if kind == "points":
        xy = random_points(n, fov_nm=fov_nm, rng=rng)
        return xy, rng.uniform(lo, hi, len(xy))
    xy_all, z_all = [], []
    for _ in range(n):
        xy = filaments(1, fov_nm=fov_nm, spacing_nm=2.0, diameter_nm=30.0 if kind == "tubes" else 0.0, rng=rng)
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))])
        length = max(arc[-1], 1.0)
        # one smooth excursion per filament: a mean depth, an amplitude and a period of 0.5-2 filament lengths
        mid = rng.uniform(lo + 0.25 * (hi - lo), hi - 0.25 * (hi - lo))
        amp = rng.uniform(0.1, 0.25) * (hi - lo)
        period = rng.uniform(0.5, 2.0) * length
        z = mid + amp * np.sin(2 * np.pi * arc / period + rng.uniform(0, 2 * np.pi))
        xy_all.append(xy)
        z_all.append(np.clip(z, lo, hi))
    return np.concatenate(xy_all), np.concatenate(z_all)


def simulate_matirf(
    *,
    optics: Optics,
    excitation: TIRFExcitation,
    shape=(64, 64),
    n_frames: int = 500,
    structure: str = "filaments",
    n_structures: int | None = None,
    depth_range_nm=(0.0, 300.0),
    on_probability: float = 0.25,
    brightness: float = 500.0,
    blinking_model: str = "bernoulli",
    mean_on_frames: float = 1.0,
    camera: Camera | None = None,
    snr_db: float | None = None,
    seed: int | None = None,
) -> MATIRFSimulation:
    """Simulate one fluctuation stack per TIRF angle of emitters at known depths.

    Parameters
    ----------
    optics : Optics
        Camera pixel size, PSF and the fine grid (``upsample``).
    excitation : TIRFExcitation
        The angles (one stack each), wavelength and refractive indices.
    shape : (int, int)
        Frame size in camera pixels.
    n_frames : int
        Frames per angle (at least 2).
    structure : {"filaments", "tubes", "points"}
    n_structures : int, optional
        Filaments or tubes (default 6), or points (default 400).
    depth_range_nm : (float, float)
        The layer the emitters sit in, nm above the coverslip.
    on_probability, brightness, blinking_model, mean_on_frames :
        Blinking as in :func:`~pointillist.simulate.simulate_fluctuation`;
        ``brightness`` is at the coverslip under the most efficient angle.
    camera : Camera, optional
        Default: background 50 photons, read noise 2 e-, gain 1, offset 100 ADU (0 background with ``snr_db``).
    snr_db : float, optional
        Target SNR of each angle's stack (``10 log10 var(clean) / var(noise)``) instead of the camera model.
    seed : int, optional
        Seed of every random step (a fresh one, recorded in ``meta``, if omitted).

    Returns
    -------
    MATIRFSimulation

    Examples
    --------
    >>> from pointillist.tirf import TIRFExcitation
    >>> sim = simulate_matirf(optics=Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4),
    ...                       excitation=TIRFExcitation((62.6, 66.2, 69.8)), shape=(12, 12), n_frames=20,
    ...                       n_structures=2, seed=0)
    >>> sim.stacks.shape, sim.depth.shape, bool(np.nanmax(sim.depth) <= 300)
    ((3, 20, 12, 12), (48, 48), True)
    """
    h, w = _shape(shape)
    if not isinstance(excitation, TIRFExcitation):
        raise InputError("excitation must be a pointillist.tirf.TIRFExcitation (angles, wavelength, indices)")
    if structure not in MATIRF_STRUCTURES:
        raise InputError(f"structure must be one of {', '.join(MATIRF_STRUCTURES)}; got {structure!r}")
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 2:
        raise InputError(f"each angle's stack needs at least 2 frames, got {n_frames!r}")
    n = _DEFAULT_COUNTS[structure] if n_structures is None else int(n_structures)
    if n < 1:
        raise InputError(f"n_structures must be at least 1, got {n_structures}")
    try:
        lo, hi = (float(v) for v in depth_range_nm)
    except (TypeError, ValueError):
        raise InputError(f"depth_range_nm must be (low, high) in nm, got {depth_range_nm!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 <= lo < hi):
        raise InputError(f"depth_range_nm must satisfy 0 <= low < high (nm), got {depth_range_nm!r}")
    snr_db, on_probability, brightness, mean_on_frames, camera = _blinking_settings(
        snr_db, on_probability, brightness, mean_on_frames, camera)
    seed, (rng_struct, rng_dyn, rng_noise) = _seeds(seed)
    p, q, fine = optics.pixel_size_nm, optics.upsample, optics.fine_pixel_nm
    fine_shape = (h * q, w * q)
    xy, z = _depths(structure, n, (h * p, w * p), (lo, hi), rng_struct)
    rows = np.floor(xy[:, 1] / fine).astype(np.int64)
    cols = np.floor(xy[:, 0] / fine).astype(np.int64)
    inside = (rows >= 0) & (rows < fine_shape[0]) & (cols >= 0) & (cols < fine_shape[1])
    # one emitter per fine pixel: at a crossing the filament drawn first keeps the pixel (and its depth)
    flat, first = np.unique(rows[inside] * fine_shape[1] + cols[inside], return_index=True)
    rows, cols, z = flat // fine_shape[1], flat % fine_shape[1], z[inside][first]
    factor = excitation.excitation(z) / excitation.transmission.max()  # (K, n_emitters)
    stacks, noise, achieved = [], [], []
    mean_on = np.zeros(rows.size)
    for k in range(excitation.n_angles):
        photons = blinking(rows.size, n_frames, on_probability=on_probability, brightness=brightness,
                           model=blinking_model, mean_on_frames=mean_on_frames, rng=rng_dyn)
        mean_on += photons.mean(axis=0) / excitation.n_angles
        clean = render_fixed_emitters((cols + 0.5) * fine, (rows + 0.5) * fine, photons * factor[k],
                                      shape=(h, w), pixel_size_nm=p, sigma_nm=optics.sigma_nm)
        stack, snr = _noisy_stack(clean, camera, snr_db, "variance", rng_noise)
        stacks.append(stack)
        noise.append(_noise_variance(stack, clean, camera, snr_db))
        achieved.append(None if snr is None else float(snr[0]))
    support = np.zeros(fine_shape, dtype=np.uint8)
    support[rows, cols] = 1
    depth = np.full(fine_shape, np.nan)
    depth[rows, cols] = z
    bright = np.zeros(fine_shape)
    bright[rows, cols] = mean_on
    meta = {
        "kind": "matirf",
        "pointillist_version": __version__,
        "seed": seed,
        "optics": optics.as_dict(),
        "excitation": excitation.as_dict(),
        "shape": [excitation.n_angles, n_frames, h, w],
        "fine_shape": list(fine_shape),
        "structure": structure,
        "n_structures": n,
        "depth_range_nm": [lo, hi],
        "n_emitters": int(rows.size),
        "on_probability": on_probability,
        "brightness_photons": brightness,
        "blinking_model": blinking_model,
        "mean_on_frames": mean_on_frames if blinking_model == "telegraph" else None,
        "camera": None if snr_db is not None else camera.as_dict(),
        "snr_db": snr_db,
        "snr_db_achieved": achieved if snr_db is not None else None,
        "noise_variance_photons": noise,
        "stack_units": "photons (float32)" if snr_db is not None else f"ADU (uint16); {camera.photons_to_adu_help()}",
        "ground_truth_units": "depth in nm above the coverslip (NaN off the support); brightness in photons per "
                              "frame at the coverslip under the most efficient angle",
        "pixel_convention": "pixel (row i, col j) covers x in [j p, (j+1) p), y in [i p, (i+1) p)",
    }
    return MATIRFSimulation(stacks=np.stack(stacks), excitation=excitation, support=support, depth=depth,
                            brightness=bright, optics=optics, meta=meta)
