"""What every method returns: one result type with the same core fields, specialised per method family.

The core fields are what a caller, the CLI's run record and a figure need
whatever the method: the method's name, the optics and camera calibration
the data were read with, the resolved parameters, the run time, the number
of frames, the mean frame (camera grid, calibrated: the preview's left
panel, from the method's own pass over the frames) and per-iteration
records. ``image`` is the method's main fine-grid image (``intensity.tif``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .acquisition import Calibration
from .optics import Optics

__all__ = ["Result"]


@dataclass(kw_only=True)
class Result:
    """Core fields shared by every method's result.

    Attributes
    ----------
    method : str
        The method's name as the CLI spells it (``colorme``, ``sofi``, ``cel0``, ...).
    optics : Optics
    calibration : Calibration
        The camera calibration the frames were converted with.
    seconds : float
        Wall time of the method.
    n_frames : int
    parameters : dict
        Every setting used, defaults resolved (JSON-friendly).
    history : dict
        Per-iteration records of iterative methods.
    mean : ndarray (H, W) or None
        Calibrated mean frame, from the method's own pass over the frames.

    Examples
    --------
    >>> r = Result(method="demo", optics=Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4),
    ...            calibration=Calibration(), seconds=1.5, n_frames=10)
    >>> r.summary()["method"], r.summary()["n_frames"]
    ('demo', 10)
    """

    method: str
    optics: Optics
    calibration: Calibration = field(default_factory=Calibration)
    seconds: float = 0.0
    n_frames: int = 0
    parameters: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict, repr=False)
    mean: np.ndarray | None = field(default=None, repr=False)

    def summary(self) -> dict:
        """JSON-friendly scalars for ``run.json`` (methods add their own)."""
        return {"method": self.method, "n_frames": self.n_frames, "seconds": self.seconds,
                "parameters": self.parameters}
