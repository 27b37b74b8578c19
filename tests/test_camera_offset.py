"""The camera offset: the dark level of simulated stacks lands between the offset minus the read noise's pull and
the offset plus part of the background; integer stacks sitting well above zero without an offset get one warning.

How the percentile was chosen (seeds 11 and 12, seed 11 in two noise draws; fluctuation and SMLM stacks of
64 x 64 x 500, 256 frames read; backgrounds 0-50 photons, constant or smooth 0.5-1.5x; read noise 0, 1.5, 3 e-;
gain 1, 2, 3; offset 0, 100, 500):
error of the dark level, ``(level - offset) / gain`` in photons, min and max over the other parameters::

    percentile          0           0.1          1            5            10
    bg 0              [-16.5, 0]  [-13, 0]     [-11.5, 0]   [-10, 0]     [-9.5, 0]
    bg 5              [-14, 0]    [-11, 0]     [-9, 0]      [-7.5, 0]    [-7, 0]
    bg 20 constant    [-5, 4]     [-1.7, 5]    [1, 6]       [3, 7]       [4, 8]
    bg 20 smooth      [-10, 2]    [-5.5, 2]    [-3, 4]      [-1, 5]      [0.3, 6.3]
    bg 50 constant    [12, 23]    [18.5, 25]   [22.7, 27]   [25.7, 29]   [27, 30]
    bg 50 smooth      [1.5, 13]   [6, 13]      [9, 16]      [12.5, 21]   [15.5, 26]
    worst |error|     23          25           27           29           30

1% is the best worst case among percentiles that 1% of defective pixels cannot move. Over all these stacks the
dark level lay within ``offset - 4.0 gain s`` (read noise ``s``) and ``offset + 0.54 gain b`` (background ``b``);
the tests check ``offset - 4.5 gain s - 1 <= level <= offset + 0.7 gain b + 1`` on other seeds.
"""

import numpy as np
import pytest

from pointillist.acquisition import Calibration, as_acquisition, open_acquisition
from pointillist.camera_offset import WARN_ABOVE_ADU, dark_level, offset_warning
from pointillist.errors import InputError
from pointillist.io import write_tiff
from pointillist.optics import Optics
from pointillist.simulate import Camera, simulate_fluctuation, simulate_smlm

OPTICS = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
SEED = 3  # not the seed the percentile was chosen on


def fluctuation(camera, seed=SEED):
    return simulate_fluctuation(optics=OPTICS, shape=(32, 32), n_frames=500, n_structures=2, camera=camera,
                                seed=seed).stack


def smlm(camera, seed=SEED):
    return simulate_smlm(optics=OPTICS, shape=(32, 32), n_frames=500, camera=camera, seed=seed).stack


def within_measured_bounds(level, camera):
    """offset - 4.5 gain s - 1 <= level <= offset + 0.7 gain b + 1 (measured: -4.0 gain s and +0.54 gain b)."""
    low = camera.offset - 4.5 * camera.gain * camera.read_noise - 1
    high = camera.offset + 0.7 * camera.gain * camera.background + 1
    return low <= level <= high


@pytest.mark.parametrize("simulate", [fluctuation, smlm])
@pytest.mark.parametrize("offset, gain", [(100, 1.0), (100, 2.0), (0, 1.0), (0, 2.0)])
@pytest.mark.parametrize("background, read_noise", [(0.0, 3.0), (20.0, 1.5), (50.0, 2.0)])
def test_dark_level_brackets_the_offset(simulate, offset, gain, background, read_noise):
    camera = Camera(background=background, read_noise=read_noise, gain=gain, offset=offset)
    stack = simulate(camera)
    level = dark_level(stack)
    assert within_measured_bounds(level, camera), level
    # far closer to the offset than the data's mean, which is what a missing offset leaves in the background
    assert abs(level - offset) < 0.5 * abs(stack.mean() - offset)


def test_dark_level_is_exact_without_noise_or_background():
    stack = smlm(Camera(background=0.0, read_noise=0.0, gain=2.0, offset=437))
    assert dark_level(stack) == 437.0


def test_issue_stack_warns_once_with_the_level_and_the_option():
    # issue 14 item 6: the default fluctuation camera (background 50, read noise 2) with a 100 ADU offset
    stack = fluctuation(Camera(background=50.0, read_noise=2.0, gain=1.0, offset=100))
    message = offset_warning(stack, offset_given=False)
    level = dark_level(stack)
    assert 100 <= level <= 140
    assert message == (f"the darkest pixels of the stack sit at {level:.0f} ADU, not 0: if that is the camera "
                       f"offset, pass --offset {level:.0f} (or --offset auto); without it every background is "
                       "biased by that much")
    assert "\n" not in message


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_no_warning_without_an_offset(gain):
    # no offset: read noise is clipped at zero and a background of up to ~20 photons leaves the floor under 10 ADU
    for background in (0.0, 5.0, 10.0):
        stack = fluctuation(Camera(background=background, read_noise=2.0, gain=gain, offset=0))
        assert dark_level(stack) < WARN_ABOVE_ADU
        assert offset_warning(stack, offset_given=False) is None


def test_no_warning_when_an_offset_was_given_or_for_photons():
    stack = fluctuation(Camera(background=20.0, read_noise=2.0, gain=1.0, offset=100))
    assert offset_warning(stack, offset_given=False) is not None
    assert offset_warning(stack, offset_given=True) is None
    assert offset_warning(as_acquisition(stack, offset=100.0), offset_given=False) is None
    # float photons (SNR mode: Poisson plus Gaussian noise, fractional values) are taken as processed data
    photons = simulate_fluctuation(optics=OPTICS, shape=(32, 32), n_frames=100, n_structures=2, snr_db=10.0,
                                   camera=Camera(background=150.0), seed=SEED).stack
    assert photons.dtype == np.float32 and dark_level(photons) > 5 * WARN_ABOVE_ADU  # would warn if integer
    assert offset_warning(photons, offset_given=False) is None
    # ... but a camera stack saved as float (whole numbers) is still camera counts
    assert offset_warning(stack.astype(np.float32), offset_given=False) == offset_warning(stack, offset_given=False)
    assert offset_warning(stack.astype(np.int32), offset_given=False) is not None


def test_memory_mapped_tiff_and_windows_give_the_array_estimate(tmp_path):
    stack = smlm(Camera(background=10.0, read_noise=1.5, gain=2.0, offset=100), seed=5)
    path = write_tiff(tmp_path / "stack.tif", stack, pixel_size_nm=100, dtype=np.uint16)
    acq = open_acquisition(path, calibration=Calibration(offset=0, gain=2.0))
    assert isinstance(acq.data, np.memmap)
    assert dark_level(acq) == dark_level(stack) == dark_level(path)
    # raw values within the window: the calibration and the padding are ignored
    window = acq.window(4, 20, 8, 30)
    assert dark_level(window) == dark_level(stack[:, 4:20, 8:30]) == dark_level(window.padded(3))
    assert offset_warning(acq, offset_given=False).startswith("the darkest pixels of stack.tif sit at ")


def test_frames_read_are_evenly_spaced_and_at_most_max_frames():
    stack = np.full((10, 8, 8), 100, dtype=np.uint16)
    stack[3] = 50  # frame 3 is skipped with a step of 2 (frames 0, 2, 4, 6, 8)
    assert dark_level(stack) == 50.0
    assert dark_level(stack, max_frames=5) == 100.0
    stack[4] = 70
    assert dark_level(stack, max_frames=5) == 70.0
    assert dark_level(stack[:, :, :], max_frames=1) == 100.0  # only frame 0
    assert dark_level(stack[0]) == 100.0  # one image


@pytest.mark.parametrize("kwargs, message", [
    ({"percentile": -1}, "percentile must be a number in"), ({"percentile": "1"}, "percentile must be a number"),
    ({"max_frames": 0}, "max_frames must be a positive integer"), ({"max_frames": 2.5}, "max_frames must be"),
])
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(InputError, match=message):
        dark_level(np.zeros((2, 8, 8)), **kwargs)
    with pytest.raises(InputError, match=message):
        offset_warning(np.zeros((2, 8, 8)), offset_given=False, **kwargs)


def test_non_finite_floats_are_refused():
    stack = np.ones((3, 8, 8), dtype=np.float32)
    stack[1, 2, 2] = np.nan
    with pytest.raises(InputError, match="NaN or infinite"):
        dark_level(stack)
