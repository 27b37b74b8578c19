"""Localization CSV files, JSON and atomic writing (pointillist.io)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from pointillist.errors import InputError
from pointillist.io import Localizations, atomic_output, read_localizations, write_json, write_localizations
from pointillist.io.atomic import atomic_path, write_text

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

HEADER = '"id","frame","x [nm]","y [nm]","intensity [photon]"'


def _locs(n=50, *, background=False, uncertainty=False, seed=1):
    rng = np.random.default_rng(seed)
    return Localizations(
        frame=rng.integers(0, 30, n),
        x_nm=rng.uniform(-50.0, 12_800.0, n),
        y_nm=rng.uniform(0.0, 12_800.0, n),
        photons=rng.uniform(100.0, 5000.0, n),
        background=rng.uniform(0.0, 80.0, n) if background else None,
        uncertainty_nm=rng.uniform(3.0, 40.0, n) if uncertainty else None,
    )


def _assert_same(a: Localizations, b: Localizations):
    assert len(a) == len(b)
    for name in ("frame", "x_nm", "y_nm", "photons", "background", "uncertainty_nm"):
        va, vb = getattr(a, name), getattr(b, name)
        if va is None or vb is None:
            assert va is None and vb is None, name
        else:
            np.testing.assert_array_equal(va, vb, err_msg=name)


# ---------------------------------------------------------------- writing


@pytest.mark.parametrize("background", [False, True])
@pytest.mark.parametrize("uncertainty", [False, True])
def test_round_trip_is_exact(tmp_path, background, uncertainty):
    locs = _locs(background=background, uncertainty=uncertainty)
    path = write_localizations(tmp_path / "l.csv", locs)
    _assert_same(read_localizations(path), locs)


@pytest.mark.parametrize(
    ("background", "uncertainty", "extra"),
    [
        (False, False, ""),
        (True, False, ',"offset [photon]"'),
        (False, True, ',"uncertainty_xy [nm]"'),
        (True, True, ',"offset [photon]","uncertainty_xy [nm]"'),
    ],
)
def test_header(tmp_path, background, uncertainty, extra):
    path = write_localizations(tmp_path / "l.csv", _locs(3, background=background, uncertainty=uncertainty))
    assert path.read_text().splitlines()[0] == HEADER + extra


def test_written_rows_are_one_based_and_unquoted(tmp_path):
    locs = Localizations(frame=[0, 4], x_nm=[1.5, 100.0], y_nm=[2.25, 0.1], photons=[10.0, 20.0], background=[3.0, 4.0])
    path = write_localizations(tmp_path / "l.csv", locs)
    assert path.read_bytes() == (HEADER + ',"offset [photon]"\n1,1,1.5,2.25,10.0,3.0\n2,5,100.0,0.1,20.0,4.0\n').encode()


def test_same_table_gives_identical_bytes(tmp_path):
    a = write_localizations(tmp_path / "a.csv", _locs(uncertainty=True))
    b = write_localizations(tmp_path / "b.csv", _locs(uncertainty=True))
    assert a.read_bytes() == b.read_bytes()


def test_empty_table_round_trip(tmp_path):
    path = write_localizations(tmp_path / "e.csv", Localizations.empty())
    assert path.read_text() == HEADER + "\n"
    assert len(read_localizations(path)) == 0


def test_write_refuses_existing_file(tmp_path):
    path = write_localizations(tmp_path / "l.csv", _locs(3))
    with pytest.raises(InputError, match=r"l.csv exists; pass overwrite=True \(--overwrite\) to replace it"):
        write_localizations(path, _locs(4))
    assert len(read_localizations(path)) == 3
    write_localizations(path, _locs(4), overwrite=True)
    assert len(read_localizations(path)) == 4


def test_write_needs_a_table(tmp_path):
    with pytest.raises(InputError, match="locs must be a Localizations table"):
        write_localizations(tmp_path / "l.csv", {"x": [1.0]})


# ---------------------------------------------------------------- reading the three formats


def test_read_thunderstorm_with_extra_columns(tmp_path):
    path = tmp_path / "ts.csv"
    path.write_text(
        '"id","frame","x [nm]","y [nm]","sigma [nm]","intensity [photon]","offset [photon]","bkgstd [photon]","uncertainty [nm]"\n'
        "1,1,67.843,2484.15594,111.28713,2458.46515,50,4.47214,12.5\n"
        "2,3.0,28.94544,3531.11794,107.34945,2253.50657,51,4.47214,9\n"
    )
    locs = read_localizations(path)
    np.testing.assert_array_equal(locs.frame, [0, 2])
    np.testing.assert_array_equal(locs.x_nm, [67.843, 28.94544])
    np.testing.assert_array_equal(locs.y_nm, [2484.15594, 3531.11794])
    np.testing.assert_array_equal(locs.photons, [2458.46515, 2253.50657])
    np.testing.assert_array_equal(locs.background, [50.0, 51.0])
    np.testing.assert_array_equal(locs.uncertainty_nm, [12.5, 9.0])


def test_read_thunderstorm_unquoted_minimal(tmp_path):
    path = tmp_path / "ts.csv"
    path.write_text("id,frame,x [nm],y [nm]\n1,2,10,20\n")
    locs = read_localizations(path)
    np.testing.assert_array_equal(locs.frame, [1])
    np.testing.assert_array_equal(locs.photons, [1.0])
    assert locs.background is None and locs.uncertainty_nm is None


def test_read_smlm_challenge_ground_truth(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_text("frame,x [nm],y [nm],z [nm]\n1,100.5,200.25,-50\n1,300,400,0\n7,5,6,10\n")
    locs = read_localizations(path)
    np.testing.assert_array_equal(locs.frame, [0, 0, 6])
    np.testing.assert_array_equal(locs.x_nm, [100.5, 300.0, 5.0])
    np.testing.assert_array_equal(locs.y_nm, [200.25, 400.0, 6.0])
    np.testing.assert_array_equal(locs.photons, [1.0, 1.0, 1.0])


def test_read_smlm_challenge_activations(tmp_path):
    path = tmp_path / "activations.csv"
    path.write_text("Ground-truth,frame,xnano,ynano,znano,intensity\n1,1,4950.5,2000.0,-100.0,3500.2\n2,4,12.5,13.5,20.0,1200\n")
    locs = read_localizations(path)
    np.testing.assert_array_equal(locs.frame, [0, 3])
    np.testing.assert_array_equal(locs.x_nm, [4950.5, 12.5])
    np.testing.assert_array_equal(locs.y_nm, [2000.0, 13.5])
    np.testing.assert_array_equal(locs.photons, [3500.2, 1200.0])


def test_header_only_gives_empty_table(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text(HEADER + ',"offset [photon]"\n')
    locs = read_localizations(path)
    assert len(locs) == 0
    assert locs.background is not None and locs.background.size == 0


def test_byte_order_mark_and_blank_lines(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffframe,x [nm],y [nm]\n1,2,3\n\n2,4,5\n\n".encode())
    locs = read_localizations(path)
    np.testing.assert_array_equal(locs.frame, [0, 1])


@pytest.mark.skipif(not (SHARED_DATA / "thunderstorm_demo").is_dir(), reason="shared data not available")
def test_shared_thunderstorm_demo_csv():
    locs = read_localizations(SHARED_DATA / "thunderstorm_demo" / "positions_demo1.csv")
    assert len(locs) == 4956
    assert (locs.frame.min(), locs.frame.max()) == (0, 19)
    assert locs.x_nm[0] == 67.843
    np.testing.assert_array_equal(locs.background, 50.0)
    assert locs.uncertainty_nm is None


# ---------------------------------------------------------------- reading errors


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file: .*none.csv"):
        read_localizations(tmp_path / "none.csv")


def test_empty_file(tmp_path):
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(InputError, match="e.csv is empty; expected a header line"):
        read_localizations(tmp_path / "e.csv")


def test_unknown_header_lists_recognised_ones(tmp_path):
    (tmp_path / "u.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(InputError, match=r"unrecognised header \['a', 'b', 'c'\]; recognised headers: .*ThunderSTORM.*xnano"):
        read_localizations(tmp_path / "u.csv")


def test_pixel_units_get_a_hint(tmp_path):
    (tmp_path / "px.csv").write_text("id,frame,x [px],y [px]\n1,1,2,3\n")
    with pytest.raises(InputError, match="Positions are in pixels: export them in nm"):
        read_localizations(tmp_path / "px.csv")


def test_non_numeric_value_names_the_line(tmp_path):
    (tmp_path / "n.csv").write_text("frame,x [nm],y [nm]\n1,2,3\n\n2,abc,4\n")
    with pytest.raises(InputError, match=r"n.csv, line 4, column 2: 'abc' is not a number"):
        read_localizations(tmp_path / "n.csv")


def test_short_row_names_the_line(tmp_path):
    (tmp_path / "s.csv").write_text("frame,x [nm],y [nm]\n1,2,3\n2,4\n")
    with pytest.raises(InputError, match="line 3: 2 values, the header has 3 columns"):
        read_localizations(tmp_path / "s.csv")


@pytest.mark.parametrize("frame", ["0", "-3", "1.5"])
def test_bad_frame(tmp_path, frame):
    (tmp_path / "f.csv").write_text(f"frame,x [nm],y [nm]\n1,2,3\n\n{frame},4,5\n")
    with pytest.raises(InputError, match=rf"line 4: frame {frame} is not an integer >= 1 \(frames are 1-based"):
        read_localizations(tmp_path / "f.csv")


def test_nan_position(tmp_path):
    (tmp_path / "nan.csv").write_text("frame,x [nm],y [nm]\n1,nan,3\n")
    with pytest.raises(InputError, match="line 2: x_nm is NaN or infinite"):
        read_localizations(tmp_path / "nan.csv")


def test_duplicate_column(tmp_path):
    (tmp_path / "d.csv").write_text("frame,x [nm],y [nm],x [nm]\n1,2,3,4\n")
    with pytest.raises(InputError, match="column 'x \\[nm\\]' twice"):
        read_localizations(tmp_path / "d.csv")


# ---------------------------------------------------------------- atomic writing and JSON


def test_atomic_output_leaves_nothing_after_failure(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_output(target) as f:
            f.write(b"partial")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_keeps_old_file_after_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(target, overwrite=True, mode="w") as f:
            f.write("new")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_output_refuses_to_overwrite(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(InputError, match=r"out.txt exists; pass overwrite=True \(--overwrite\) to replace it"):
        with atomic_output(target, mode="w") as f:
            f.write("new")
    assert target.read_text() == "old"
    with atomic_output(target, mode="w", overwrite=True) as f:
        f.write("new")
    assert target.read_text() == "new"


def test_atomic_output_temp_file_is_beside_target_and_hidden(tmp_path):
    target = tmp_path / "fig.png"
    with atomic_output(target) as f:
        tmp = Path(f.name)
        assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.suffix == ".png"
        assert not target.exists()
        f.write(b"x")
    assert not tmp.exists() and target.read_bytes() == b"x"


def test_atomic_path_needs_the_file_to_be_written(tmp_path):
    with pytest.raises(InputError, match="nothing was written"):
        with atomic_path(tmp_path / "a.npy"):
            pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("target", "kwargs", "message"),
    [
        ("missing/out.txt", {}, "does not exist; create it first"),
        (".", {}, "is a folder"),
        ("out.txt", {"mode": "a"}, "mode must be 'wb' or 'w'"),
    ],
)
def test_atomic_output_validation(tmp_path, target, kwargs, message):
    with pytest.raises(InputError, match=message):
        with atomic_output(tmp_path / target, **kwargs):
            pass


def test_write_text_uses_unix_newlines(tmp_path):
    path = write_text(tmp_path / "t.txt", "a\nb\n")
    assert path.read_bytes() == b"a\nb\n"
    with pytest.raises(InputError, match="text must be a str"):
        write_text(tmp_path / "u.txt", b"bytes")


@dataclasses.dataclass(frozen=True)
class _Options:
    lam: float
    iterations: int


def test_write_json_is_deterministic_and_converts_numpy(tmp_path):
    obj = {
        "seed": np.int64(7),
        "lam": np.float32(0.25),
        "ok": np.bool_(True),
        "shape": (64, 64),
        "weights": np.array([1.5, 2.0]),
        "input": tmp_path / "stack.tif",
        "options": _Options(lam=0.1, iterations=np.int32(3)),
        "unit": "µm",
    }
    a = write_json(tmp_path / "a.json", obj)
    b = write_json(tmp_path / "b.json", dict(reversed(list(obj.items()))))
    assert a.read_bytes() == b.read_bytes()
    text = a.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.startswith('{\n  "input"')
    assert json.loads(text) == {
        "seed": 7,
        "lam": 0.25,
        "ok": True,
        "shape": [64, 64],
        "weights": [1.5, 2.0],
        "input": str(tmp_path / "stack.tif"),
        "options": {"lam": 0.1, "iterations": 3},
        "unit": "µm",
    }


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"metrics": {"rmse": float("nan")}}, r"value.metrics.rmse is nan, which JSON cannot store; use None"),
        ({"a": [1.0, np.inf]}, r"value.a\[1\] is inf"),
        ({1: "x"}, "JSON keys must be str"),
        ({"s": {1, 2}}, "type set, which cannot be written to JSON"),
    ],
)
def test_write_json_refuses_what_json_cannot_hold(tmp_path, obj, message):
    with pytest.raises(InputError, match=message):
        write_json(tmp_path / "bad.json", obj)
    assert list(tmp_path.iterdir()) == []


def test_write_json_refuses_to_overwrite(tmp_path):
    path = write_json(tmp_path / "r.json", {"a": 1})
    with pytest.raises(InputError, match="exists; pass overwrite=True"):
        write_json(path, {"a": 2})
    write_json(path, {"a": 2}, overwrite=True)
    assert json.loads(path.read_text()) == {"a": 2}


@pytest.mark.parametrize(
    ("content", "at"),
    [
        (b"II*\x00\x08\x00\x00\x00", 3),  # a TIFF header
        (b"frame,x [nm],y [nm]\n1,2\x00,3\n", 23),  # a NUL byte
        (b"frame,x [nm],y [nm]\n1,2,3\n\xe9t\xe9\n", 26),  # Latin-1, not UTF-8
        (b"frame,x [nm],y [nm]\n" + b"1,2,3\n" * 20000 + b"1,\xff,3\n", 120022),  # past the first block read
    ],
    ids=["tiff", "nul", "latin1", "late"],
)
def test_binary_file_is_not_a_text_csv(tmp_path, content, at):
    path = tmp_path / "pred.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=rf"pred.csv is not a text CSV file \(binary content at byte {at}\)"):
        read_localizations(path)


def test_utf8_text_with_bom_and_accents_is_still_text(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_bytes("\ufeffframe,x [nm],y [nm],note é\n1,2,3,4\n".encode())
    assert read_localizations(path).x_nm.tolist() == [2.0]
