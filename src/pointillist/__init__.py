"""pointillist: sparse super-resolution fluorescence microscopy.

Importing the package is cheap: torch and matplotlib load only when a
method that needs them is first used.

Examples
--------
>>> import pointillist
>>> pointillist.Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4).fine_pixel_nm
25.0
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from .errors import InputError
from .optics import Optics

# Public functions that live in heavier modules, loaded on first use.
_LAZY = {
    "colorme": ("pointillist.methods.colorme.api", "colorme"),
    "colorme_3d": ("pointillist.methods.colorme3d.api", "colorme_3d"),
    "localize": ("pointillist.methods.smlm.api", "localize"),
    "pnp_colorme": ("pointillist.methods.pnp.api", "pnp_colorme"),
    "sofi": ("pointillist.methods.baselines.sofi", "sofi"),
    "srrf": ("pointillist.methods.baselines.srrf", "srrf"),
    "sparcom": ("pointillist.methods.baselines.sparcom", "sparcom"),
    "lsparcom": ("pointillist.methods.baselines.lsparcom", "lsparcom"),
}

__all__ = ["__version__", "InputError", "Optics", *sorted(_LAZY)]


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pointillist' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
