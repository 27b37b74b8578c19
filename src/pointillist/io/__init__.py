"""Reading and writing: TIFF stacks, localization CSVs, rendered images, JSON.

Every writer here is atomic (a temporary file renamed onto the target on
success) and refuses to replace an existing file unless ``overwrite=True``.
"""

from .atomic import atomic_output, atomic_path, write_json, write_text
from .hashing import file_sha256
from .localization_csv import read_localizations, write_localizations
from .localizations import Localizations
from .render import render_localizations
from .tiff import Stack, read_stack, tiff_info, to_photons, write_tiff

__all__ = [
    "Localizations",
    "Stack",
    "atomic_output",
    "atomic_path",
    "file_sha256",
    "read_localizations",
    "read_stack",
    "render_localizations",
    "tiff_info",
    "to_photons",
    "write_json",
    "write_localizations",
    "write_text",
    "write_tiff",
]
