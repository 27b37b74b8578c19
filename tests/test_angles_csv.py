"""angles.csv: reading, matching stacks by name, and the errors a user meets."""

import pytest

from pointillist.errors import InputError
from pointillist.io.angles import match_angles, read_angles
from pointillist.io.simulation import write_angles
from pointillist.tirf import TIRFExcitation


def test_the_simulators_file_reads_back(tmp_path):
    exc = TIRFExcitation((62.6, 66.2, 69.8))
    write_angles(tmp_path / "angles.csv", ["angle_01.tif", "angle_02.tif", "angle_03.tif"], exc)
    angles = read_angles(tmp_path / "angles.csv")
    assert angles == {"angle_01.tif": 62.6, "angle_02.tif": 66.2, "angle_03.tif": 69.8}
    stacks = [tmp_path / "angle_03.tif", tmp_path / "angle_01.tif", tmp_path / "angle_02.tif"]
    assert match_angles(angles, stacks) == [69.8, 62.6, 66.2]


@pytest.mark.parametrize("text, message", [
    ("file,angle\na.tif,63\n", "lacks the column"),
    ("file,angle [deg]\na.tif,sixty\n", "line 2: the angle 'sixty' is not a number"),
    ("file,angle [deg]\na.tif,63\na.tif,64\n", "gives the file a.tif twice"),
    ("file,angle [deg]\n", "holds no rows"),
    ("file,angle [deg]\n,63\n", "file name is empty"),
    ("file,angle [deg]\na.tif,nan\n", "not a finite number"),
])
def test_bad_files_are_refused_with_the_line(tmp_path, text, message):
    path = tmp_path / "angles.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_angles(path)


def test_stacks_and_rows_must_match(tmp_path):
    with pytest.raises(InputError, match="no such angles file"):
        read_angles(tmp_path / "none.csv")
    angles = {"a.tif": 63.0, "b.tif": 65.0}
    with pytest.raises(InputError, match="no angle for the stack c.tif"):
        match_angles(angles, ["a.tif", "b.tif", "c.tif"])
    with pytest.raises(InputError, match="lists b.tif, which is not among"):
        match_angles(angles, ["a.tif"])
    with pytest.raises(InputError, match="share the file name a.tif"):
        match_angles(angles, ["x/a.tif", "y/a.tif"])
