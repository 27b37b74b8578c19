"""MA-TIRF excitation: penetration depths and transmissions against the formulas, the depth-bin matrix
against numerical integration, and the checks on the angles."""

import math

import numpy as np
import pytest
from scipy.integrate import quad

from pointillist.errors import InputError
from pointillist.tirf import DEFAULT_ANGLES_DEG, TIRFExcitation, depth_bin_matrix, depth_edges


def test_penetration_depths_and_transmission_follow_the_formulas():
    exc = TIRFExcitation(DEFAULT_ANGLES_DEG)
    # the reference example (SPEC 1.8): critical angle 61.97 deg, d from about 271 nm down to about 81 nm
    assert exc.critical_angle_deg == pytest.approx(61.97, abs=0.01)
    d = exc.penetration_depths_nm
    assert d[0] == pytest.approx(271, abs=1) and d[-1] == pytest.approx(81, abs=1)
    assert np.all(np.diff(d) < 0)  # steeper angles probe shallower
    # the formula written out for one angle
    theta = math.radians(65.0)
    one = TIRFExcitation((65.0,), wavelength_nm=488, n_glass=1.52, n_sample=1.33)
    expected = 488 / (4 * math.pi) / math.sqrt(1.52**2 * math.sin(theta) ** 2 - 1.33**2)
    assert one.penetration_depths_nm[0] == pytest.approx(expected, rel=1e-12)
    n2 = (1.33 / 1.52) ** 2
    c2, s2 = math.cos(theta) ** 2, math.sin(theta) ** 2
    i_p = 4 * c2 * (2 * s2 - n2) / (n2 * n2 * c2 + s2 - n2)
    i_s = 4 * c2 / (1 - n2)
    assert one.transmission[0] == pytest.approx(0.25 * i_p + 0.75 * i_s, rel=1e-12)
    # at the critical angle the s transmission is 4 (Axelrod): just above it, close to that
    near = TIRFExcitation((one.critical_angle_deg + 1e-6,), wavelength_nm=488, n_glass=1.52, n_sample=1.33)
    assert near.transmission[0] == pytest.approx(0.25 * 4 / n2 + 0.75 * 4, rel=1e-3)


def test_depth_bin_matrix_is_the_integral_of_the_excitation():
    exc = TIRFExcitation((62.6, 65.0, 69.8))
    edges = depth_edges(300, 20)
    a = depth_bin_matrix(exc, edges)
    assert a.shape == (3, 15)
    for k in range(3):
        for j in (0, 7, 14):
            ref, _ = quad(lambda z: exc.excitation(z)[k], edges[j], edges[j + 1], epsabs=0, epsrel=1e-12)
            assert a[k, j] == pytest.approx(ref, rel=1e-10)
    # the bins add up to the whole layer
    whole = depth_bin_matrix(exc, [0.0, 300.0])
    np.testing.assert_allclose(a.sum(axis=1), whole[:, 0], rtol=1e-12)


@pytest.mark.parametrize("angles, message", [
    ((61.0,), "not above the critical angle 61.97"),
    ((63.0, 63.0), "given twice"),
    ((), "empty"),
    ((95.0,), "below 90"),
    ((float("nan"),), "below 90"),
    ("abc", "sequence of numbers"),
])
def test_bad_angles_are_refused_with_the_reason(angles, message):
    with pytest.raises(InputError, match=message):
        TIRFExcitation(angles)


def test_bad_optics_and_depths_are_refused():
    with pytest.raises(InputError, match="n_glass > n_sample"):
        TIRFExcitation((70.0,), n_glass=1.33, n_sample=1.518)
    with pytest.raises(InputError, match="wavelength_nm must be a positive"):
        TIRFExcitation((70.0,), wavelength_nm=-1)
    with pytest.raises(InputError, match="whole number of depth steps"):
        depth_edges(300, 70)
    with pytest.raises(InputError, match="increasing"):
        depth_bin_matrix(TIRFExcitation((70.0,)), [0.0, 20.0, 10.0])
