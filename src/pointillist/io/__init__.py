"""Reading and writing: TIFF stacks, localization CSVs, rendered images, JSON, simulation folders.

Every writer here is atomic (a temporary file renamed onto the target on
success) and refuses to replace an existing file unless ``overwrite=True``.
"""

# Localizations lives in the core module pointillist.localizations; it is
# re-exported here because pointillist.io.Localizations is public.
from ..localizations import Localizations
from .atomic import atomic_output, atomic_path, write_json, write_text
from .drift_files import read_fiducials, write_drift_csv
from .hashing import file_sha256
from .localization_csv import localization_fields, read_localizations, write_localizations, write_smlm_challenge_csv
from .picasso import write_picasso_hdf5
from .render import render_localizations
from .simulation import write_simulation
from .tiff import Stack, check_finite_frames, read_stack, tiff_info, to_photons, write_tiff

__all__ = [
    "read_fiducials",
    "write_drift_csv",
    "Localizations",
    "Stack",
    "check_finite_frames",
    "atomic_output",
    "atomic_path",
    "file_sha256",
    "localization_fields",
    "read_localizations",
    "read_stack",
    "render_localizations",
    "tiff_info",
    "to_photons",
    "write_json",
    "write_localizations",
    "write_picasso_hdf5",
    "write_simulation",
    "write_smlm_challenge_csv",
    "write_text",
    "write_tiff",
]
