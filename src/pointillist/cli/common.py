"""Pieces shared by the sub-commands: optics and camera options, the input acquisition, output folders."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..errors import InputError
from ..optics import Optics

DEFAULT_PIXEL_SIZE_NM = 100.0
DEFAULT_FWHM_NM = 258.21


def add_optics_options(parser: argparse.ArgumentParser, *, upsample_default: int = 4) -> None:
    g = parser.add_argument_group("optics (lengths in nm)")
    g.add_argument("--pixel-size", type=float, default=None, metavar="NM",
                   help=f"camera pixel size in nm (default: from the TIFF metadata, else {DEFAULT_PIXEL_SIZE_NM:g}); "
                   "overrides the metadata, with a notice when they differ")
    g.add_argument("--psf-fwhm", type=float, default=None, metavar="NM",
                   help=f"FWHM of the Gaussian PSF in nm (default {DEFAULT_FWHM_NM})")
    g.add_argument("--wavelength", type=float, default=None, metavar="NM",
                   help="emission wavelength in nm; with --na gives the FWHM instead of --psf-fwhm")
    g.add_argument("--na", type=float, default=None, help="numerical aperture (with --wavelength)")
    g.add_argument("--fwhm-convention", choices=("airy", "rayleigh"), default="airy",
                   help="FWHM from wavelength/NA: airy = 0.5145 lambda/NA, rayleigh = 0.61 lambda/NA (COL0RME scripts)")
    g.add_argument("--psf", type=Path, default=None, metavar="PSF.tif",
                   help="measured PSF image on the fine grid (pixel size = pixel size / upsample), instead of a Gaussian")
    g.add_argument("--upsample", type=int, default=upsample_default, metavar="Q",
                   help=f"super-resolution factor q: fine pixels of pixel-size/q nm (default {upsample_default})")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Camera calibration, device, overwrite and quiet: the options every processing command shares."""
    parser.add_argument("--offset", type=_offset_option, default=None, metavar="ADU",
                        help="camera offset in ADU: photons = (ADU - offset) / gain (default 0, with a warning "
                        "when integer data sit well above 0); 'auto': the dark level measured in the stack (a low "
                        "percentile of the per-pixel minimum over time), recorded in run.json")
    parser.add_argument("--gain", type=float, default=1.0, help="camera gain in ADU per photon (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    parser.add_argument("--format", choices=("tiff", "zarr"), default="tiff",
                        help="images as TIFF (default; BigTIFF over 4 GB) or as OME-Zarr folders (NAME.zarr)")
    add_overwrite_options(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    g = parser.add_argument_group("where the work runs (tiles of colorme and pnp-colorme, frames of localize)")
    g.add_argument("--threads", type=int, default=None, metavar="N",
                   help="tasks at once in this process (default: the cores available)")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="start a Dask cluster of N worker processes (one thread each) on this machine")
    g.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="run on a running Dask cluster (for example one started by dask-jobqueue on SLURM)")


def open_run_scheduler(args):
    """The :func:`~pointillist.scheduler.open_scheduler` of ``--threads``, ``--workers`` and ``--scheduler``."""
    from ..scheduler import open_scheduler

    return open_scheduler(workers=args.workers, scheduler=args.scheduler, threads=args.threads)


def write_image(folder: Path, name: str, image, *, pixel_size_nm: float, fmt: str, dtype="float32",
                allow_nan: bool = False) -> str:
    """Write ``NAME.tif`` or, with ``--format zarr``, the OME-Zarr folder ``NAME.zarr``; returns the file name.

    ``allow_nan`` lets a map be undefined in places (a depth map off the support); Zarr always allows it."""
    from ..io import write_tiff
    from ..io.ome_zarr import write_ome_zarr

    if fmt == "zarr":
        write_ome_zarr(folder / f"{name}.zarr", image, pixel_size_nm=pixel_size_nm, dtype=dtype)
        return f"{name}.zarr"
    write_tiff(folder / f"{name}.tif", image, pixel_size_nm=pixel_size_nm, dtype=dtype, allow_nan=allow_nan)
    return f"{name}.tif"


def _offset_option(text: str):
    """``--offset``: a number of ADU or ``auto``."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of ADU or 'auto', got {text!r}") from None


def add_overwrite_options(parser: argparse.ArgumentParser) -> None:
    """``--overwrite`` and ``--force-overwrite``: what every command that writes a folder offers."""
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output folder as a whole, once the new results are complete "
                        "(refused when the folder holds the input or files pointillist does not write)")
    parser.add_argument("--force-overwrite", action="store_true",
                        help="with --overwrite, replace the folder even if it holds files pointillist does not write")


def optics_from_args(args, *, file_pixel_size_nm: float | None = None) -> Optics:
    """Build ``Optics`` from the options; ``--pixel-size`` overrides the file's pixel size, with a notice on
    stderr when they differ, and the file's is used when the option is not given."""
    pixel = args.pixel_size
    if pixel is None:
        pixel = file_pixel_size_nm if file_pixel_size_nm else DEFAULT_PIXEL_SIZE_NM
    elif file_pixel_size_nm and not math.isclose(pixel, file_pixel_size_nm, rel_tol=0.01):
        # metadata is often wrong (a default 1 um, an unconverted unit): the option wins, and says so
        print(f"pointillist: note: --pixel-size {pixel:g} nm overrides the {file_pixel_size_nm:g} nm recorded in "
              f"{getattr(args, 'stack', 'the file')}", file=sys.stderr)
    if args.psf is not None:
        from ..io import read_stack

        psf = read_stack(args.psf, mmap=False)
        if psf.data.shape[0] != 1:
            raise InputError(f"the PSF file {args.psf} must hold one 2-D image, it has {psf.data.shape[0]} frames")
        return Optics(pixel_size_nm=pixel, upsample=args.upsample, psf_image=psf.data[0],
                      psf_pixel_size_nm=psf.pixel_size_nm)
    if args.wavelength is not None or args.na is not None:
        if args.wavelength is None or args.na is None:
            raise InputError("give both --wavelength and --na (or --psf-fwhm)")
        if args.psf_fwhm is not None:
            raise InputError("give either --psf-fwhm or --wavelength/--na, not both")
        return Optics.from_wavelength(pixel_size_nm=pixel, wavelength_nm=args.wavelength, na=args.na,
                                      upsample=args.upsample, convention=args.fwhm_convention)
    fwhm = DEFAULT_FWHM_NM if args.psf_fwhm is None else args.psf_fwhm
    return Optics(pixel_size_nm=pixel, psf_fwhm_nm=fwhm, upsample=args.upsample)


def open_input(args, raw=None):
    """The input stack of a processing command as an ``Acquisition`` (calibrated by ``--offset``/``--gain``)
    and the ``Optics`` of the options, checked against the file's pixel size.

    ``--offset auto`` measures the camera offset in the stack (:func:`pointillist.camera_offset.dark_level`);
    without ``--offset`` an integer stack whose darkest pixels sit well above 0 gets a one-line warning.
    ``raw``: the uncalibrated frames as an ``Acquisition`` when they do not come from ``args.stack`` (the
    napari plugin's image layer).
    """
    from ..acquisition import Calibration, as_acquisition, open_acquisition
    from ..camera_offset import DARK_PERCENTILE, dark_level, offset_warning

    raw = open_acquisition(args.stack) if raw is None else raw
    optics = optics_from_args(args, file_pixel_size_nm=raw.pixel_size_nm)
    if args.offset == "auto":
        level = dark_level(raw)
        print(f"pointillist: note: --offset auto: camera offset {level:g} ADU (the {DARK_PERCENTILE:g}th percentile "
              "of the per-pixel minimum over time)", file=sys.stderr)
        calibration = Calibration(offset=level, gain=args.gain,
                                  note=f"offset measured by --offset auto: {DARK_PERCENTILE:g}th percentile of the "
                                  "per-pixel minimum over time")
    else:
        if args.offset is None and (warning := offset_warning(raw, offset_given=False)):
            print(f"pointillist: warning: {warning}", file=sys.stderr)
        calibration = Calibration(offset=0.0 if args.offset is None else args.offset, gain=args.gain)
    return as_acquisition(raw, calibration=calibration), optics


def input_files(args) -> list:
    """The files a command reads (the stack, weights, a measured PSF): an output folder holding one is never
    replaced."""
    return [p for p in (getattr(args, name, None) for name in ("stack", "weights", "psf")) if p is not None]


def given(args, names) -> dict:
    """The options among ``names`` that the user gave (not None), as keyword arguments: the library's
    defaults apply to the others, so the CLI never repeats them."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def refuse_foreign_options(args, table: dict, methods: tuple) -> None:
    """Refuse the method-specific options that ``--method`` does not read (``table``: option -> the methods
    that read it; an option not given is None or False), naming the methods that do."""
    foreign = [k for k, users in table.items() if args.method not in users and getattr(args, k) not in (None, False)]
    if foreign:
        uses = sorted({m for k in foreign for m in table[k]}, key=methods.index)
        flags = ", ".join("--lambda" if k == "lam" else "--" + k.replace("_", "-") for k in foreign)
        raise InputError(f"{flags}: not used by --method {args.method} (only by --method {', '.join(uses)})")
