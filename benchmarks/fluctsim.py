"""An independent generator of fluctuation stacks, to check COL0RME's defaults on data we did not tune on.

Built from the fluctuation-microscopy literature (the SOFI simulation tool's
model: Girsault et al., PLoS One 2016) and sharing no code with
``pointillist.simulate``; only the definition of the optics (pixel size,
Gaussian PSF FWHM, q) is common. What differs from ``pointillist.simulate``
on purpose:

* positions are continuous (nm); structures are worm-like filaments, 30 nm
  tubes seen from above (labels on the two walls), networks of crossing
  lines, isolated points, rings and dense meshes of short filaments;
* blinking is a continuous-time Markov chain (exponential on and off
  sojourns, bleaching after an exponential on-time budget) integrated over
  each exposure, so a frame holds any fraction of an on-time;
* brightness is lognormal per emitter;
* the PSF is integrated exactly over each camera pixel (erf product), not
  over the fine grid;
* cameras: EMCCD (QE, Poisson, Gamma electron multiplication with its
  excess noise, read noise, ADC, offset, 16-bit) or sCMOS (QE, Poisson,
  per-pixel gain, offset and read noise maps, 16-bit), or an ideal photon
  counter; a flat or a smooth, time-constant background; an optional extra
  Gaussian noise reaching a target SNR.

The SNR is ``10 log10(var(clean) / var(noise))`` over the whole stack, in
photons (clean = the expected photons given the emitters' on-times).

    >>> spec = SceneSpec(structure="rings", field_px=16, frames=50, seed=3)
    >>> sim = generate(spec)
    >>> sim.stack.shape, sim.support.shape, sim.stack.dtype.name
    ((50, 16, 16), (64, 64), 'uint16')
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import sparse
from scipy.special import erf

STRUCTURES = ("filaments", "tubes", "network", "points", "rings", "mesh")
CAMERAS = ("emccd", "scmos", "ideal")
BACKGROUNDS = ("flat", "varying")


@dataclass(frozen=True)
class SceneSpec:
    """Everything that defines one stack; with ``seed`` it fixes the stack's bytes.

    Parameters
    ----------
    structure : {"filaments", "tubes", "network", "points", "rings", "mesh"}
    field_px : int
        Camera pixels per side.
    frames : int
    upsample : int
        q of the ground truth's fine grid.
    pixel_nm, psf_fwhm_nm : float
        Camera pixel and Gaussian PSF FWHM in the sample plane.
    on_ratio : float
        Mean on-time / (mean on-time + mean off-time), in (0, 1).
    on_frames : float
        Mean on-sojourn in frames (exposure times).
    bleach_on_frames : float or None
        Mean total on-time before bleaching, in frames; None: no bleaching.
    photons : float
        Median photons per frame of an emitter that is on for the whole exposure.
    brightness_sigma : float
        Standard deviation of log brightness across emitters.
    background : float
        Mean background, photons per camera pixel per frame.
    background_kind : {"flat", "varying"}
    camera : {"emccd", "scmos", "ideal"}
    snr_db : float or None
        Add Gaussian noise until the SNR reaches this value (if the camera's
        own noise has not already gone below it).
    label_spacing_nm : float
        Mean distance between labels along a curve.
    seed : int
    """

    structure: str = "filaments"
    field_px: int = 64
    frames: int = 500
    upsample: int = 4
    pixel_nm: float = 100.0
    psf_fwhm_nm: float = 258.21
    on_ratio: float = 0.25
    on_frames: float = 2.0
    bleach_on_frames: float | None = None
    photons: float = 500.0
    brightness_sigma: float = 0.4
    background: float = 50.0
    background_kind: str = "flat"
    camera: str = "emccd"
    snr_db: float | None = None
    label_spacing_nm: float = 12.0
    seed: int = 0

    def __post_init__(self):
        if self.structure not in STRUCTURES:
            raise ValueError(f"structure must be one of {STRUCTURES}, got {self.structure!r}")
        if self.camera not in CAMERAS:
            raise ValueError(f"camera must be one of {CAMERAS}, got {self.camera!r}")
        if self.background_kind not in BACKGROUNDS:
            raise ValueError(f"background_kind must be one of {BACKGROUNDS}, got {self.background_kind!r}")
        if not 0 < self.on_ratio < 1:
            raise ValueError(f"on_ratio must be in (0, 1), got {self.on_ratio}")
        if self.field_px < 4 or self.frames < 2 or self.upsample < 1:
            raise ValueError("field_px >= 4, frames >= 2 and upsample >= 1 are needed")


@dataclass
class GeneratedStack:
    """A stack, its camera calibration and its ground truth.

    ``stack`` is ADU (uint16) for the EMCCD and sCMOS cameras, photons
    (float32) for the ideal one; ``photons = (stack - offset) / gain``.
    ``support``, ``mean_intensity`` (photons per frame) and ``variance``
    (photons^2) live on the q-times finer grid; ``noise_variance`` is the
    temporal variance of the noise averaged over pixels, in photons^2 (the
    ``s`` of the COL0RME model).
    """

    spec: SceneSpec
    stack: np.ndarray
    offset: float | np.ndarray
    gain: float | np.ndarray
    positions_nm: np.ndarray
    support: np.ndarray
    mean_intensity: np.ndarray
    variance: np.ndarray
    noise_variance: float
    snr_db: float
    info: dict = field(default_factory=dict)


# --- structures (positions in nm, x then y) --------------------------------------------------------------

def _worm(rng, start, angle, length_nm, persistence_nm, step_nm=5.0):
    n = max(int(length_nm / step_nm), 2)
    turns = rng.normal(0.0, math.sqrt(step_nm / persistence_nm), n)
    theta = angle + np.cumsum(turns)
    steps = step_nm * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return start + np.cumsum(steps, axis=0)


def _labels_on(rng, curve, spacing_nm, wall_nm=0.0, jitter_nm=4.0):
    """Poisson labels along a polyline; ``wall_nm`` > 0 puts them on a tube's two walls seen from above."""
    seg = np.diff(curve, axis=0)
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    n = rng.poisson(cum[-1] / spacing_nm)
    s = np.sort(rng.uniform(0.0, cum[-1], n))
    k = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
    frac = (s - cum[k]) / np.maximum(seg_len[k], 1e-12)
    pts = curve[k] + frac[:, None] * seg[k]
    if wall_nm:
        normal = np.stack([-seg[k, 1], seg[k, 0]], axis=1) / np.maximum(seg_len[k], 1e-12)[:, None]
        # a label at angle phi around a cylinder of radius wall_nm projects to wall_nm cos(phi) across it
        pts = pts + (wall_nm * np.cos(rng.uniform(0, 2 * np.pi, n)))[:, None] * normal
    return pts + rng.normal(0.0, jitter_nm, pts.shape)


def make_structure(kind: str, size_nm: float, rng, spacing_nm: float) -> np.ndarray:
    """Label positions ``(N, 2)`` in nm (x, y) of one structure kind inside a square of side ``size_nm``."""
    lo, hi = 0.05 * size_nm, 0.95 * size_nm
    pts = []
    if kind in ("filaments", "tubes"):
        for _ in range(rng.integers(4, 8)):
            curve = _worm(rng, rng.uniform(lo, hi, 2), rng.uniform(0, 2 * np.pi), rng.uniform(0.8, 1.6) * size_nm,
                          persistence_nm=rng.uniform(2000, 6000))
            pts.append(_labels_on(rng, curve, spacing_nm, wall_nm=15.0 if kind == "tubes" else 0.0))
    elif kind == "network":
        for _ in range(rng.integers(6, 11)):
            c, a = rng.uniform(lo, hi, 2), rng.uniform(0, np.pi)
            d = np.array([np.cos(a), np.sin(a)])
            curve = np.stack([c - size_nm * d, c + size_nm * d])
            pts.append(_labels_on(rng, curve, spacing_nm))
    elif kind == "mesh":
        for _ in range(rng.integers(20, 36)):
            curve = _worm(rng, rng.uniform(lo, hi, 2), rng.uniform(0, 2 * np.pi),
                          rng.uniform(0.15, 0.4) * size_nm, persistence_nm=rng.uniform(500, 2000))
            pts.append(_labels_on(rng, curve, spacing_nm))
    elif kind == "rings":
        n = max(int(rng.poisson((size_nm / 1300.0) ** 2)), 3)
        for _ in range(n):
            r = rng.uniform(80.0, 250.0)
            t = np.linspace(0, 2 * np.pi, 200)
            c = rng.uniform(lo + r, hi - r, 2)
            pts.append(_labels_on(rng, c + r * np.stack([np.cos(t), np.sin(t)], axis=1), spacing_nm))
    elif kind == "points":
        n = max(int(rng.poisson((size_nm / 500.0) ** 2)), 4)
        centres = rng.uniform(lo, hi, (n, 2))
        for c in centres:  # small clusters of 1-4 labels within ~10 nm, as antibodies on one target
            pts.append(c + rng.normal(0.0, 8.0, (rng.integers(1, 5), 2)))
    else:
        raise ValueError(f"structure must be one of {STRUCTURES}, got {kind!r}")
    pts = np.concatenate(pts) if pts else np.zeros((0, 2))
    inside = np.all((pts >= 0) & (pts < size_nm), axis=1)
    return pts[inside]


# --- blinking -------------------------------------------------------------------------------------------

def on_fractions(n: int, frames: int, on_ratio: float, on_frames: float, bleach_on_frames, rng) -> np.ndarray:
    """Fraction of each exposure ``(n, frames)`` that each emitter spends on.

    Two-state Markov chain in continuous time, started in its stationary
    state; sojourns ``Exp(on_frames)`` on and ``Exp(off_frames)`` off with
    ``off_frames = on_frames (1 - on_ratio) / on_ratio``; with bleaching, an
    emitter dies once its total on-time exceeds an ``Exp(bleach_on_frames)``
    budget. Each on-interval is cut into the frames it overlaps.

    >>> f = on_fractions(2000, 400, 0.3, 2.0, None, np.random.default_rng(0))
    >>> round(float(f.mean()), 2), bool(f.min() >= 0 and f.max() <= 1 + 1e-12)
    (0.3, True)
    """
    off_frames = on_frames * (1.0 - on_ratio) / on_ratio
    full = np.zeros((n, frames + 2))     # difference array of whole frames spent on
    partial = np.zeros((n, frames + 1))  # the cut ends of each on-interval
    t = np.zeros(n)
    on = rng.random(n) < on_ratio
    budget = rng.exponential(bleach_on_frames, n) if bleach_on_frames else np.full(n, np.inf)
    used = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while True:
        act = np.flatnonzero(alive & (t < frames))
        if act.size == 0:
            break
        state = on[act]
        dur = rng.exponential(np.where(state, on_frames, off_frames))
        idx, a = act[state], t[act[state]]
        d = np.minimum(dur[state], budget[idx] - used[idx])
        used[idx] += d
        alive[idx[used[idx] >= budget[idx]]] = False
        b = np.minimum(a + d, frames)
        ka, kb = np.floor(a).astype(int), np.floor(b).astype(int)
        same = ka == kb
        partial[idx[same], ka[same]] += b[same] - a[same]
        i, ka, kb, a, b = idx[~same], ka[~same], kb[~same], a[~same], b[~same]
        partial[i, ka] += ka + 1 - a
        partial[i, kb] += b - kb
        full[i, ka + 1] += 1.0
        full[i, kb] -= 1.0
        t[act] += dur
        on[act] = ~state
    return partial[:, :frames] + np.cumsum(full, axis=1)[:, :frames]


# --- rendering, background, camera ---------------------------------------------------------------------

def pixel_weights(positions_nm: np.ndarray, field_px: int, pixel_nm: float, sigma_nm: float):
    """Sparse ``(N, field_px^2)`` matrix: fraction of each emitter's photons landing in each camera pixel."""
    reach = int(math.ceil(4.0 * sigma_nm / pixel_nm)) + 1
    offsets = np.arange(-reach, reach + 1)
    s2 = math.sqrt(2.0) * sigma_nm
    centre = np.floor(positions_nm / pixel_nm).astype(int)
    for axis in (0, 1):
        pix = centre[:, axis, None] + offsets[None, :]
        edge = pix * pixel_nm - positions_nm[:, axis, None]
        w = 0.5 * (erf((edge + pixel_nm) / s2) - erf(edge / s2))
        w[(pix < 0) | (pix >= field_px)] = 0.0
        if axis == 0:
            wx, px = w, np.clip(pix, 0, field_px - 1)
        else:
            wy, py = w, np.clip(pix, 0, field_px - 1)
    vals = (wy[:, :, None] * wx[:, None, :]).reshape(len(positions_nm), -1)
    cols = (py[:, :, None] * field_px + px[:, None, :]).reshape(len(positions_nm), -1)
    rows = np.repeat(np.arange(len(positions_nm)), vals.shape[1])
    keep = vals.ravel() > 0
    return sparse.csr_matrix((vals.ravel()[keep], (rows[keep], cols.ravel()[keep])),
                             shape=(len(positions_nm), field_px * field_px))


def background_map(kind: str, level: float, field_px: int, rng) -> np.ndarray:
    """Mean background per pixel: flat, or a smooth bump field between 0.3 and 1.7 times ``level``."""
    if kind == "flat":
        return np.full((field_px, field_px), float(level))
    yy, xx = np.mgrid[0:field_px, 0:field_px] / field_px
    bumps = np.zeros((field_px, field_px))
    for _ in range(3):
        cx, cy = rng.uniform(0, 1, 2)
        width = rng.uniform(0.25, 0.6)
        bumps += rng.uniform(0.5, 1.0) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * width**2))
    bumps = (bumps - bumps.min()) / max(float(np.ptp(bumps)), 1e-12)
    return level * (0.3 + 1.4 * bumps) / np.mean(0.3 + 1.4 * bumps)


def _camera(kind: str, photons: np.ndarray, rng, field_px: int):
    """Noisy camera readout of expected photon counts: (readout, offset, gain in ADU per photon)."""
    if kind == "ideal":
        return rng.poisson(photons).astype(np.float64), 0.0, 1.0
    if kind == "emccd":
        qe, em_gain, read_e, e_per_adu, offset = 0.9, 100.0, 40.0, 12.0, 100.0
        electrons = rng.poisson(qe * photons)
        # electron multiplication: Gamma(n, gain) for n input electrons (excess noise factor 2)
        multiplied = np.where(electrons > 0, rng.gamma(np.maximum(electrons, 1), em_gain), 0.0)
        adu = (multiplied + rng.normal(0.0, read_e, photons.shape)) / e_per_adu + offset
        gain = qe * em_gain / e_per_adu
    else:  # scmos: per-pixel gain, offset and read noise (Huang et al. 2013)
        qe = 0.8
        pix_gain = 0.5 * (1.0 + 0.04 * rng.standard_normal((field_px, field_px)))  # ADU per electron
        offset = 100.0 + 3.0 * rng.standard_normal((field_px, field_px))
        read_e = 1.6 * np.exp(0.4 * rng.standard_normal((field_px, field_px)))
        electrons = rng.poisson(qe * photons) + read_e * rng.standard_normal(photons.shape)
        adu = electrons * pix_gain + offset
        gain = qe * pix_gain
    return np.clip(np.round(adu), 0, 65535), offset, gain


def generate(spec: SceneSpec) -> GeneratedStack:
    """Generate one stack and its ground truth from ``spec`` (same spec, same bytes)."""
    rng = np.random.default_rng(spec.seed)
    rng_scene, rng_blink, rng_camera, rng_extra = rng.spawn(4)
    size_nm = spec.field_px * spec.pixel_nm
    pos = make_structure(spec.structure, size_nm, rng_scene, spec.label_spacing_nm)
    n = len(pos)
    brightness = spec.photons * np.exp(spec.brightness_sigma * rng_scene.standard_normal(n))
    background = background_map(spec.background_kind, spec.background, spec.field_px, rng_scene)
    frac = on_fractions(n, spec.frames, spec.on_ratio, spec.on_frames, spec.bleach_on_frames, rng_blink)
    emitted = (frac * brightness[:, None]).T  # (frames, n) expected photons
    sigma_nm = spec.psf_fwhm_nm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    weights = pixel_weights(pos, spec.field_px, spec.pixel_nm, sigma_nm)
    clean = (sparse.csr_matrix(emitted) @ weights).toarray().reshape(spec.frames, spec.field_px, spec.field_px)
    expected = clean + background
    readout, offset, gain = _camera(spec.camera, expected, rng_camera, spec.field_px)
    photons = (readout - offset) / gain
    noise = photons - expected
    signal_var = float(np.var(clean))
    noise_var = float(np.var(noise))
    extra_sd = 0.0
    if spec.snr_db is not None:
        target = signal_var / 10 ** (spec.snr_db / 10)
        if target > noise_var:
            extra_sd = math.sqrt(target - noise_var)
            added = extra_sd * rng_extra.standard_normal(photons.shape)
            photons = photons + added
            readout = readout + added * gain
            noise = noise + added
    if spec.camera == "ideal":
        stack = readout.astype(np.float32)
    else:
        stack = np.clip(np.round(readout), 0, 65535).astype(np.uint16)
        noise = (stack - offset) / gain - expected
    snr = 10 * math.log10(signal_var / float(np.var(noise)))
    # ground truth on the fine grid: photons emitted per fine pixel per frame
    fine_nm = spec.pixel_nm / spec.upsample
    side = spec.field_px * spec.upsample
    cell = (np.floor(pos[:, 1] / fine_nm).astype(int) * side + np.floor(pos[:, 0] / fine_nm).astype(int))
    cells, which = np.unique(cell, return_inverse=True)
    to_cell = sparse.csr_matrix((np.ones(n), (np.arange(n), which)), shape=(n, len(cells)))
    per_cell = (sparse.csr_matrix(emitted) @ to_cell).toarray()  # (frames, cells)
    mean_intensity = np.zeros(side * side)
    variance = np.zeros(side * side)
    mean_intensity[cells] = per_cell.mean(axis=0)
    variance[cells] = per_cell.var(axis=0, ddof=1)
    support = (mean_intensity > 0).astype(np.uint8).reshape(side, side)
    info = {"n_emitters": n, "background_mean": float(background.mean()),
            "extra_noise_sd_photons": extra_sd, "mean_on_fraction": float(frac.mean()),
            "signal_variance": signal_var}
    return GeneratedStack(spec=spec, stack=stack, offset=offset, gain=gain, positions_nm=pos, support=support,
                          mean_intensity=mean_intensity.reshape(side, side), variance=variance.reshape(side, side),
                          noise_variance=float(np.mean(np.var(noise, axis=0, ddof=1))), snr_db=snr,
                          info=info | {"spec": asdict(spec)})
