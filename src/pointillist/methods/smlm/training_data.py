"""Simulated training patches for the SMLM networks, matched to the optics.

As in Deep-STORM and DeepCEL0: high-density frames of random emitters are
simulated (Gaussian PSF of the optics, photons per emitter, a background,
Poisson plus Gaussian noise at a per-frame SNR), and square patches of
``patch`` camera pixels holding at least ``min_emitters`` emitters are cut
from them. Targets are spikes on the ``q``-times finer grid: 1 in the fine
pixel that contains each emitter.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..._rng import as_rng
from ...errors import InputError
from ...optics import Optics
from ...simulate.camera import add_noise_at_snr
from ...simulate.render import render_events

__all__ = ["PatchSettings", "TrainingPatches", "simulate_patches"]


@dataclass(frozen=True)
class PatchSettings:
    """What the training frames look like (photons, nm, dB).

    Defaults follow the DeepCEL0 notebook's simulator: 64 x 64 frames,
    6 emitters per um^2, 2250 +- 250 photons per emitter; SNR drawn per
    frame uniformly in ``snr_db_range`` (mean 15 dB, the paper's training
    SNR) and a background drawn uniformly in ``background_range``.
    """

    n_patches: int = 10000
    n_frames: int = 20
    frame_size: int = 64
    patch: int = 26
    min_emitters: int = 7
    density_per_um2: float = 6.0
    photons_mean: float = 2250.0
    photons_std: float = 250.0
    background_range: tuple[float, float] = (0.0, 30.0)
    snr_db_range: tuple[float, float] = (10.0, 20.0)

    def __post_init__(self):
        if self.n_patches < 2 or self.n_frames < 1:
            raise InputError("need at least 2 patches and 1 frame of training data")
        if not 8 <= self.patch <= self.frame_size:
            raise InputError(f"patch size {self.patch} must be between 8 and the frame size {self.frame_size}")
        if self.min_emitters < 0 or self.density_per_um2 <= 0 or self.photons_mean <= 0:
            raise InputError("min_emitters must be >= 0, density and photons positive")
        for name in ("background_range", "snr_db_range"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise InputError(f"{name} must be (low, high) with low <= high, got {(lo, hi)}")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainingPatches:
    """Camera patches ``frames`` (N, P, P) in photons and fine-grid ``spikes`` (N, qP, qP) uint8."""

    frames: np.ndarray
    spikes: np.ndarray
    n_emitters: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)

    def split(self, fraction: float) -> tuple["TrainingPatches", "TrainingPatches"]:
        """The first ``1 - fraction`` for training, the rest for validation (patches are already shuffled)."""
        n_val = max(1, int(round(len(self) * fraction)))
        cut = len(self) - n_val
        if cut < 1:
            raise InputError(f"validation fraction {fraction} leaves no training patches")
        part = lambda s: TrainingPatches(self.frames[s], self.spikes[s], self.n_emitters[s])  # noqa: E731
        return part(slice(0, cut)), part(slice(cut, None))


def _simulate_frames(optics: Optics, settings: PatchSettings, rng: np.random.Generator):
    n, size, p = settings.n_frames, settings.frame_size, optics.pixel_size_nm
    fov_nm = size * p
    counts = rng.poisson(settings.density_per_um2 * (fov_nm * 1e-3) ** 2, n)
    frame = np.repeat(np.arange(n), counts)
    x = rng.random(frame.size) * fov_nm
    y = rng.random(frame.size) * fov_nm
    photons = np.maximum(rng.normal(settings.photons_mean, settings.photons_std, frame.size), 1.0)
    clean = render_events(frame, x, y, photons, n_frames=n, shape=(size, size), pixel_size_nm=p,
                          sigma_nm=optics.sigma_nm)
    noisy = np.empty_like(clean, dtype=np.float32)
    for t in range(n):
        background = rng.uniform(*settings.background_range)
        snr = rng.uniform(*settings.snr_db_range)
        noisy[t] = add_noise_at_snr(clean[t] + background, snr, rng=rng)[0][0]
    return noisy, frame, x, y


def simulate_patches(optics: Optics, settings: PatchSettings = PatchSettings(), *, rng=None) -> TrainingPatches:
    """Simulate frames and cut ``settings.n_patches`` patches with their fine-grid spike targets.

    Patches are spread evenly over the frames (random positions, rejected
    when they hold fewer than ``min_emitters`` emitters) and returned in
    random order.

    Parameters
    ----------
    optics : Optics
        Gaussian PSF, camera pixel size (nm) and upsampling factor q.
    settings : PatchSettings
        Number of patches and frames, frame and patch sizes (camera pixels),
        emitter density (per um^2), photons per emitter, background and SNR
        ranges.
    rng : int, numpy.random.Generator or None
        Seed or generator.

    Returns
    -------
    TrainingPatches
        ``frames`` (N, P, P) float32 in photons (background and noise
        included), ``spikes`` (N, qP, qP) uint8 (1 in each fine pixel that
        holds an emitter) and ``n_emitters`` (N,), emitters per patch;
        ``N = settings.n_patches``, ``P = settings.patch``.

    Raises
    ------
    InputError
        For a PSF that is not Gaussian, or when patches holding
        ``min_emitters`` emitters cannot be found.

    Examples
    --------
    >>> s = PatchSettings(n_patches=4, n_frames=2, frame_size=32, patch=16)
    >>> data = simulate_patches(Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4), s, rng=0)
    >>> data.frames.shape, data.spikes.shape, bool((data.n_emitters >= 7).all())
    ((4, 16, 16), (4, 64, 64), True)
    """
    if not optics.is_gaussian:
        raise InputError("training data needs a Gaussian PSF (give --psf-fwhm); measured PSFs are not supported")
    rng = as_rng(rng)
    q, fine, size, patch = optics.upsample, optics.fine_pixel_nm, settings.frame_size, settings.patch
    frames, frame_idx, x, y = _simulate_frames(optics, settings, rng)
    col = np.floor(x / fine).astype(np.int64)
    row = np.floor(y / fine).astype(np.int64)
    per_frame = np.diff(np.linspace(0, settings.n_patches, settings.n_frames + 1).round().astype(int))
    out_frames, out_spikes, out_counts = [], [], []
    for t, wanted in enumerate(per_frame):
        mine = frame_idx == t
        r_t, c_t = row[mine], col[mine]
        got, tries = 0, 0
        while got < wanted:
            tries += 1
            if tries > 200 * max(wanted, 1):
                raise InputError(
                    f"could not find patches with at least {settings.min_emitters} emitters; "
                    "raise the density or lower min_emitters"
                )
            r0, c0 = rng.integers(0, size - patch + 1, 2)
            inside = (r_t >= r0 * q) & (r_t < (r0 + patch) * q) & (c_t >= c0 * q) & (c_t < (c0 + patch) * q)
            if inside.sum() < settings.min_emitters:
                continue
            spikes = np.zeros((patch * q, patch * q), dtype=np.uint8)
            spikes[r_t[inside] - r0 * q, c_t[inside] - c0 * q] = 1
            out_frames.append(frames[t, r0 : r0 + patch, c0 : c0 + patch])
            out_spikes.append(spikes)
            out_counts.append(int(inside.sum()))
            got += 1
    order = rng.permutation(len(out_frames))
    return TrainingPatches(
        frames=np.stack(out_frames)[order].astype(np.float32),
        spikes=np.stack(out_spikes)[order],
        n_emitters=np.asarray(out_counts)[order],
    )
