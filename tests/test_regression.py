"""Every method's outputs on fixed simulated stacks equal the recorded ones (``tests/regression_cases.py``).

Slow (about 90 s on 2 cores): run with ``pytest -m slow tests/test_regression.py``. Simulations and uint8
supports must be identical; float images may differ by float32 rounding (1e-5 of the image's maximum), since
computations moved between NumPy and torch.
"""

import numpy as np
import pytest

from regression_cases import REFERENCE, compare, run_cases


@pytest.mark.slow
def test_outputs_unchanged(tmp_path, capsys):
    ref = dict(np.load(REFERENCE))
    got = run_cases(tmp_path)
    problems = compare(got, ref, rtol=1e-5, atol_rel=1e-5)
    assert not problems, "\n".join(problems)


def test_compare_finds_a_changed_value():
    ref = {"a/x.tif": np.ones((3, 3), np.float32), "a/s.tif": np.zeros((2, 2), np.uint8)}
    changed = {"a/x.tif": np.ones((3, 3), np.float32) * 1.001, "a/s.tif": np.eye(2, dtype=np.uint8)}
    assert len(compare(changed, ref, rtol=1e-5, atol_rel=1e-5)) == 2
    assert compare({k: v.copy() for k, v in ref.items()}, ref) == []
    assert compare({}, ref) == ["a/s.tif: no longer written", "a/x.tif: no longer written"]
