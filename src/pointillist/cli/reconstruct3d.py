"""``pointillist reconstruct-3d STACK... --angles angles.csv -o OUTDIR``: 3D-COL0RME on multi-angle TIRF stacks."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_optics_options, add_run_options, open_input, open_run_scheduler, write_image


def register(sub) -> None:
    """Add ``pointillist reconstruct-3d`` to the sub-command parsers ``sub`` (see :mod:`pointillist.cli`)."""
    parser = sub.add_parser(
        "reconstruct-3d", help="depth from multi-angle TIRF fluctuation stacks (3D-COL0RME)",
        description="3D-COL0RME: one fluctuating stack per TIRF incidence angle gives the common support, each "
        "angle's intensity on it and the depth of every support pixel. Writes support.tif, intensity.tif (one "
        "frame per angle, fine grid), depth.tif (nm above the coverslip, NaN off the support), volume.tif (depth "
        "bins x fine grid), run.json, preview.png (depth colour-coded) and angles.png (intensity against angle "
        "for a few support pixels, with the fitted decay).")
    parser.add_argument("stacks", type=Path, nargs="+", metavar="STACK", help="one TIFF or Zarr stack per angle")
    parser.add_argument("--angles", type=Path, required=True, metavar="angles.csv",
                        help="one row per stack: columns 'file' (the stack's file name) and 'angle [deg]'")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR", help="output folder")
    tirf = parser.add_argument_group("TIRF excitation")
    tirf.add_argument("--excitation-wavelength", type=float, default=491.0, metavar="NM",
                      help="excitation wavelength in nm (default 491); --wavelength is the emission wavelength "
                      "of the PSF options")
    tirf.add_argument("--n-glass", type=float, default=1.518, help="refractive index of the coverslip (default 1.518)")
    tirf.add_argument("--n-sample", type=float, default=1.34, help="refractive index of the sample (default 1.34)")
    g = parser.add_argument_group("depth")
    g.add_argument("--depth-max", type=float, default=300.0, metavar="NM", help="deepest depth bin edge (default 300)")
    g.add_argument("--depth-step", type=float, default=20.0, metavar="NM", help="depth bin size (default 20)")
    g.add_argument("--axial-mu", type=float, default=None, metavar="MU",
                   help="TV weight of the axial step on data divided by their maximum (default: colorme_3d's "
                   "calibrated 3e-3; 0 fits each pixel alone, much faster on large fields)")
    parser.add_argument("--penalty", choices=("cel0", "l1", "tv"), default="cel0",
                        help="support regulariser (default cel0)")
    add_run_options(parser)
    add_optics_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``pointillist reconstruct-3d``: reconstructs the depth of a multi-angle TIRF acquisition and writes its
    files; returns the exit code (see :mod:`pointillist.cli`)."""
    import numpy as np

    from ..figures import save_angle_decay, save_depth_image
    from ..io.angles import match_angles, read_angles
    from ..io.output_folder import output_folder
    from ..io.run_record import write_run_record
    from ..methods.colorme3d import colorme_3d
    from ..tirf import TIRFExcitation, depth_bin_matrix

    angles = match_angles(read_angles(args.angles), args.stacks)
    excitation = TIRFExcitation(angles, wavelength_nm=args.excitation_wavelength, n_glass=args.n_glass,
                                n_sample=args.n_sample)
    acqs, optics = [], None
    for path in args.stacks:  # the one reader and validator, stack by stack
        acq, optics = open_input(argparse.Namespace(**{**vars(args), "stack": path}))
        acqs.append(acq)
    with output_folder(args.output, overwrite=args.overwrite, force=args.force_overwrite,
                       inputs=[*args.stacks, args.angles]) as out:
        axial = {} if args.axial_mu is None else {"axial_mu": args.axial_mu}
        with open_run_scheduler(args) as scheduler:
            res = colorme_3d(acqs, excitation=excitation, optics=optics, penalty=args.penalty,
                             depth_max_nm=args.depth_max, depth_step_nm=args.depth_step, **axial,
                             device=args.device, scheduler=scheduler, progress=not args.quiet)
        fine = optics.fine_pixel_nm
        write_image(out, "support", res.support.astype("uint8"), pixel_size_nm=fine, fmt=args.format, dtype="uint8")
        write_image(out, "intensity", res.intensities, pixel_size_nm=fine, fmt=args.format)
        write_image(out, "volume", res.volume, pixel_size_nm=fine, fmt=args.format)
        write_image(out, "depth", res.depth, pixel_size_nm=fine, fmt=args.format, allow_nan=True)
        weight = res.intensities.mean(axis=0)
        save_depth_image(out / "preview.png", res.depth, weight, pixel_size_nm=fine,
                         depth_range_nm=(0.0, float(res.edges_nm[-1])), title="3D-COL0RME depth",
                         panels=[("mean intensity over the angles", weight, fine)])
        rows, cols = np.nonzero(res.support)
        order = np.argsort(-weight[rows, cols])[:: max(1, len(rows) // 5)][:5]
        fitted = depth_bin_matrix(excitation, res.edges_nm) @ res.volume[:, rows[order], cols[order]]
        save_angle_decay(out / "angles.png", excitation.angles_deg, res.intensities[:, rows[order], cols[order]].T,
                         fitted.T, [f"({r}, {c}): {res.depth[r, c]:.0f} nm" for r, c in zip(rows[order], cols[order])])
        ext = ".zarr" if args.format == "zarr" else ".tif"
        write_run_record(out / "run.json", command="reconstruct-3d", result=res,
                         inputs=[a.input_record() for a in acqs], calibration=acqs[0].calibration.as_dict(),
                         image=f"depth{ext}: nm above the coverslip, NaN off the support; intensity{ext}: one frame "
                         "per angle in the order of the stacks")
    finite = np.isfinite(res.depth)
    print(f"3D-COL0RME: {int(res.support.sum())} support pixels, depth {np.nanmin(res.depth):.0f}-"
          f"{np.nanmax(res.depth):.0f} nm (median {np.nanmedian(res.depth):.0f}) over {int(finite.sum())} pixels, "
          f"{len(acqs)} angles, {res.seconds:.1f} s -> {args.output}" if finite.any() else
          f"3D-COL0RME: no support found, {res.seconds:.1f} s -> {args.output}")
    return 0
