"""pointillist: sparse super-resolution fluorescence microscopy.

Importing the package is cheap: torch and matplotlib load only when a
method that needs them is first used.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import InputError
from .optics import Optics

__all__ = ["__version__", "InputError", "Optics"]
