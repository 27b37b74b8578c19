"""Writing a simulation's folder: the files of ``pointillist simulate smlm|fluct``.

The simulator (:mod:`pointillist.simulate`) only returns data; this module
writes it, and :func:`pointillist.figures.save_simulation_preview` draws its
preview. Every file is written atomically (see :mod:`pointillist.io.atomic`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from .atomic import write_json
from .localization_csv import write_localizations
from .tiff import write_tiff

__all__ = ["write_simulation"]


def write_simulation(sim, out_dir: str | os.PathLike, *, overwrite: bool = False) -> list[Path]:
    """Write a simulated stack, its ground truth and its parameters into a folder.

    An SMLM simulation gives ``stack.tif`` (camera pixels),
    ``ground_truth.csv`` (ThunderSTORM CSV, nm, 1-based frames) and
    ``meta.json``. A fluctuation simulation gives ``stack.tif``, then on
    the fine grid ``support.tif`` (uint8), ``mean_intensity.tif`` and
    ``variance.tif`` (float32 photons per frame), and ``meta.json``. Each
    TIFF records its pixel size; ``meta.json`` is ``sim.meta`` (every
    parameter and the seed).

    Parameters
    ----------
    sim : SMLMSimulation or FluctuationSimulation
        What :func:`pointillist.simulate.simulate_smlm` or
        :func:`pointillist.simulate.simulate_fluctuation` returned.
    out_dir : str or path-like
        Output folder, created if missing.
    overwrite : bool, default False
        Replace existing files; otherwise refuse before writing them.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order above.

    Examples
    --------
    >>> import tempfile
    >>> from pointillist import Optics
    >>> from pointillist.simulate import simulate_fluctuation
    >>> sim = simulate_fluctuation(optics=Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=2),
    ...                            shape=(8, 8), n_frames=4, n_structures=1, seed=0)
    >>> [p.name for p in write_simulation(sim, tempfile.mkdtemp())]
    ['stack.tif', 'support.tif', 'mean_intensity.tif', 'variance.tif', 'meta.json']
    """
    from ..simulate import FluctuationSimulation, SMLMSimulation

    if not isinstance(sim, (SMLMSimulation, FluctuationSimulation)):
        raise InputError(
            f"sim must be what simulate_smlm or simulate_fluctuation returned, got {type(sim).__name__}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    p = sim.optics.pixel_size_nm
    if isinstance(sim, SMLMSimulation):
        paths = [out / "stack.tif", out / "ground_truth.csv"]
        write_tiff(paths[0], sim.stack, pixel_size_nm=p, overwrite=overwrite, dtype=sim.stack.dtype)
        write_localizations(paths[1], sim.ground_truth, overwrite=overwrite)
    else:
        fine = sim.optics.fine_pixel_nm
        paths = []
        for name, data, size, dtype in (
            ("stack.tif", sim.stack, p, sim.stack.dtype),
            ("support.tif", sim.support, fine, np.uint8),
            ("mean_intensity.tif", sim.mean_intensity, fine, np.float32),
            ("variance.tif", sim.variance, fine, np.float32),
        ):
            paths.append(out / name)
            write_tiff(paths[-1], data, pixel_size_nm=size, overwrite=overwrite, dtype=dtype)
    paths.append(out / "meta.json")
    write_json(paths[-1], sim.meta, overwrite=overwrite)
    return paths
