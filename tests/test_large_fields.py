"""Large fields: the one-pass tile statistics, stitching, schedulers (threads and Dask), Zarr and BigTIFF I/O."""

import pickle

import numpy as np
import pytest
import torch

from pointillist.acquisition import Calibration, as_acquisition, open_acquisition
from pointillist.covariance import covariance_statistics
from pointillist.io import read_stack, write_tiff
from pointillist.io.ome_zarr import read_zarr, write_ome_zarr
from pointillist.methods.colorme import colorme
from pointillist.methods.colorme import tiled
from pointillist.methods.smlm.api import localize
from pointillist.metrics import support_jaccard
from pointillist.operators import imaging_operator
from pointillist.optics import Optics
from pointillist.scheduler import Scheduler, open_scheduler
from pointillist.simulate import simulate_fluctuation, simulate_smlm
from pointillist.tiles import tile_grid, tile_margin

OPTICS = Optics(pixel_size_nm=100.0, psf_fwhm_nm=258.21, upsample=2)


@pytest.fixture(scope="module")
def field():
    """A 40 x 40 field of 300 frames: 9 tiles of at most 24 pixels."""
    return simulate_fluctuation(optics=OPTICS, shape=(40, 40), n_frames=300, n_structures=4, seed=3)


@pytest.fixture(scope="module")
def field_acq(field):
    return as_acquisition(field.stack, offset=100)


@pytest.fixture(scope="module")
def tiled_run(field_acq):
    return colorme(field_acq, optics=OPTICS, tile_size=24, scheduler=Scheduler(threads=1))


@pytest.mark.parametrize("block", [None, 40])
def test_tile_statistics_equal_a_pass_over_each_window(field_acq, monkeypatch, block):
    # several frame ranges per band (merged in order) and several bands
    monkeypatch.setattr(tiled, "TASK_FRAMES", 80)
    monkeypatch.setattr(tiled, "BAND_BYTES", 1)
    tiles = tile_grid(field_acq.frame_shape, 24, tile_margin(OPTICS.sigma_px))
    handles, bands = tiled.tile_statistics(field_acq, tiles, OPTICS, block_frames=block)
    assert len(bands) == 3  # one per row of tiles (BAND_BYTES = 1)
    for t, (band, j) in zip(tiles, handles):
        st = band[j]
        window = field_acq.window(t.r0, t.r1, t.c0, t.c1)
        alone = covariance_statistics(window, imaging_operator(OPTICS, t.shape), block=block)
        assert st.n_frames == 300
        np.testing.assert_allclose(st.v.numpy(), alone.v.numpy(), rtol=1e-10)
        np.testing.assert_allclose(st.variance.numpy(), alone.variance.numpy(), rtol=1e-10)
        np.testing.assert_allclose(st.mean.numpy(), alone.mean.numpy(), rtol=1e-12)


def test_a_stitched_tile_equals_that_tile_solved_alone(field_acq, tiled_run):
    tiles = tile_grid(field_acq.frame_shape, 24, tile_margin(OPTICS.sigma_px))
    q = OPTICS.upsample
    assert len(tiles) == 9
    for t in (tiles[4], tiles[0]):  # an interior tile and a corner
        alone = colorme(field_acq.window(t.r0, t.r1, t.c0, t.c1), optics=OPTICS, tile_size=64)
        core_tile, core_field = t.core_in_tile(q), t.core_in_field(q)
        np.testing.assert_array_equal(tiled_run.support[core_field], alone.support[core_tile])
        np.testing.assert_array_equal(tiled_run.intensity[core_field], alone.intensity[core_tile])
        np.testing.assert_array_equal(tiled_run.background[t.core_in_field()], alone.background[t.core_in_tile()])


def test_tiles_agree_with_the_whole_field_away_from_the_seams(field, field_acq, tiled_run):
    whole = colorme(field_acq, optics=OPTICS, tile_size=64)
    agree = support_jaccard(tiled_run.support, whole.support, tolerance_px=1.0).jaccard
    truth_tiled = support_jaccard(tiled_run.support, field.support, tolerance_px=1.6).jaccard
    truth_whole = support_jaccard(whole.support, field.support, tolerance_px=1.6).jaccard
    # each tile has its own lambda_max and noise variance, so the supports differ a little; a tiling that
    # misplaced its cores (off by a margin, transposed) scores below 40 here
    assert agree > 70
    assert truth_tiled > truth_whole - 5


def test_threads_give_the_same_bytes_as_one_thread(field_acq, tiled_run):
    two = colorme(field_acq, optics=OPTICS, tile_size=24, scheduler=Scheduler(threads=2))
    assert two.support.tobytes() == tiled_run.support.tobytes()
    assert two.intensity.tobytes() == tiled_run.intensity.tobytes()
    assert two.tiles == tiled_run.tiles


def test_scheduler_validates_its_options():
    from pointillist.errors import InputError

    with pytest.raises(InputError, match="threads must be a positive"):
        Scheduler(threads=0)
    with pytest.raises(InputError, match="either --workers"):
        with open_scheduler(workers=2, scheduler="tcp://127.0.0.1:1"):
            pass
    with pytest.raises(InputError, match="workers must be a positive"):
        with open_scheduler(workers=0):
            pass


def test_threads_restore_torch_threads():
    before = torch.get_num_threads()
    assert Scheduler(threads=2).map(lambda x: torch.get_num_threads(), range(3)) == [1, 1, 1]
    assert torch.get_num_threads() == before


# -- Dask ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("distributed")
    with open_scheduler(workers=2) as sched:
        yield sched


def _flaky_square(item):
    """Fails the first time it sees each item (a marker file per item), kills its worker on item 3."""
    import os

    value, folder = item
    marker = os.path.join(folder, f"seen-{value}")
    if not os.path.exists(marker):
        open(marker, "w").close()
        if value == 3:
            os._exit(1)  # the worker process dies mid-run
        raise RuntimeError(f"first attempt at {value}")
    return value * value


def test_dask_tasks_are_retried_and_survive_a_killed_worker(cluster, tmp_path):
    items = [(v, str(tmp_path)) for v in range(6)]
    assert cluster.map(_flaky_square, items) == [v * v for v in range(6)]


def test_dask_colorme_gives_the_same_bytes(cluster, field, tmp_path, tiled_run):
    # from a file, as a user runs it: the workers reopen the TIFF by path
    path = write_tiff(tmp_path / "stack.tif", field.stack, dtype=np.uint16, pixel_size_nm=100)
    acq = open_acquisition(path, calibration=Calibration(offset=100))
    assert len(pickle.dumps(acq)) < 10_000  # the stack travels as its path
    res = colorme(acq, optics=OPTICS, tile_size=24, scheduler=cluster)
    assert res.support.tobytes() == tiled_run.support.tobytes()
    assert res.intensity.tobytes() == tiled_run.intensity.tobytes()
    assert res.background.tobytes() == tiled_run.background.tobytes()
    assert res.tiles == tiled_run.tiles


def test_dask_localize_gives_the_same_bytes(cluster, monkeypatch):
    from pointillist.methods.smlm import api

    monkeypatch.setattr(api, "TASK_FRAMES", 16)  # several tasks
    optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
    sim = simulate_smlm(optics=optics, shape=(32, 32), n_frames=40, density_per_um2=0.6, structure="points",
                        n_structures=2000, snr_db=18, seed=11)
    here = localize(sim.stack, optics=optics, method="deepcel0", full_output=True, scheduler=Scheduler(threads=1))
    there = localize(sim.stack, optics=optics, method="deepcel0", full_output=True, scheduler=cluster)
    assert len(here.localizations) > 20
    assert here.render.tobytes() == there.render.tobytes()
    for name in ("frame", "x_nm", "y_nm", "photons"):
        assert getattr(here.localizations, name).tobytes() == getattr(there.localizations, name).tobytes()


# -- Zarr, lazy TIFF, BigTIFF ------------------------------------------------------------------------------


def test_ome_zarr_and_plain_zarr_inputs_read_lazily(field, tmp_path, tiled_run):
    import zarr

    path = write_ome_zarr(tmp_path / "stack.ome.zarr", field.stack, pixel_size_nm=100, dtype=np.uint16)
    acq = open_acquisition(path, calibration=Calibration(offset=100))
    assert acq.pixel_size_nm == 100.0 and acq.shape == (300, 40, 40)
    assert not isinstance(acq.data, np.ndarray)  # read chunk by chunk
    res = colorme(acq, optics=OPTICS, tile_size=24, scheduler=Scheduler(threads=1))
    assert res.support.tobytes() == tiled_run.support.tobytes()
    # a plain array with singleton axes (t, c, z, y, x)
    arr = zarr.create_array(str(tmp_path / "plain.zarr"), shape=(300, 1, 1, 40, 40), chunks=(50, 1, 1, 40, 40),
                            dtype="uint16")
    arr[:] = field.stack[:, None, None]
    plain = read_zarr(tmp_path / "plain.zarr")
    assert plain.shape == (300, 40, 40) and plain.pixel_size_nm is None
    np.testing.assert_array_equal(plain.data[10:12, 3:5, 7:9], field.stack[10:12, 3:5, 7:9])


def test_zarr_input_errors_name_the_problem(tmp_path):
    import zarr

    from pointillist.errors import InputError

    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a Zarr store"):
        read_zarr(tmp_path / "empty")
    group = zarr.open_group(str(tmp_path / "two.zarr"), mode="w")
    group.create_array("a", shape=(2, 4, 4), dtype="f4")
    group.create_array("b", shape=(2, 4, 4), dtype="f4")
    with pytest.raises(InputError, match="2 arrays"):
        read_zarr(tmp_path / "two.zarr")


def test_large_compressed_tiff_is_read_lazily_and_pickles_as_its_path(tmp_path, monkeypatch):
    import tifffile

    from pointillist.io import tiff

    monkeypatch.setattr(tiff, "LAZY_TIFF_BYTES", 100)
    frames = np.random.default_rng(0).integers(0, 1000, size=(6, 20, 20)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "c.tif", frames, compression="zlib", photometric="minisblack")
    acq = open_acquisition(tmp_path / "c.tif")
    assert not isinstance(acq.data, np.ndarray)
    np.testing.assert_array_equal(acq[2:4], frames[2:4])
    back = pickle.loads(pickle.dumps(acq.window(2, 12, 3, 9)))
    np.testing.assert_array_equal(back[1:5], frames[1:5, 2:12, 3:9])


def test_images_over_the_limit_are_written_as_bigtiff(tmp_path, monkeypatch):
    import tifffile

    from pointillist.io import tiff

    monkeypatch.setattr(tiff, "BIGTIFF_BYTES", 1000)
    image = np.arange(2 * 30 * 30, dtype=np.float32).reshape(2, 30, 30)
    path = write_tiff(tmp_path / "big.tif", image, pixel_size_nm=25.0)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_bigtiff
    back = read_stack(path)
    assert back.pixel_size_nm == 25.0
    np.testing.assert_array_equal(back.data, image)


def test_cli_writes_ome_zarr_outputs(field, tmp_path):
    import zarr

    from pointillist.cli.main import main

    write_tiff(tmp_path / "s.tif", field.stack[:100, :24, :24], dtype=np.uint16, pixel_size_nm=100)
    assert main(["reconstruct", str(tmp_path / "s.tif"), "-o", str(tmp_path / "out"), "--offset", "100",
                 "--upsample", "2", "--format", "zarr", "--quiet"]) == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert {"support.zarr", "intensity.zarr", "background.zarr", "run.json"} <= set(names)
    assert not any(n.endswith(".tif") for n in names)
    image = zarr.open_group(str(tmp_path / "out" / "intensity.zarr"), mode="r")
    scale = image.attrs["ome"]["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"]
    assert scale == [50.0, 50.0] and image["0"].shape == (48, 48)
    # the stitched reconstruction reads back as a stack (pixel size from the OME metadata)
    assert read_zarr(tmp_path / "out" / "intensity.zarr").pixel_size_nm == 50.0


def test_batch_finds_zarr_stores_beside_tiffs(tmp_path):
    from pointillist.cli.batch import find_stacks, stack_name

    write_tiff(tmp_path / "a.tif", np.ones((2, 8, 8)))
    write_ome_zarr(tmp_path / "b.ome.zarr", np.ones((2, 8, 8)))
    (tmp_path / "notes.zarr").mkdir()  # a folder named like a store, without Zarr metadata
    found = find_stacks([tmp_path])
    assert [p.name for p in found] == ["a.tif", "b.ome.zarr"]
    assert [stack_name(p) for p in found] == ["a", "b"]
