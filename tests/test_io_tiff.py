"""TIFF reading, writing, calibration and info (pointillist.io.tiff)."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile

from pointillist.errors import InputError
from pointillist.io import Stack, read_stack, tiff_info, to_photons, write_tiff
from pointillist.io import tiff as tiff_module

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _stack(dtype=np.float32, shape=(4, 6, 5), seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.normal(100.0, 10.0, shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 5000), shape, endpoint=True).astype(dtype)


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("dtype", [np.float32, np.uint16, np.uint8])
@pytest.mark.parametrize("shape", [(4, 6, 5), (6, 5)])
def test_write_read_round_trip(tmp_path, dtype, shape):
    image = _stack(dtype, shape)
    path = write_tiff(tmp_path / "a.tif", image, pixel_size_nm=107.5, dtype=dtype)
    stack = read_stack(path)
    assert isinstance(stack, Stack)
    assert stack.data.dtype == np.dtype(dtype)
    expected = image if image.ndim == 3 else image[np.newaxis]
    np.testing.assert_array_equal(stack.data, expected)
    assert stack.pixel_size_nm == 107.5
    assert stack.path == path
    assert stack.n_frames == expected.shape[0]


def test_write_converts_float64_to_float32_by_default(tmp_path):
    image = np.linspace(0, 1, 30).reshape(5, 6)
    stack = read_stack(write_tiff(tmp_path / "a.tif", image))
    assert stack.data.dtype == np.float32
    np.testing.assert_array_equal(stack.data[0], image.astype(np.float32))
    assert stack.pixel_size_nm is None


def test_written_file_is_imagej_with_micron_calibration(tmp_path):
    path = write_tiff(tmp_path / "a.tif", _stack(), pixel_size_nm=100.0)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej
        assert tif.imagej_metadata["unit"] == "micron"
        assert tif.imagej_metadata["frames"] == 4
        assert tif.pages.first.tags["XResolution"].value == (10, 1)
        assert tif.pages.first.tags["YResolution"].value == (10, 1)
        assert "DateTime" not in tif.pages.first.tags
        assert "Software" not in tif.pages.first.tags
    assert read_stack(path).axes == "TYX"


def test_same_array_gives_identical_bytes(tmp_path):
    image = _stack()
    a = write_tiff(tmp_path / "a.tif", image, pixel_size_nm=65.0)
    b = write_tiff(tmp_path / "b.tif", image.copy(), pixel_size_nm=65.0)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


def test_write_accepts_memmap_input(tmp_path):
    image = _stack(np.uint16)
    src = read_stack(write_tiff(tmp_path / "a.tif", image, dtype=np.uint16))
    assert src.is_memmap
    out = read_stack(write_tiff(tmp_path / "b.tif", src.data))
    np.testing.assert_array_equal(out.data, image.astype(np.float32))


# ---------------------------------------------------------------- memmap


def test_uncompressed_stack_is_memory_mapped(tmp_path):
    path = write_tiff(tmp_path / "a.tif", _stack(np.uint16), dtype=np.uint16)
    stack = read_stack(path)
    assert isinstance(stack.data, np.memmap)
    assert stack.is_memmap
    assert not stack.data.flags.writeable
    assert not isinstance(read_stack(path, mmap=False).data, np.memmap)


def test_compressed_stack_is_read_into_memory(tmp_path):
    image = _stack(np.uint16)
    tifffile.imwrite(tmp_path / "z.tif", image, photometric="minisblack", compression="zlib")
    stack = read_stack(tmp_path / "z.tif")
    assert not stack.is_memmap
    np.testing.assert_array_equal(stack.data, image)


def test_big_endian_file_reads_native_values(tmp_path):
    image = _stack(np.uint16)
    tifffile.imwrite(tmp_path / "be.tif", image, photometric="minisblack", byteorder=">")
    stack = read_stack(tmp_path / "be.tif")
    assert stack.data.dtype == np.uint16
    np.testing.assert_array_equal(stack.data, image)


# ---------------------------------------------------------------- other writers' files


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64])
def test_plain_multipage_tiff(tmp_path, dtype):
    image = _stack(dtype)
    tifffile.imwrite(tmp_path / "p.tif", image, photometric="minisblack")
    stack = read_stack(tmp_path / "p.tif")
    assert stack.data.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(stack.data, image)
    assert stack.pixel_size_nm is None


def test_single_page_is_one_frame(tmp_path):
    image = _stack(np.uint16, (6, 5))
    tifffile.imwrite(tmp_path / "p.tif", image)
    stack = read_stack(tmp_path / "p.tif")
    assert stack.shape == (1, 6, 5)
    assert stack.axes == "YX"


def test_imagej_escaped_micro_sign_unit(tmp_path):
    # Fiji writes the micrometre unit as the six characters "\u00B5m".
    tifffile.imwrite(
        tmp_path / "ij.tif", _stack(np.uint16), imagej=True, resolution=(10, 10), metadata={"unit": "\\u00B5m", "axes": "ZYX"}
    )
    stack = read_stack(tmp_path / "ij.tif")
    assert stack.pixel_size_nm == 100.0
    assert stack.axes == "ZYX"


@pytest.mark.parametrize(("unit", "per_unit", "expected"), [("nm", 1 / 65, 65.0), ("um", 1 / 0.16, 160.0), ("cm", 1e5, 100.0)])
def test_imagej_units(tmp_path, unit, per_unit, expected):
    tifffile.imwrite(
        tmp_path / "ij.tif", _stack(np.uint16), imagej=True, resolution=(per_unit, per_unit), metadata={"unit": unit, "axes": "TYX"}
    )
    assert read_stack(tmp_path / "ij.tif").pixel_size_nm == pytest.approx(expected, rel=1e-9)


def test_imagej_without_unit_has_no_pixel_size(tmp_path):
    tifffile.imwrite(tmp_path / "ij.tif", _stack(np.uint16), imagej=True, resolution=(10, 10), metadata={"axes": "TYX"})
    assert read_stack(tmp_path / "ij.tif").pixel_size_nm is None


def test_imagej_hyperstack_with_singleton_axes(tmp_path):
    image = _stack(np.uint16, (1, 5, 1, 6, 7))
    tifffile.imwrite(tmp_path / "h.tif", image, imagej=True, metadata={"axes": "TZCYX"})
    stack = read_stack(tmp_path / "h.tif")
    assert stack.shape == (5, 6, 7)
    np.testing.assert_array_equal(stack.data, image.reshape(5, 6, 7))


@pytest.mark.parametrize(("size", "unit", "expected"), [(0.1075, "µm", 107.5), (65, "nm", 65.0), (None, None, None)])
def test_ome_tiff_pixel_size(tmp_path, size, unit, expected):
    metadata = {"axes": "TZCYX"}
    if size is not None:
        metadata.update(PhysicalSizeX=size, PhysicalSizeY=size, PhysicalSizeXUnit=unit, PhysicalSizeYUnit=unit)
    image = _stack(np.uint16, (3, 1, 1, 6, 7))
    tifffile.imwrite(tmp_path / "o.ome.tif", image, ome=True, photometric="minisblack", metadata=metadata)
    stack = read_stack(tmp_path / "o.ome.tif")
    assert stack.shape == (3, 6, 7)
    assert stack.pixel_size_nm == expected


@pytest.mark.parametrize(
    ("unit", "per_unit", "expected"),
    [("CENTIMETER", 1e5, 100.0), ("MILLIMETER", 1e4, 100.0), ("MICROMETER", 10, 100.0), ("INCH", 72, None), ("NONE", 1, None)],
)
def test_plain_tiff_resolution_unit(tmp_path, unit, per_unit, expected):
    # Inches (72 dpi in most desktop files) are not a microscope calibration.
    tifffile.imwrite(
        tmp_path / "r.tif", _stack(np.uint16), photometric="minisblack", resolution=(per_unit, per_unit), resolutionunit=unit
    )
    assert read_stack(tmp_path / "r.tif").pixel_size_nm == expected


@pytest.mark.skipif(not (SHARED_DATA / "thunderstorm_demo").is_dir(), reason="shared data not available")
def test_shared_thunderstorm_demo_stack():
    stack = read_stack(SHARED_DATA / "thunderstorm_demo" / "ArtificialDataset_demo1.tif")
    assert stack.shape == (20, 64, 64)
    assert stack.data.dtype == np.uint16
    assert stack.pixel_size_nm == 100.0


# ---------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file: .*nothere.tif"):
        read_stack(tmp_path / "nothere.tif")


def test_not_a_tiff(tmp_path):
    (tmp_path / "x.tif").write_text("hello, I am text")
    with pytest.raises(InputError, match="is not a readable TIFF image: not a TIFF file"):
        read_stack(tmp_path / "x.tif")


def test_no_pages(tmp_path):
    # A valid little-endian header whose first IFD offset is 0: no pages.
    (tmp_path / "e.tif").write_bytes(b"II*\x00\x00\x00\x00\x00")
    with pytest.raises(InputError, match=r"contains no images \(0 pages\)"):
        read_stack(tmp_path / "e.tif")


def test_zero_size_axis(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tifffile warns that the file is nonconformant
        tifffile.imwrite(tmp_path / "e.tif", np.zeros((0, 4, 5), np.float32))
    with pytest.raises(InputError, match=r"empty stack of shape \(0, 4, 5\)"):
        read_stack(tmp_path / "e.tif")


def test_too_many_axes(tmp_path):
    tifffile.imwrite(tmp_path / "c.tif", np.zeros((2, 5, 8, 8), np.uint16), ome=True, photometric="minisblack", metadata={"axes": "CZYX"})
    with pytest.raises(
        InputError,
        match=r"has shape \(2, 5, 8, 8\) with axes 'CZYX'; pointillist reads a 2-D image or a 3-D stack \(frames, rows, columns\)",
    ):
        read_stack(tmp_path / "c.tif")


def test_rgb_refused(tmp_path):
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(InputError, match="3 samples per pixel"):
        read_stack(tmp_path / "rgb.tif")


def test_several_series_refused(tmp_path):
    with tifffile.TiffWriter(tmp_path / "m.tif") as tw:
        tw.write(np.zeros((4, 4), np.uint16))
        tw.write(np.zeros((6, 6), np.uint16))
    with pytest.raises(InputError, match=r"2 image series of shapes \(4, 4\), \(6, 6\)"):
        read_stack(tmp_path / "m.tif")


def test_non_square_pixels_refused(tmp_path):
    tifffile.imwrite(tmp_path / "n.tif", _stack(np.uint16), imagej=True, resolution=(10, 5), metadata={"unit": "um", "axes": "TYX"})
    with pytest.raises(InputError, match=r"non-square pixels \(100 x 200 nm"):
        read_stack(tmp_path / "n.tif")


@pytest.mark.parametrize(("dtype", "message"), [(np.complex64, "complex data"), (bool, "boolean data")])
def test_complex_and_bool_refused(tmp_path, dtype, message):
    tifffile.imwrite(tmp_path / "c.tif", np.zeros((2, 4, 4), dtype), photometric="minisblack")
    with pytest.raises(InputError, match=message):
        read_stack(tmp_path / "c.tif")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_values_refused_chunk_by_chunk(tmp_path, monkeypatch, bad):
    image = _stack(np.float32, (7, 4, 5))
    image[2, 1, 1] = bad
    image[5, 3, 0] = bad
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, image, photometric="minisblack")
    # Chunks of 2 frames: the scan must combine per-chunk results correctly.
    monkeypatch.setattr(tiff_module, "_CHUNK_BYTES", 2 * image[0].nbytes)
    with pytest.raises(InputError, match=r"NaN or infinite values in 2 of 7 frames \(first: frame 2, 0-based\)"):
        read_stack(path)


def test_folder_refused(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        read_stack(tmp_path)


# ---------------------------------------------------------------- write errors


def test_write_refuses_existing_file(tmp_path):
    path = write_tiff(tmp_path / "a.tif", np.zeros((3, 3)))
    before = path.read_bytes()
    with pytest.raises(InputError, match=r"exists; pass overwrite=True \(--overwrite\) to replace it"):
        write_tiff(path, np.ones((3, 3)))
    assert path.read_bytes() == before
    write_tiff(path, np.ones((3, 3)), overwrite=True)
    np.testing.assert_array_equal(read_stack(path).data[0], np.ones((3, 3)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif"]


@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (np.zeros((2, 2, 3, 3)), {}, r"2-D image or 3-D stack .* got shape \(2, 2, 3, 3\)"),
        (np.zeros((0, 3)), {}, "non-empty"),
        (np.zeros((3, 3), complex), {}, "real numbers"),
        (np.zeros((3, 3)), {"dtype": np.float64}, "dtype must be float32, uint16 or uint8"),
        (np.zeros((3, 3)), {"dtype": "nonsense"}, "dtype must be float32, uint16 or uint8"),
        (np.full((3, 3), 0.5), {"dtype": np.uint16}, "non-integer values that uint16 cannot hold; round explicitly"),
        (np.full((3, 3), 70000.0), {"dtype": np.uint16}, r"outside the uint16 range \[0, 65535\]"),
        (np.full((3, 3), -1, np.int32), {"dtype": np.uint8}, r"outside the uint8 range"),
        (np.full((3, 3), np.nan), {}, "NaN or infinite"),
        (np.full((3, 3), 1e300), {}, "beyond the float32 range"),
        (np.zeros((3, 3)), {"pixel_size_nm": 0}, "pixel_size_nm must be a positive number"),
        (np.zeros((3, 3)), {"pixel_size_nm": np.nan}, "pixel_size_nm must be a positive number"),
        (np.zeros((3, 3)), {"pixel_size_nm": "100"}, "pixel_size_nm must be a positive number"),
    ],
)
def test_write_validation(tmp_path, image, kwargs, message):
    with pytest.raises(InputError, match=message):
        write_tiff(tmp_path / "a.tif", image, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_write_into_missing_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist; create it first"):
        write_tiff(tmp_path / "no" / "a.tif", np.zeros((3, 3)))


# ---------------------------------------------------------------- to_photons


def test_to_photons_values_and_dtype():
    adu = np.array([[[131.0, 151.7], [120.65, 131.0]]])
    photons = to_photons(adu, offset=131.0, gain=2.07)
    assert photons.dtype == np.float32
    np.testing.assert_allclose(photons, [[[0.0, 10.0], [-5.0, 0.0]]], atol=1e-5)


def test_to_photons_default_is_identity():
    data = np.arange(12, dtype=np.uint16).reshape(3, 4)
    np.testing.assert_array_equal(to_photons(data), data.astype(np.float32))


def test_to_photons_chunked_on_memmap(tmp_path, monkeypatch):
    image = _stack(np.uint16, (9, 4, 5))
    stack = read_stack(write_tiff(tmp_path / "a.tif", image, dtype=np.uint16))
    assert stack.is_memmap
    monkeypatch.setattr(tiff_module, "_CHUNK_BYTES", 2 * image[0].nbytes)
    out = to_photons(stack.data, offset=100.0, gain=2.0)
    np.testing.assert_allclose(out, (image.astype(np.float64) - 100.0) / 2.0, rtol=1e-6)
    assert not isinstance(out, np.memmap)


def test_to_photons_per_pixel_maps():
    data = np.full((2, 2, 3), 10.0)
    offset = np.arange(6.0).reshape(2, 3)
    gain = np.full((2, 3), 2.0)
    np.testing.assert_allclose(to_photons(data, offset=offset, gain=gain), np.broadcast_to((10.0 - offset) / 2.0, (2, 2, 3)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gain": 0.0}, "gain must be positive"),
        ({"gain": -2.0}, "gain must be positive"),
        ({"gain": np.inf}, "gain must be finite"),
        ({"offset": np.nan}, "offset must be finite"),
        ({"offset": np.zeros((3, 3))}, r"offset must be a number or an array of one frame's shape \(2, 2\)"),
    ],
)
def test_to_photons_validation(kwargs, message):
    with pytest.raises(InputError, match=message):
        to_photons(np.ones((2, 2)), **kwargs)


def test_to_photons_rejects_bool_and_bad_shape():
    with pytest.raises(InputError, match="real numbers"):
        to_photons(np.ones((2, 2), bool))
    with pytest.raises(InputError, match="2-D image or 3-D stack"):
        to_photons(np.ones(4))


# ---------------------------------------------------------------- tiff_info


def test_tiff_info(tmp_path):
    image = np.arange(60, dtype=np.uint16).reshape(3, 4, 5)
    path = write_tiff(tmp_path / "a.tif", image, dtype=np.uint16, pixel_size_nm=160.0)
    info = tiff_info(path)
    assert info == {
        "path": str(path),
        "shape": (3, 4, 5),
        "dtype": "uint16",
        "min": 0,
        "max": 59,
        "pixel_size_nm": 160.0,
        "axes": "TYX",
        "file_size_bytes": path.stat().st_size,
        "is_memmap": True,
        "nonfinite_frames": 0,
    }


def test_tiff_info_counts_nonfinite_frames(tmp_path, monkeypatch):
    image = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    image[0, 0, 0] = np.nan
    image[2, 1, 1] = np.inf
    tifffile.imwrite(tmp_path / "a.tif", image, photometric="minisblack")
    monkeypatch.setattr(tiff_module, "_CHUNK_BYTES", image[0].nbytes)
    info = tiff_info(tmp_path / "a.tif")
    assert info["nonfinite_frames"] == 2
    assert (info["min"], info["max"]) == (1.0, 59.0)


def test_tiff_info_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        tiff_info(tmp_path / "x.tif")


# ---------------------------------------------------------------- truncated or damaged files


def _cut(path: Path, size: int) -> Path:
    data = path.read_bytes()
    out = path.with_name("cut_" + path.name)
    out.write_bytes(data[:size])
    return out


def _frames(n=40):
    return np.random.default_rng(3).integers(0, 1000, (n, 16, 16)).astype(np.uint16)


def test_truncated_imagej_stack_is_refused_with_the_missing_frames(tmp_path, capfd):
    path = write_tiff(tmp_path / "stack.tif", _frames(), dtype=np.uint16, pixel_size_nm=100.0)
    cut = _cut(path, path.stat().st_size // 2)
    for read in (read_stack, tiff_info):
        with pytest.raises(InputError, match=r"cut_stack.tif is truncated or damaged: its ImageJ metadata says "
                                             r"40 frames but only \d+ can be read \(the file ends at \d+.\d kB, the data need 20.8 kB\)"):
            read(cut)
    assert capfd.readouterr().err == ""  # tifffile's log lines are held back when the file is refused


@pytest.mark.parametrize("metadata", [{}, None], ids=["shaped", "no-metadata"])
def test_truncated_plain_multipage_tiff_is_refused(tmp_path, metadata):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, _frames(), **({} if metadata == {} else {"metadata": None}))
    cut = _cut(path, path.stat().st_size // 2)
    # With tifffile's shape metadata the count is known; without it, the page chain points past the end.
    expected = "says 40 planes but only" if metadata == {} else "points to a next page at byte"
    with pytest.raises(InputError, match=f"truncated or damaged: .*{expected}"):
        read_stack(cut)


def test_strip_past_end_of_file_is_refused(tmp_path):
    # Pages written one by one (IFD, then data): the last page's strip is cut.
    path = tmp_path / "pages.tif"
    with tifffile.TiffWriter(path) as tw:
        for frame in _frames(4):
            tw.write(frame, contiguous=False, metadata=None)
    cut = _cut(path, path.stat().st_size - 100)
    with pytest.raises(InputError, match=r"truncated or damaged: the pixel data of page 4 of 4 run to"):
        read_stack(cut)


def test_planes_missing_from_ome_metadata_are_refused(tmp_path):
    path = tmp_path / "a.ome.tif"
    tifffile.imwrite(path, _frames(6), ome=True, metadata={"axes": "TYX"})
    with tifffile.TiffFile(path) as tif:
        ome = tif.ome_metadata.replace('SizeT="6"', 'SizeT="9"')
    short = tmp_path / "short.ome.tif"
    tifffile.imwrite(short, _frames(6), description=ome.encode(), metadata=None)
    with pytest.raises(InputError, match=r"its OME metadata \(SizeT x SizeZ x SizeC\) says 9 planes but only 6"):
        read_stack(short)


def test_file_cut_inside_the_header_is_not_a_readable_tiff(tmp_path):
    path = write_tiff(tmp_path / "stack.tif", _frames(), dtype=np.uint16)
    for size in (100, 20):
        with pytest.raises(InputError, match=rf"is not a readable TIFF image: .* \(the file starts like a TIFF but has only {size} bytes: truncated or damaged\)"):
            tiff_info(_cut(path, size))


def test_every_cut_of_a_small_stack_is_refused(tmp_path):
    path = write_tiff(tmp_path / "s.tif", _frames(3)[:, :4, :4], dtype=np.uint16, pixel_size_nm=100.0)
    full = path.stat().st_size
    # The last 16 bytes hold resolution values no page refers to (tifffile shares the first page's).
    for size in range(0, full - 16, 7):
        with pytest.raises(InputError):
            read_stack(_cut(path, size))


def test_intact_stack_still_memory_mapped(tmp_path, capfd):
    frames = _frames()
    stack = read_stack(write_tiff(tmp_path / "stack.tif", frames, dtype=np.uint16, pixel_size_nm=100.0))
    assert stack.is_memmap and stack.shape == (40, 16, 16)
    np.testing.assert_array_equal(stack.data, frames)
    tifffile.imwrite(tmp_path / "plain.tif", frames)
    assert read_stack(tmp_path / "plain.tif").is_memmap
    assert capfd.readouterr().err == ""


# ---------------------------------------------------------------- pixel size written


@pytest.mark.parametrize("size", [1e-9, 1e-4, 2e9, np.inf, np.nan, 0.0, -5.0, True])
def test_write_refuses_pixel_sizes_the_resolution_tags_cannot_hold(tmp_path, size):
    with pytest.raises(InputError, match=r"pixel_size_nm must be a positive number of nm in \[0.001, 1e\+09\]"):
        write_tiff(tmp_path / "a.tif", np.zeros((4, 4)), pixel_size_nm=size)
    assert not (tmp_path / "a.tif").exists()


@pytest.mark.parametrize("size", [1e-3, 0.0123456, 65.0, 107.5, 123.456789, 1e9])
def test_write_records_extreme_pixel_sizes(tmp_path, size):
    stack = read_stack(write_tiff(tmp_path / "a.tif", np.zeros((4, 4)), pixel_size_nm=size))
    assert stack.pixel_size_nm == pytest.approx(size, rel=1e-9)
