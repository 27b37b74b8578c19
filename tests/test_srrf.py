"""SRRF baseline: a direct per-pixel version of SPEC 7, sub-pixel peaks, resolution, inputs."""

import math

import numpy as np
import pytest

from pointillist.errors import InputError
from pointillist.methods.baselines.srrf import _samples, catmull_rom_matrix, srrf
from pointillist.optics import Optics, gaussian_pixel_weights

OPTICS4 = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
OPTICS5 = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=5)


def _spots(positions, intensities, *, shape=(16, 16), sigma=OPTICS4.sigma_px, noise=0.0, seed=0):
    """Pixel-integrated Gaussian spots at (row, col) camera positions; intensities (T, n_spots)."""
    h, w = shape
    frames = np.zeros((intensities.shape[0], h, w))
    for (row, col), amp in zip(positions, intensities.T):
        wy = gaussian_pixel_weights(np.array([row]), np.arange(h + 1.0), sigma)[0]
        wx = gaussian_pixel_weights(np.array([col]), np.arange(w + 1.0), sigma)[0]
        frames += amp[:, None, None] * np.outer(wy, wx)[None]
    return frames + noise * np.random.default_rng(seed).standard_normal(frames.shape)


def _telegraph(n_frames, n_spots, seed, switch=0.25):
    """On/off emission that persists over frames (TAC2 needs correlation between consecutive frames)."""
    rng = np.random.default_rng(seed)
    flips = rng.random((n_frames, n_spots)) < switch
    on = (np.cumsum(flips, axis=0) + rng.integers(0, 2, n_spots)) % 2
    return 1000.0 * on * rng.uniform(0.7, 1.3, (n_frames, n_spots))


def _fwhm(profile):
    """Full width at half maximum (pixels) of the peak of a 1-D profile, by linear interpolation."""
    k = int(np.argmax(profile))
    half = profile[k] / 2
    left = k
    while left > 0 and profile[left - 1] > half:
        left -= 1
    right = k
    while right < len(profile) - 1 and profile[right + 1] > half:
        right += 1
    x_left = left - (profile[left] - half) / (profile[left] - profile[left - 1])
    x_right = right + (profile[right] - half) / (profile[right] - profile[right + 1])
    return x_right - x_left


# --- a direct version of SPEC 7: 16-tap Catmull-Rom at every point, one sample at a time ---


def _kernel(x):
    x = np.abs(x)
    return np.where(x < 1, 1.5 * x**3 - 2.5 * x**2 + 1, np.where(x < 2, -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2, 0.0))


def _interp2d(img, x, y):
    h, w = img.shape
    u, v = x - 0.5, y - 0.5
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    out = np.zeros(x.shape)
    for j in range(-1, 3):
        for i in range(-1, 3):
            rows, cols = np.clip(v0 + j, 0, h - 1), np.clip(u0 + i, 0, w - 1)
            out += _kernel(u - (u0 + i)) * _kernel(v - (v0 + j)) * img[rows, cols]
    return np.where((x < 1.5) | (x > w - 1.5) | (y < 1.5) | (y > h - 1.5), 0.0, out)


def _reference(stack, q, *, variant, radius, axes, temporal, weighting, sensitivity=1.0):
    t, h, w = stack.shape
    yc, xc = np.meshgrid((np.arange(q * h) + 0.5) / q, (np.arange(q * w) + 0.5) / q, indexing="ij")
    if variant == "srrf":
        theta = 2 * np.pi * np.arange(2 * axes) / (2 * axes)
        dxs, dys, wts = radius * np.cos(theta), radius * np.sin(theta), np.full(2 * axes, 1 / (2 * axes))
    else:
        dxs, dys, wts = _samples("esrrf", radius, axes)
    rad, inten = np.zeros((t, q * h, q * w)), np.zeros((t, q * h, q * w))
    for k, frame in enumerate(stack):
        gxf = frame[:, np.minimum(np.arange(w) + 1, w - 1)] - frame[:, np.maximum(np.arange(w) - 1, 0)]
        gyf = frame[np.minimum(np.arange(h) + 1, h - 1)] - frame[np.maximum(np.arange(h) - 1, 0)]
        acc = np.zeros(xc.shape)
        for dx, dy, wt in zip(dxs, dys, wts):
            xi, yi = xc + dx, yc + dy
            gx, gy = _interp2d(gxf, xi, yi), _interp2d(gyf, xi, yi)
            mag, dist = np.hypot(gx, gy), math.hypot(dx, dy)
            with np.errstate(invalid="ignore", divide="ignore"):
                d = np.where(mag > 0, np.abs(gy * (xc - xi) - gx * (yc - yi)) / mag, dist)
            outward = gx * (xi - xc) + gy * (yi - yc) > 0
            if variant == "srrf":
                acc += wt * np.where(outward, -1.0, 1.0) * (1 - d / dist) ** 2
            else:
                acc += wt * np.where(gx * (xi - xc) + gy * (yi - yc) < 0, 1 - d / dist, 0.0)
        rad[k] = np.maximum(acc, 0.0) ** sensitivity
        inten[k] = _interp2d(frame, xc, yc)
    if temporal == "avg":
        return (rad * inten).mean(0) if weighting else rad.mean(0)
    if temporal == "var":
        out = rad.var(0)
    else:
        dev = rad - rad.mean(0)
        out = np.abs((dev[1:] * dev[:-1]).sum(0)) / t
    return out * inten.mean(0) if weighting else out


@pytest.mark.parametrize(
    "variant, temporal, weighting, sensitivity",
    [
        ("srrf", "avg", True, 1.0),
        ("srrf", "avg", False, 1.0),
        ("srrf", "var", True, 1.0),
        ("srrf", "tac2", True, 2.0),
        ("esrrf", "avg", True, 1.0),
        ("esrrf", "tac2", False, 1.5),
    ],
)
def test_matches_a_direct_per_pixel_implementation(variant, temporal, weighting, sensitivity):
    optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=3)
    stack = _spots([(4.3, 4.6), (6.2, 5.1)], _telegraph(7, 2, seed=1), shape=(10, 9), noise=20.0, seed=2)
    radius = 0.5 if variant == "srrf" else 1.5
    ref = _reference(stack, 3, variant=variant, radius=radius, axes=6, temporal=temporal, weighting=weighting,
                     sensitivity=sensitivity)
    out = srrf(stack, optics=optics, variant=variant, temporal=temporal, intensity_weighting=weighting,
               sensitivity=sensitivity, chunk=3).image
    assert out.shape == (30, 27) and out.dtype == np.float64
    assert ref.max() > 0
    np.testing.assert_allclose(out, ref, atol=1e-4 * np.abs(ref).max(), rtol=0)


def test_catmull_rom_matrix_is_exact_on_samples_lines_and_parabolas():
    n = 12
    at_samples = catmull_rom_matrix(n, np.arange(2, n - 1) + 0.5)  # the pixel centres 2.5 ... n - 1.5
    np.testing.assert_allclose(at_samples, np.eye(n)[2 : n - 1], atol=1e-15)
    points = np.linspace(1.5, n - 1.5, 41)
    w = catmull_rom_matrix(n, points)
    centres = np.arange(n) + 0.5
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-13)
    np.testing.assert_allclose(w @ (3.0 - 0.7 * centres), 3.0 - 0.7 * points, atol=1e-12)
    np.testing.assert_allclose(w @ (centres - 4.2) ** 2, (points - 4.2) ** 2, atol=1e-12)
    outside = catmull_rom_matrix(n, [0.2, 1.49, n - 1.49, n + 3.0])
    assert not outside.any()


@pytest.mark.parametrize("optics", [OPTICS4, OPTICS5], ids=["q4", "q5"])
@pytest.mark.parametrize("centre", [(7.3, 8.6), (8.05, 7.5), (7.77, 8.21)])
def test_single_spot_peaks_at_its_subpixel_position_and_is_narrow(optics, centre):
    q = optics.upsample
    stack = _spots([centre], _telegraph(30, 1, seed=3) + 50.0, noise=2.0, seed=4)
    truth = np.array(centre) * q - 0.5  # fine-pixel index whose centre is the spot
    psf_fwhm_fine = optics.psf_fwhm_nm / optics.fine_pixel_nm
    for variant, temporal in [("srrf", "avg"), ("srrf", "var"), ("srrf", "tac2"), ("esrrf", "avg"), ("esrrf", "var")]:
        image = srrf(stack, optics=optics, variant=variant, temporal=temporal).image
        peak = np.unravel_index(np.argmax(image), image.shape)
        assert np.all(np.abs(np.array(peak) - truth) <= 0.6), (variant, temporal, peak, truth)
        if temporal == "avg":
            width = max(_fwhm(image[peak[0], :]), _fwhm(image[:, peak[1]]))
            limit = 0.4 if variant == "srrf" else 0.6
            assert width < limit * psf_fwhm_fine, (variant, width, psf_fwhm_fine)


def test_two_spots_closer_than_the_psf_fwhm_are_resolved_by_temporal_variance():
    # 0.8 FWHM apart: one blob in the mean frame. TRA ("avg") does not split them reliably
    # (when both are on, the radiality has one centre); the temporal variance of R_t does.
    separation = 0.8 * OPTICS4.psf_fwhm_nm / OPTICS4.pixel_size_nm  # camera px
    centres = [(8.0, 8.0 - separation / 2), (8.0, 8.0 + separation / 2)]
    a, b = (int(round(col * 4 - 0.5)) for _, col in centres)  # fine columns of the spots
    stack = _spots(centres, _telegraph(40, 2, seed=0) + 20.0, noise=2.0, seed=100)
    w = catmull_rom_matrix(16, (np.arange(64) + 0.5) / 4)
    mean = (w @ stack.mean(0) @ w.T)[31:33].mean(0)  # the row 8.0 lies between fine rows 31 and 32
    slopes = np.sign(np.diff(mean[a : b + 1]))
    assert np.all(np.diff(slopes) <= 0)  # rises then falls: no dip between the spots
    profile = srrf(stack, optics=OPTICS4, temporal="var").image[31:33].mean(0)
    peaks = min(profile[a - 2 : a + 3].max(), profile[b - 2 : b + 3].max())
    assert profile[a + 1 : b].min() < 0.8 * peaks


def test_deterministic_chunk_independent_and_calibrated():
    stack = _spots([(6.4, 7.2), (9.1, 8.3)], _telegraph(11, 2, seed=7), noise=10.0, seed=8)
    for temporal in ("avg", "var", "tac2"):
        base = srrf(stack, optics=OPTICS4, temporal=temporal, chunk=4)
        again = srrf(stack, optics=OPTICS4, temporal=temporal, chunk=4)
        np.testing.assert_array_equal(base.image, again.image)
        for chunk in (1, 11):
            other = srrf(stack, optics=OPTICS4, temporal=temporal, chunk=chunk).image
            np.testing.assert_allclose(other, base.image, atol=1e-5 * base.image.max())
    raw = 2.5 * stack + 100.0
    calibrated = srrf(raw, optics=OPTICS4, offset=100.0, gain=2.5, chunk=4).image
    reference = srrf(stack, optics=OPTICS4, chunk=4).image
    np.testing.assert_allclose(calibrated, reference, atol=1e-5 * reference.max())
    assert base.method == "srrf" and base.image.shape == (64, 64)
    params = base.parameters
    assert params["n_frames"] == 11 and params["magnification"] == 4 and params["ring_radius"] == 0.5
    assert params["optics"] == OPTICS4.as_dict() and params["temporal"] == "tac2"
    esrrf = srrf(stack, optics=OPTICS4, variant="esrrf", magnification=4)
    assert esrrf.method == "esrrf" and esrrf.parameters["ring_radius"] == 1.5


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"ring_radius": 0.0}, "ring_radius must be a positive"),
        ({"ring_radius": float("nan")}, "ring_radius must be a positive"),
        ({"axes": 1}, r"axes must be an integer >= 2"),
        ({"axes": 2.5}, r"axes must be an integer >= 2"),
        ({"temporal": "mean"}, "temporal must be one of avg, var, tac2"),
        ({"variant": "sofi"}, "variant must be one of srrf, esrrf"),
        ({"sensitivity": 0}, "sensitivity must be a positive"),
        ({"chunk": 0}, "chunk must be an integer >= 1"),
        ({"gain": -1.0}, "gain must be a positive"),
        ({"offset": float("inf")}, "offset must be a finite"),
        ({"magnification": 5}, "magnification 5 differs from optics.upsample = 4"),
        ({"device": "tpu"}, "device must be"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    stack = _spots([(7.5, 7.5)], _telegraph(4, 1, seed=9))
    with pytest.raises(InputError, match=message):
        srrf(stack, optics=OPTICS4, **kwargs)


def test_bad_stacks_and_optics_are_named():
    stack = _spots([(7.5, 7.5)], _telegraph(4, 1, seed=9))
    with pytest.raises(InputError, match="at least 2 frames"):
        srrf(stack[0], optics=OPTICS4)  # one image is one frame
    with pytest.raises(InputError, match="frames, rows, columns"):
        srrf(stack[None], optics=OPTICS4)
    with pytest.raises(InputError, match="tac2' needs at least 3 frames"):
        srrf(stack[:2] + np.arange(2)[:, None, None], optics=OPTICS4, temporal="tac2")
    with pytest.raises(InputError, match="optics must be"):
        srrf(stack, optics={"pixel_size_nm": 100})
