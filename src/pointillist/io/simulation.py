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

__all__ = ["write_simulation", "write_angles", "VOLUME_STEP_NM"]

#: depth bins of the simulated ground-truth volume (volume.tif)
VOLUME_STEP_NM = 20.0


def write_simulation(sim, out_dir: str | os.PathLike, *, overwrite: bool = False) -> list[Path]:
    """Write a simulated stack, its ground truth and its parameters into a folder.

    A multi-angle TIRF simulation gives one stack per angle
    (``angle_01.tif``, ...), ``angles.csv`` (``file``, ``angle [deg]``,
    ``penetration depth [nm]``, ``I0``), then on the fine grid
    ``support.tif``, ``depth.tif`` (nm, NaN off the support),
    ``brightness.tif`` and ``volume.tif`` (20 nm depth bins x the fine
    grid), and ``meta.json``.

    An SMLM simulation gives ``stack.tif`` (camera pixels),
    ``ground_truth.csv`` (ThunderSTORM CSV, nm, 1-based frames) and
    ``meta.json``. A fluctuation simulation gives ``stack.tif``, then on
    the fine grid ``support.tif`` (uint8), ``mean_intensity.tif`` and
    ``variance.tif`` (float32 photons per frame), and ``meta.json``. Each
    TIFF records its pixel size; ``meta.json`` is ``sim.meta`` (every
    parameter and the seed).

    Parameters
    ----------
    sim : SMLMSimulation, FluctuationSimulation or MATIRFSimulation
        What :func:`pointillist.simulate.simulate_smlm`,
        :func:`pointillist.simulate.simulate_fluctuation` or
        :func:`pointillist.simulate.simulate_matirf` returned.
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
    from ..simulate import FluctuationSimulation, MATIRFSimulation, SMLMSimulation

    if not isinstance(sim, (SMLMSimulation, FluctuationSimulation, MATIRFSimulation)):
        raise InputError(
            f"sim must be what simulate_smlm, simulate_fluctuation or simulate_matirf returned, got "
            f"{type(sim).__name__}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    p = sim.optics.pixel_size_nm
    if isinstance(sim, MATIRFSimulation):
        paths = _write_matirf(sim, out, overwrite)
    elif isinstance(sim, SMLMSimulation):
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


def write_angles(path, files, excitation, *, overwrite: bool = False) -> Path:
    """``angles.csv``: one row per stack with ``file`` and ``angle [deg]``, plus the penetration depth and
    the transmission of each angle (which readers ignore).

    Examples
    --------
    >>> import tempfile
    >>> from pointillist.tirf import TIRFExcitation
    >>> path = write_angles(Path(tempfile.mkdtemp()) / "angles.csv", ["a.tif"], TIRFExcitation((65.0,)))
    >>> path.read_text().splitlines()[0]
    'file,angle [deg],penetration depth [nm],I0'
    """
    import csv
    import io

    from .atomic import write_text

    if len(files) != excitation.n_angles:
        raise InputError(f"{len(files)} files for {excitation.n_angles} angles")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["file", "angle [deg]", "penetration depth [nm]", "I0"])
    for name, angle, d, i0 in zip(files, excitation.angles_deg, excitation.penetration_depths_nm,
                                  excitation.transmission):
        writer.writerow([name, f"{angle:g}", f"{d:.3f}", f"{i0:.6f}"])
    return write_text(path, buf.getvalue(), overwrite=overwrite)


def _write_matirf(sim, out: Path, overwrite: bool) -> list[Path]:
    from ..tirf import depth_edges

    p, fine = sim.optics.pixel_size_nm, sim.optics.fine_pixel_nm
    width = max(2, len(str(sim.excitation.n_angles)))
    names = [f"angle_{k + 1:0{width}d}.tif" for k in range(sim.excitation.n_angles)]
    paths = []
    for name, stack in zip(names, sim.stacks):
        paths.append(write_tiff(out / name, stack, pixel_size_nm=p, overwrite=overwrite, dtype=stack.dtype))
    paths.append(write_angles(out / "angles.csv", names, sim.excitation, overwrite=overwrite))
    lo, hi = sim.meta["depth_range_nm"]
    top = VOLUME_STEP_NM * np.ceil(hi / VOLUME_STEP_NM)
    for name, data, dtype, nan in (
        ("support.tif", sim.support, np.uint8, False),
        ("depth.tif", sim.depth, np.float32, True),
        ("brightness.tif", sim.brightness, np.float32, False),
        ("volume.tif", sim.volume(depth_edges(top, VOLUME_STEP_NM)), np.float32, False),
    ):
        paths.append(write_tiff(out / name, data, pixel_size_nm=fine, overwrite=overwrite, dtype=dtype,
                                allow_nan=nan))
    return paths
