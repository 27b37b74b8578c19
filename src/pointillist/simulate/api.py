"""Whole simulations: SMLM stacks and fluctuation (COL0RME-type) stacks, with ground truth."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import numpy as np

from .. import __version__
from ..errors import InputError, real_number
from ..localizations import Localizations
from ..optics import Optics
from .camera import Camera, add_noise_at_snr, apply_camera, smooth_background
from .dynamics import blinking, smlm_activations, snap_to_grid
from .render import render_events, render_fixed_emitters
from .structures import STRUCTURES, filaments, random_points, rings

__all__ = ["SMLMSimulation", "FluctuationSimulation", "simulate_smlm", "simulate_fluctuation", "make_structure"]

_DEFAULT_COUNTS = {"tubes": 8, "filaments": 6, "points": 400, "rings": 8}


def make_structure(kind: str, *, fov_nm, n=None, rng=None, spacing_nm: float = 2.0) -> np.ndarray:
    """Emitter positions (nm) of a named structure: tubes, filaments, points or rings.

    ``tubes`` are filaments drawn as hollow tubes of 30 nm diameter (as the
    SMLM 2013 "bundled tubes"); ``filaments`` are thin curves.

    Parameters
    ----------
    kind : {"tubes", "filaments", "points", "rings"}
        The structure.
    fov_nm : (float, float)
        Field of view ``(height, width)`` in nm.
    n : int, optional
        Number of tubes, filaments or rings, or of points (default 8 tubes,
        6 filaments, 400 points or 8 rings).
    rng : int, numpy.random.Generator or None
        Random positions and shapes.
    spacing_nm : float, default 2.0
        Distance between consecutive emitters along a curve.

    Returns
    -------
    ndarray of float64
        One ``(x, y)`` row in nm per possible emitter (see :mod:`pointillist.simulate.structures`).

    Examples
    --------
    >>> make_structure("rings", fov_nm=(3200, 3200), n=2, rng=0).shape[1]
    2
    """
    if kind not in STRUCTURES:
        raise InputError(f"structure must be one of {', '.join(STRUCTURES)}; got {kind!r}")
    n = _DEFAULT_COUNTS[kind] if n is None else int(n)
    if n < 1:
        raise InputError(f"the number of structures must be at least 1, got {n}")
    if kind == "tubes":
        return filaments(n, fov_nm=fov_nm, spacing_nm=spacing_nm, diameter_nm=30.0, rng=rng)
    if kind == "filaments":
        return filaments(n, fov_nm=fov_nm, spacing_nm=spacing_nm, rng=rng)
    if kind == "points":
        return random_points(n, fov_nm=fov_nm, rng=rng)
    return rings(n, fov_nm=fov_nm, spacing_nm=spacing_nm, rng=rng)


def _seeds(seed):
    if seed is None:
        seed = secrets.randbits(32)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    children = np.random.SeedSequence(int(seed)).spawn(3)
    return int(seed), [np.random.default_rng(c) for c in children]


def _shape(shape):
    try:
        h, w = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise InputError(f"shape must be (rows, columns) in camera pixels, got {shape!r}") from None
    if h < 4 or w < 4:
        raise InputError(f"the camera frame must be at least 4 x 4 pixels, got {h} x {w}")
    return h, w


@dataclass
class SMLMSimulation:
    """A simulated SMLM stack and its per-frame ground truth (data only).

    Write it with :func:`pointillist.io.write_simulation`; draw its preview
    with :func:`pointillist.figures.save_simulation_preview`.

    Attributes
    ----------
    stack : ndarray, (T, H, W)
        uint16 ADU (camera mode) or float32 photons (SNR mode).
    ground_truth : Localizations
        Every active emitter of every frame (0-based frames, nm).
    optics : Optics
        Pixel size, PSF and upsampling factor of the simulation.
    meta : dict
        Every parameter and the seed (``meta.json``).
    """

    stack: np.ndarray
    ground_truth: Localizations
    optics: Optics
    meta: dict = field(default_factory=dict)


@dataclass
class FluctuationSimulation:
    """A simulated fluctuation stack and its fine-grid ground truth (data only).

    Written and drawn by the same functions as :class:`SMLMSimulation`;
    ``stack``, ``optics`` and ``meta`` are as there.

    Attributes
    ----------
    support : ndarray of uint8, (q H, q W)
        1 where an emitter sits.
    mean_intensity, variance : ndarray of float64, (q H, q W)
        Temporal mean and variance of the emission of each fine pixel, in
        photons per frame.
    """

    stack: np.ndarray
    support: np.ndarray
    mean_intensity: np.ndarray
    variance: np.ndarray
    optics: Optics
    meta: dict = field(default_factory=dict)


def _snr(snr_db):
    """``snr_db`` checked where it enters: None, or a finite number of dB in [-40, 100]."""
    return None if snr_db is None else real_number("snr_db (dB)", snr_db, low=-40, high=100, include_high=True)


def _noisy_stack(clean, camera, snr_db, snr_definition, rng):
    h, w = clean.shape[1:]
    if snr_db is None:
        bg = None
        if camera.background_kind == "smooth":
            bg = smooth_background((h, w), camera.background, rng=rng)
        return apply_camera(clean, camera, rng=rng, background=bg), None
    base = camera.background
    if camera.background_kind == "smooth":
        base = smooth_background((h, w), camera.background, rng=rng)
    noisy, achieved = add_noise_at_snr(clean + base, snr_db, rng=rng, definition=snr_definition)
    return noisy.astype(np.float32), achieved


def simulate_smlm(
    *,
    optics: Optics,
    shape=(64, 64),
    n_frames: int = 361,
    density_per_um2: float = 6.0,
    structure: str = "tubes",
    n_structures: int | None = None,
    photons_mean: float = 2250.0,
    photons_std: float = 250.0,
    camera: Camera | None = None,
    snr_db: float | None = None,
    drift_nm=None,
    seed: int | None = None,
    progress: bool = False,
) -> SMLMSimulation:
    """Simulate an SMLM acquisition: a structure, random activations per frame, camera noise.

    With ``snr_db`` the camera model is replaced by Poisson plus Gaussian
    noise at that SNR per frame (DeepCEL0 definition, see
    ``add_noise_at_snr``); the stack is then float32 photons and the
    camera's background (photons) is included in the clean image.

    Parameters
    ----------
    optics : Optics
        Camera pixel size, PSF (Gaussian) and upsampling factor.
    shape : (int, int), default (64, 64)
        Frame size in camera pixels (at least 4 x 4).
    n_frames : int, default 361
        Number of frames.
    density_per_um2 : float, default 6.0
        Mean number of active emitters per um^2 per frame (Poisson).
    structure : {"tubes", "filaments", "points", "rings"}, default "tubes"
        Where emitters can be (see :func:`make_structure`).
    n_structures : int, optional
        Number of tubes, filaments, rings or points (default per structure).
    photons_mean, photons_std : float
        Normal distribution of the photons of an active emitter.
    camera : Camera, optional
        Camera model (default: background 20 photons, read noise 4.5 e-,
        gain 1, offset 50 ADU; background 0 with ``snr_db``).
    snr_db : float, optional
        Target SNR per frame instead of the camera model.
    drift_nm : array_like (n_frames, 2), optional
        Stage drift ``(x, y)`` in nm of each frame, added to every emitter of that frame in the images; the
        ground truth keeps the positions without drift (what drift correction should recover).
    seed : int, optional
        Seed of every random step; a fresh one (recorded in ``meta``) if omitted.
    progress : bool, default False
        Unused; kept for compatibility.

    Returns
    -------
    SMLMSimulation
        The stack, the ground truth (``Localizations``) and ``meta``.

    Examples
    --------
    >>> sim = simulate_smlm(optics=Optics(pixel_size_nm=100, psf_fwhm_nm=258.21), shape=(16, 16),
    ...                     n_frames=2, seed=1)
    >>> sim.stack.shape, sim.stack.dtype.name, sim.ground_truth.n_frames
    ((2, 16, 16), 'uint16', 2)
    """
    h, w = _shape(shape)
    if n_frames < 1:
        raise InputError(f"n_frames must be at least 1, got {n_frames}")
    snr_db = _snr(snr_db)
    density_per_um2 = real_number("density_per_um2", density_per_um2, low=0, high=1e4, include_low=False)
    photons_mean = real_number("photons_mean", photons_mean, low=0, high=1e9, include_low=False)
    photons_std = real_number("photons_std", photons_std, low=0, high=1e9)
    if camera is None:
        camera = Camera(background=0.0 if snr_db is not None else 20.0, read_noise=4.5, gain=1.0, offset=50.0)
    seed, (rng_struct, rng_dyn, rng_noise) = _seeds(seed)
    p = optics.pixel_size_nm
    fov = (h * p, w * p)
    pool = make_structure(structure, fov_nm=fov, n=n_structures, rng=rng_struct)
    gt = smlm_activations(
        pool,
        n_frames=n_frames,
        density_per_um2=density_per_um2,
        area_um2=fov[0] * fov[1] * 1e-6,
        photons_mean=photons_mean,
        photons_std=photons_std,
        rng=rng_dyn,
    )
    dx = dy = 0.0
    if drift_nm is not None:
        drift = np.asarray(drift_nm, dtype=np.float64)
        if drift.shape != (n_frames, 2) or not np.all(np.isfinite(drift)):
            raise InputError(f"drift_nm must be finite (x, y) nm for each of the {n_frames} frames, shape "
                             f"({n_frames}, 2); got shape {drift.shape}")
        dx, dy = drift[gt.frame, 0], drift[gt.frame, 1]
    clean = render_events(
        gt.frame, gt.x_nm + dx, gt.y_nm + dy, gt.photons, n_frames=n_frames, shape=(h, w), pixel_size_nm=p, sigma_nm=optics.sigma_nm
    )
    stack, achieved = _noisy_stack(clean, camera, snr_db, "energy", rng_noise)
    meta = {
        "kind": "smlm",
        "pointillist_version": __version__,
        "seed": seed,
        "optics": optics.as_dict(),
        "shape": [n_frames, h, w],
        "structure": structure,
        "n_structures": n_structures if n_structures is not None else _DEFAULT_COUNTS[structure],
        "density_per_um2": density_per_um2,
        "photons_mean": photons_mean,
        "photons_std": photons_std,
        "n_emitters_total": len(gt),
        "camera": None if snr_db is not None else camera.as_dict(),
        "background_photons": camera.background,
        "snr_db": snr_db,
        "drift_nm": None if drift_nm is None else np.asarray(drift_nm, dtype=np.float64).tolist(),
        "snr_definition": "10 log10(|clean|^2/|clean-noisy|^2) per frame" if snr_db is not None else None,
        "snr_db_achieved_mean": None if achieved is None else float(np.mean(achieved)),
        "stack_units": "photons (float32)" if snr_db is not None else f"ADU (uint16); {camera.photons_to_adu_help()}",
        "pixel_convention": "pixel (row i, col j) covers x in [j p, (j+1) p), y in [i p, (i+1) p); frames 1-based in CSV",
    }
    return SMLMSimulation(stack=stack, ground_truth=gt, optics=optics, meta=meta)


def simulate_fluctuation(
    *,
    optics: Optics,
    shape=(64, 64),
    n_frames: int = 500,
    structure: str = "filaments",
    n_structures: int | None = None,
    on_probability: float = 0.25,
    brightness: float = 500.0,
    blinking_model: str = "bernoulli",
    mean_on_frames: float = 1.0,
    camera: Camera | None = None,
    snr_db: float | None = None,
    seed: int | None = None,
) -> FluctuationSimulation:
    """Simulate a fluctuation stack (COL0RME/SOFI type): fixed emitters on the fine grid that blink.

    Emitters sit at the centres of the fine pixels (size ``p/q``) that the
    structure crosses, one per pixel, and blink independently (see
    ``blinking``). With ``snr_db``, Gaussian noise of variance
    ``var(clean)/10^(SNR/10)`` is added after the Poisson draw (the COL0RME
    scripts' definition) and the stack is float32 photons.

    Parameters
    ----------
    optics : Optics
        Camera pixel size, PSF and upsampling factor ``q`` (the fine grid).
    shape : (int, int), default (64, 64)
        Frame size in camera pixels (at least 4 x 4).
    n_frames : int, default 500
        Number of frames (at least 2).
    structure : {"tubes", "filaments", "points", "rings"}, default "filaments"
        Where emitters are (see :func:`make_structure`).
    n_structures : int, optional
        Number of tubes, filaments, rings or points (default per structure).
    on_probability : float, default 0.25
        Probability that an emitter is on in a frame.
    brightness : float, default 500.0
        Photons per frame of an emitter that is on.
    blinking_model : {"bernoulli", "telegraph"}, default "bernoulli"
        Independent frames, or an on/off process (see ``blinking``).
    mean_on_frames : float, default 1.0
        Mean on-time in frames (telegraph only).
    camera : Camera, optional
        Camera model (default: background 50 photons, read noise 2 e-,
        gain 1, offset 100 ADU; background 0 with ``snr_db``).
    snr_db : float, optional
        Target SNR over the stack instead of the camera model.
    seed : int, optional
        Seed of every random step; a fresh one (recorded in ``meta``) if omitted.

    Returns
    -------
    FluctuationSimulation
        The stack, the fine-grid ground truth and ``meta``.

    Examples
    --------
    >>> sim = simulate_fluctuation(optics=Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4),
    ...                            shape=(12, 12), n_frames=20, n_structures=1, seed=0)
    >>> sim.stack.shape, sim.support.shape, int(sim.support.max())
    ((20, 12, 12), (48, 48), 1)
    """
    h, w = _shape(shape)
    if n_frames < 2:
        raise InputError(f"a fluctuation stack needs at least 2 frames, got {n_frames}")
    snr_db, on_probability, brightness, mean_on_frames, camera = _blinking_settings(
        snr_db, on_probability, brightness, mean_on_frames, camera)
    seed, (rng_struct, rng_dyn, rng_noise) = _seeds(seed)
    p, q, fine = optics.pixel_size_nm, optics.upsample, optics.fine_pixel_nm
    fine_shape = (h * q, w * q)
    pool = make_structure(structure, fov_nm=(h * p, w * p), n=n_structures, rng=rng_struct)
    rows, cols = snap_to_grid(pool, shape=fine_shape, pixel_size_nm=fine)
    photons = blinking(
        rows.size,
        n_frames,
        on_probability=on_probability,
        brightness=brightness,
        model=blinking_model,
        mean_on_frames=mean_on_frames,
        rng=rng_dyn,
    )
    if optics.is_gaussian:
        clean = render_fixed_emitters(
            (cols + 0.5) * fine, (rows + 0.5) * fine, photons, shape=(h, w), pixel_size_nm=p, sigma_nm=optics.sigma_nm
        )
    else:
        import torch

        from ..operators import imaging_operator

        x = torch.zeros((n_frames, *fine_shape), dtype=torch.float64)
        x[:, rows, cols] = torch.as_tensor(photons)
        clean = imaging_operator(optics, (h, w))(x).numpy()
    stack, achieved = _noisy_stack(clean, camera, snr_db, "variance", rng_noise)
    mean_intensity = np.zeros(fine_shape)
    variance = np.zeros(fine_shape)
    mean_intensity[rows, cols] = photons.mean(axis=0)
    variance[rows, cols] = photons.var(axis=0, ddof=1)
    support = (mean_intensity > 0).astype(np.uint8)
    meta = {
        "kind": "fluctuation",
        "pointillist_version": __version__,
        "seed": seed,
        "optics": optics.as_dict(),
        "shape": [n_frames, h, w],
        "fine_shape": list(fine_shape),
        "structure": structure,
        "n_structures": n_structures if n_structures is not None else _DEFAULT_COUNTS[structure],
        "n_emitters": int(rows.size),
        "on_probability": on_probability,
        "brightness_photons": brightness,
        "blinking_model": blinking_model,
        "mean_on_frames": mean_on_frames if blinking_model == "telegraph" else None,
        "camera": None if snr_db is not None else camera.as_dict(),
        "background_photons": camera.background,
        "snr_db": snr_db,
        "snr_definition": "10 log10(var(clean)/var(noise)) over the stack" if snr_db is not None else None,
        "snr_db_achieved": None if achieved is None else float(achieved[0]),
        "noise_variance_photons": _noise_variance(stack, clean, camera, snr_db),
        "stack_units": "photons (float32)" if snr_db is not None else f"ADU (uint16); {camera.photons_to_adu_help()}",
        "ground_truth_units": "photons per frame on the fine grid (mean_intensity, variance)",
        "pixel_convention": "pixel (row i, col j) covers x in [j p, (j+1) p), y in [i p, (i+1) p)",
    }
    return FluctuationSimulation(
        stack=stack, support=support, mean_intensity=mean_intensity, variance=variance, optics=optics, meta=meta
    )


def _blinking_settings(snr_db, on_probability, brightness, mean_on_frames, camera):
    """The checked blinking and camera settings of the fluctuation simulators (and their default camera)."""
    snr_db = _snr(snr_db)
    on_probability = real_number("on_probability", on_probability, low=0, high=1, include_low=False, include_high=True)
    brightness = real_number("brightness (photons per frame)", brightness, low=0, high=1e9, include_low=False)
    mean_on_frames = real_number("mean_on_frames", mean_on_frames, low=0, high=1e9, include_low=False)
    if camera is None:
        camera = Camera(background=0.0 if snr_db is not None else 50.0, read_noise=2.0, gain=1.0, offset=100.0)
    return snr_db, on_probability, brightness, mean_on_frames, camera


def _noise_variance(stack, clean, camera, snr_db) -> float:
    """Temporal variance of the noise (stack minus clean signal) averaged over pixels, photons^2.

    This is the ``s`` of the COL0RME model: a time-constant background
    (smooth or not) does not enter it.
    """
    photons = stack.astype(np.float64)
    if snr_db is None:
        photons = (photons - camera.offset) / camera.gain
    return float(np.mean(np.var(photons - clean, axis=0, ddof=1)))
