"""Multi-angle TIRF excitation: penetration depths, transmission factors and the depth-bin matrix.

Under total internal reflection at incidence angle ``theta`` (above the
critical angle) a fluorophore at depth ``z`` nm above the coverslip is
excited with ``I0(theta) exp(-z / d(theta))``:

* ``d = lambda / (4 pi) (n_glass^2 sin^2 theta - n_sample^2)^(-1/2)``, the
  penetration depth (``lambda`` the excitation wavelength in vacuum);
* ``I0 = 0.25 I_p + 0.75 I_s``, Axelrod's transmission factors of the p and
  s polarisations with ``n = n_sample / n_glass``:
  ``I_p = 4 cos^2 theta (2 sin^2 theta - n^2) / (n^4 cos^2 theta + sin^2 theta - n^2)``,
  ``I_s = 4 cos^2 theta / (1 - n^2)``.

A depth profile on bins ``[z_j^-, z_j^+]`` is seen by angle k through
``A[k, j] = I0_k d_k (exp(-z_j^- / d_k) - exp(-z_j^+ / d_k))``, the exact
integral of the excitation over the bin (SPEC section 1.8, after the MA-TIRF
reconstruction code of Soubies et al. 2019). Lengths are in nm, angles in
degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import InputError

__all__ = ["TIRFExcitation", "depth_edges", "depth_bin_matrix", "DEFAULT_ANGLES_DEG"]

#: the 13 angles of the reference MA-TIRF example (degrees), 62.6 to 69.8 in steps of 0.6
DEFAULT_ANGLES_DEG = tuple(round(62.6 + 0.6 * k, 1) for k in range(13))


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value <= 0:
        raise InputError(f"{name} must be a positive number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class TIRFExcitation:
    """The excitation of a multi-angle TIRF acquisition.

    Parameters
    ----------
    angles_deg : sequence of float
        Incidence angles in degrees, each above the critical angle
        ``asin(n_sample / n_glass)`` and below 90, no two equal.
    wavelength_nm : float
        Excitation wavelength in vacuum (nm).
    n_glass, n_sample : float
        Refractive indices of the coverslip and of the sample (``n_glass > n_sample``).

    Examples
    --------
    >>> exc = TIRFExcitation(DEFAULT_ANGLES_DEG)
    >>> round(exc.critical_angle_deg, 2), [round(d) for d in exc.penetration_depths_nm[[0, -1]]]
    (61.97, [272, 81])
    >>> TIRFExcitation((60.0,))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: the incidence angle 60 deg is not above the critical angle 61.97 deg ...
    """

    angles_deg: tuple
    wavelength_nm: float = 491.0
    n_glass: float = 1.518
    n_sample: float = 1.34

    def __post_init__(self):
        wavelength = _positive("wavelength_nm", self.wavelength_nm)
        n_glass, n_sample = _positive("n_glass", self.n_glass), _positive("n_sample", self.n_sample)
        if not n_glass > n_sample:
            raise InputError(f"total internal reflection needs n_glass > n_sample, got {n_glass} and {n_sample}")
        try:
            angles = tuple(float(a) for a in self.angles_deg)
        except (TypeError, ValueError):
            raise InputError(f"angles_deg must be a sequence of numbers (degrees), got {self.angles_deg!r}") from None
        if not angles:
            raise InputError("angles_deg is empty: give at least one incidence angle")
        critical = math.degrees(math.asin(n_sample / n_glass))
        for a in angles:
            if not (math.isfinite(a) and a < 90):
                raise InputError(f"the incidence angle {a!r} deg must be a finite number below 90")
            if not a > critical:
                raise InputError(f"the incidence angle {a:g} deg is not above the critical angle {critical:.2f} deg "
                                 f"(n_glass {n_glass:g}, n_sample {n_sample:g}): there is no total internal "
                                 "reflection")
        seen = sorted(angles)
        twins = [a for a, b in zip(seen, seen[1:]) if a == b]
        if twins:
            raise InputError(f"the incidence angle {twins[0]:g} deg is given twice")
        object.__setattr__(self, "angles_deg", angles)
        object.__setattr__(self, "wavelength_nm", wavelength)
        object.__setattr__(self, "n_glass", n_glass)
        object.__setattr__(self, "n_sample", n_sample)

    @property
    def n_angles(self) -> int:
        return len(self.angles_deg)

    @property
    def critical_angle_deg(self) -> float:
        """``asin(n_sample / n_glass)`` in degrees."""
        return math.degrees(math.asin(self.n_sample / self.n_glass))

    @property
    def penetration_depths_nm(self) -> np.ndarray:
        """``d_k`` (nm), one per angle."""
        s = np.sin(np.radians(self.angles_deg))
        return self.wavelength_nm / (4 * np.pi) / np.sqrt(self.n_glass**2 * s**2 - self.n_sample**2)

    @property
    def transmission(self) -> np.ndarray:
        """``I0_k``: Axelrod's transmission factor, 0.25 p + 0.75 s polarisation, one per angle."""
        theta = np.radians(self.angles_deg)
        c2, s2 = np.cos(theta) ** 2, np.sin(theta) ** 2
        n2 = (self.n_sample / self.n_glass) ** 2
        i_p = 4 * c2 * (2 * s2 - n2) / (n2 * n2 * c2 + s2 - n2)
        i_s = 4 * c2 / (1 - n2)
        return 0.25 * i_p + 0.75 * i_s

    def excitation(self, depth_nm) -> np.ndarray:
        """``I0_k exp(-z / d_k)``: shape ``(n_angles, *depth.shape)``.

        Examples
        --------
        >>> exc = TIRFExcitation((63.0, 66.0))
        >>> bool(np.allclose(exc.excitation(0.0), exc.transmission))
        True
        """
        z = np.asarray(depth_nm, dtype=np.float64)
        shape = (-1,) + (1,) * z.ndim
        return self.transmission.reshape(shape) * np.exp(-z[None] / self.penetration_depths_nm.reshape(shape))

    def as_dict(self) -> dict:
        """JSON-friendly description, with the derived depths and transmissions."""
        return {"angles_deg": list(self.angles_deg), "wavelength_nm": self.wavelength_nm, "n_glass": self.n_glass,
                "n_sample": self.n_sample, "penetration_depths_nm": self.penetration_depths_nm.tolist(),
                "transmission": self.transmission.tolist()}


def depth_edges(depth_max_nm: float = 300.0, depth_step_nm: float = 20.0) -> np.ndarray:
    """Edges of the depth bins ``0, step, ..., depth_max`` (nm).

    Examples
    --------
    >>> depth_edges(100, 25).tolist()
    [0.0, 25.0, 50.0, 75.0, 100.0]
    >>> depth_edges(100, 30)
    Traceback (most recent call last):
    ...
    pointillist.errors.InputError: depth_max_nm (100) must be a whole number of depth steps (30)
    """
    top, step = _positive("depth_max_nm", depth_max_nm), _positive("depth_step_nm", depth_step_nm)
    n = round(top / step)
    if n < 1 or not math.isclose(n * step, top, rel_tol=1e-9):
        raise InputError(f"depth_max_nm ({top:g}) must be a whole number of depth steps ({step:g})")
    return np.linspace(0.0, top, n + 1)


def depth_bin_matrix(excitation: TIRFExcitation, edges_nm) -> np.ndarray:
    """``A[k, j] = I0_k d_k (exp(-z_j^- / d_k) - exp(-z_j^+ / d_k))``: the excitation of angle k integrated
    over depth bin j.

    Parameters
    ----------
    excitation : TIRFExcitation
    edges_nm : array_like (J + 1,)
        Increasing bin edges in nm, from 0 or above.

    Returns
    -------
    ndarray (K, J)

    Examples
    --------
    >>> exc = TIRFExcitation((63.0,))
    >>> a = depth_bin_matrix(exc, [0.0, 1e6])  # one bin holding all the light: I0 d
    >>> bool(np.isclose(a[0, 0], exc.transmission[0] * exc.penetration_depths_nm[0]))
    True
    """
    edges = np.asarray(edges_nm, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)) or edges[0] < 0 \
            or not np.all(np.diff(edges) > 0):
        raise InputError(f"depth edges must be an increasing sequence of at least 2 depths >= 0 nm, got {edges_nm!r}")
    d = excitation.penetration_depths_nm[:, None]
    return excitation.transmission[:, None] * d * (np.exp(-edges[None, :-1] / d) - np.exp(-edges[None, 1:] / d))
