"""The acquisition layer: one validation, one calibration (scalar or sCMOS maps), lazy windows and padding, the
mean frame from the method's own pass; and the tile driver that stitches what methods solve per window."""

import numpy as np
import pytest

from pointillist.acquisition import Calibration, as_acquisition, open_acquisition
from pointillist.errors import InputError
from pointillist.io import write_tiff
from pointillist.tiles import TileOutput, run_tiles, tile_grid, tile_layout

RNG = np.random.default_rng(0)
FRAMES = RNG.poisson(30, size=(20, 12, 10)).astype(np.uint16) + 100


def test_calibration_values_and_maps():
    cal = Calibration(offset=100, gain=2.0)
    np.testing.assert_array_equal(cal.apply(np.array([[[102.0]]])), [[[1.0]]])
    offset = np.full((12, 10), 100.0)
    offset[3, 4] = 90.0
    gain = np.full((12, 10), 2.0)
    gain[0, 0] = 4.0
    cal_map = Calibration(offset=offset, gain=gain, read_variance=np.full((12, 10), 4.0))
    out = cal_map.apply(FRAMES)
    np.testing.assert_allclose(out, (FRAMES.astype(float) - offset) / gain)
    assert cal_map.map_shape == (12, 10)
    np.testing.assert_allclose(cal_map.photon_read_variance[0, :2], [0.25, 1.0])
    # a window cuts the maps with the frames
    acq = as_acquisition(FRAMES, calibration=cal_map)
    np.testing.assert_allclose(acq.window(2, 6, 3, 8)[0:5], out[:5, 2:6, 3:8])
    assert cal_map.as_dict()["offset"] == {"map": [12, 10], "min": 90.0, "max": 100.0}


@pytest.mark.parametrize("kwargs, message", [
    ({"gain": 0}, "gain must be a positive number"), ({"gain": True}, "gain must be a number"),
    ({"offset": np.nan}, "offset must be a finite number"), ({"offset": "1"}, "offset must be a number"),
    ({"gain": np.zeros((3, 3))}, "a map with values <= 0"), ({"offset": np.ones(3)}, "must be 2-D"),
    ({"offset": np.ones((3, 3)), "gain": np.ones((4, 4))}, "different shapes"),
    ({"read_variance": -1.0}, "non-negative"),
])
def test_bad_calibrations_are_named(kwargs, message):
    with pytest.raises(InputError, match=message):
        Calibration(**kwargs)


def test_maps_must_match_the_frames():
    with pytest.raises(InputError, match="calibration maps are 3 x 3 but the frames are 12 x 10"):
        as_acquisition(FRAMES, offset=np.zeros((3, 3)))
    with pytest.raises(InputError, match="give the camera calibration once"):
        as_acquisition(FRAMES, offset=1.0, calibration=Calibration())


@pytest.mark.parametrize("stack, message", [
    (np.zeros((2, 2, 8, 8)), "frames, rows, columns"), (np.zeros((0, 8, 8)), "empty"),
    (np.zeros((3, 3, 8)), "too small"), (np.zeros((3, 8, 8), dtype=complex), "real numbers"),
])
def test_bad_stacks_are_named(stack, message):
    with pytest.raises(InputError, match=message):
        as_acquisition(stack)


def test_values_are_checked_during_the_first_pass():
    bad = FRAMES.astype(np.float32)
    bad[13, 2, 2] = np.nan
    acq = as_acquisition(bad)  # cheap: no pass yet
    with pytest.raises(InputError, match="NaN"):
        acq.mean
    constant = as_acquisition(np.ones((30, 8, 8))).require("SOFI", min_frames=2, fluctuations=True)
    with pytest.raises(InputError, match="constant in time"):
        list(constant.chunks(7))
    # without the requirement a constant stack is fine (localization of one still frame)
    assert as_acquisition(np.ones((30, 8, 8))).mean.max() == 1.0


def test_chunks_cover_the_stack_and_leave_the_mean():
    acq = as_acquisition(FRAMES, offset=100, gain=2)
    starts = [start for start, _ in acq.chunks(7)]
    assert starts == [0, 7, 14]
    np.testing.assert_allclose(acq.mean, (FRAMES.mean(axis=0) - 100) / 2, rtol=1e-12)
    assert next(acq.chunks(5, dtype=np.float32))[1].dtype == np.float32


def test_padding_adds_zero_pixels_after_calibration():
    acq = as_acquisition(FRAMES, offset=100).padded(3)
    assert acq.shape == (20, 18, 16)
    block = acq[0:2]
    assert np.all(block[:, :3] == 0) and np.all(block[:, :, -3:] == 0)
    np.testing.assert_allclose(block[:, 3:-3, 3:-3], FRAMES[:2] - 100.0)
    with pytest.raises(InputError, match="window"):
        acq.window(0, 4, 0, 4)


def test_an_opened_tiff_stays_memory_mapped_and_records_its_input(tmp_path):
    path = write_tiff(tmp_path / "s.tif", FRAMES, pixel_size_nm=107.5, dtype=np.uint16)
    acq = open_acquisition(path, calibration=Calibration(offset=100))
    assert isinstance(acq.data, np.memmap) and acq.pixel_size_nm == 107.5
    rec = acq.input_record()
    assert rec["shape"] == [20, 12, 10] and rec["dtype"] == "uint16" and len(rec["sha256"]) == 64
    assert as_acquisition(path).shape == (20, 12, 10)
    assert as_acquisition(acq) is acq


def test_tiles_partition_the_field_and_stitch_back():
    for size, tile, margin in ((100, 64, 6), (41, 20, 5), (20, 64, 5)):
        layout = tile_layout(size, tile, margin)
        cores = [i for _, _, a, b in layout for i in range(a, b)]
        assert cores == list(range(size))
        assert all(stop - start <= tile for start, stop, _, _ in layout)
        assert all(a - start >= margin or start == 0 for start, _, a, _ in layout)
    acq = as_acquisition(FRAMES.astype(float)).window(0, 12, 0, 10)
    big = as_acquisition(np.tile(FRAMES.astype(float), (1, 4, 5)))
    out = run_tiles(big, lambda w, t: TileOutput(fine={"m": np.kron(w.mean, np.ones((2, 2)))},
                                                 coarse={"m": w.mean}, record={"n": w.n_frames}),
                    tile_size=20, margin=4, upsample=2)
    np.testing.assert_allclose(out.coarse["m"], big.mean)
    np.testing.assert_allclose(out.fine["m"], np.kron(big.mean, np.ones((2, 2))))
    assert len(out.records) == len(tile_grid((48, 50), 20, 4)) > 1 and out.median("n") == 20
    np.testing.assert_allclose(acq.mean, FRAMES.mean(axis=0))


def test_an_empty_tile_is_recorded_and_left_at_zero():
    big = as_acquisition(np.ones((3, 40, 40)))
    out = run_tiles(big, lambda w, t: None if t.r0 == 0 and t.c0 == 0 else TileOutput(coarse={"m": w.mean}),
                    tile_size=24, margin=4, upsample=1)
    assert out.records[0]["empty"] and out.coarse["m"][0, 0] == 0 and out.coarse["m"][-1, -1] == 1
