"""``pointillist postprocess LOCS.csv -o OUTDIR [steps]``: filter, drift-correct, merge and render a localization table.

The steps run in a fixed order, each only when its option is given: filters, drift correction, merging, density
filter; then the table is always written (``locs.csv``) and rendered (``render.tif``, ``render.png``); FRC and the
Picasso and SMLM-challenge exports are optional. Every step is recorded in ``run.json`` with its parameters and the
number of localizations before and after it.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from .common import add_overwrite_options, write_image

#: largest rendered image (pixels); a larger field needs a larger --render-pixel
MAX_RENDER_PIXELS = 200_000_000


def register(sub) -> None:
    """Add ``pointillist postprocess`` to the sub-command parsers ``sub`` (see :mod:`pointillist.cli`)."""
    parser = sub.add_parser(
        "postprocess", help="filter, drift-correct, merge, render and export a localization table",
        description="Post-processing of a localization CSV (ThunderSTORM or SMLM challenge columns, positions in "
        "nm). Steps run in this order, each only when its option is given: filters (--min-intensity, "
        "--max-intensity, --first-frame, --last-frame), drift correction (--drift), merging of blinking events "
        "(--merge), density filter (--density-radius with --density-min). Always writes locs.csv (ThunderSTORM "
        "CSV of the result), render.tif and render.png, and run.json (each step with its parameters and counts). "
        "--drift writes drift.csv and drift.png, --frc frc.png, --picasso locs.hdf5 and locs.yaml, --smlm-csv "
        "locs_smlm.csv. Frames are 1-based in every file, as in ThunderSTORM.")
    parser.add_argument("locs", type=Path, metavar="LOCS.csv", help="localization table (positions in nm)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR", help="output folder")
    g = parser.add_argument_group("filters (bounds included)")
    g.add_argument("--min-intensity", type=float, default=None, metavar="PHOTONS", help="fewest photons kept")
    g.add_argument("--max-intensity", type=float, default=None, metavar="PHOTONS", help="most photons kept")
    g.add_argument("--first-frame", type=int, default=None, metavar="N", help="first frame kept (1-based)")
    g.add_argument("--last-frame", type=int, default=None, metavar="N", help="last frame kept (1-based)")
    g = parser.add_argument_group("drift correction")
    g.add_argument("--drift", choices=("rcc", "fiducials"), default=None,
                   help="rcc: redundant cross-correlation of blocks of frames; fiducials: beads seen in most frames "
                   "(--fiducials). Writes drift.csv and drift.png")
    g.add_argument("--drift-segment", type=int, default=None, metavar="FRAMES",
                   help="rcc: frames per block (default 200); each block needs hundreds of localizations")
    g.add_argument("--fiducials", type=Path, default=None, metavar="FILE.csv",
                   help="fiducials: CSV with columns 'x [nm]' and 'y [nm]', one row per bead")
    g.add_argument("--fiducial-radius", type=float, default=None, metavar="NM",
                   help="fiducials: capture radius around each bead (default 300)")
    g = parser.add_argument_group("merging of blinking events (ThunderSTORM's rule)")
    g.add_argument("--merge", action="store_true", help="one localization per emission event")
    g.add_argument("--merge-distance", type=float, default=20.0, metavar="NM",
                   help="largest step between consecutive localizations of one event (default 20)")
    g.add_argument("--merge-off-frames", type=int, default=1, metavar="N",
                   help="dark frames allowed inside one event (default 1)")
    g.add_argument("--merge-max-frames", type=int, default=None, metavar="N",
                   help="most frames one event may span, longer ones are split (default: no cap)")
    g = parser.add_argument_group("density filter")
    g.add_argument("--density-radius", type=float, default=None, metavar="NM", help="neighbourhood radius")
    g.add_argument("--density-min", type=int, default=None, metavar="N",
                   help="fewest neighbours (over all frames) a localization needs to be kept")
    g = parser.add_argument_group("rendering (render.tif, render.png)")
    g.add_argument("--render", choices=("histogram", "gaussian"), default="gaussian",
                   help="histogram: count per pixel; gaussian (default): a Gaussian per localization whose width "
                   "is the median localization uncertainty when the table has one, else --render-sigma")
    g.add_argument("--render-pixel", type=float, default=10.0, metavar="NM", help="render pixel size (default 10)")
    g.add_argument("--render-sigma", type=float, default=None, metavar="NM",
                   help="Gaussian width when the table has no uncertainty column (default 10)")
    g = parser.add_argument_group("resolution")
    g.add_argument("--frc", action="store_true",
                   help="Fourier ring correlation on the render pixel grid: writes frc.png, prints the resolution "
                   "and records it in run.json")
    g.add_argument("--frc-split", choices=("random", "odd-even"), default="random",
                   help="how the table is halved (default random; odd-even: even frames against odd frames)")
    g.add_argument("--seed", type=int, default=0, help="seed of the random FRC split (default 0)")
    g = parser.add_argument_group("exports")
    g.add_argument("--picasso", action="store_true", help="also write locs.hdf5 and locs.yaml for Picasso")
    g.add_argument("--camera-pixel", type=float, default=None, metavar="NM",
                   help="camera pixel size in nm, Picasso's unit of length (required by --picasso)")
    g.add_argument("--picasso-precision", type=float, default=None, metavar="NM",
                   help="localization precision written for Picasso when the table has no uncertainty column")
    g.add_argument("--smlm-csv", action="store_true", help="also write locs_smlm.csv (SMLM challenge columns)")
    add_overwrite_options(parser)
    parser.set_defaults(func=run)


def _check_options(args) -> None:
    """Refuse inconsistent or out-of-range options before anything is read or written."""
    from ..errors import InputError

    def positive(name, value):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InputError(f"{name} must be a positive number of nm, got {value:g}")

    for name in ("--merge-distance", "--render-pixel", "--render-sigma", "--fiducial-radius", "--camera-pixel",
                 "--picasso-precision", "--density-radius"):
        positive(name, getattr(args, name[2:].replace("-", "_")))
    for name in ("--first-frame", "--last-frame"):
        value = getattr(args, name[2:].replace("-", "_"))
        if value is not None and value < 1:
            raise InputError(f"{name} is a 1-based frame number, got {value}")
    if args.first_frame is not None and args.last_frame is not None and args.last_frame < args.first_frame:
        raise InputError(f"--last-frame {args.last_frame} is before --first-frame {args.first_frame}")
    if args.merge_off_frames < 0:
        raise InputError(f"--merge-off-frames must be 0 or more, got {args.merge_off_frames}")
    if args.merge_max_frames is not None and args.merge_max_frames < 1:
        raise InputError(f"--merge-max-frames must be at least 1, got {args.merge_max_frames}")
    if args.drift_segment is not None and args.drift_segment < 1:
        raise InputError(f"--drift-segment must be at least 1 frame, got {args.drift_segment}")
    if args.drift == "fiducials" and args.fiducials is None:
        raise InputError("--drift fiducials needs --fiducials FILE.csv (columns 'x [nm]', 'y [nm]')")
    if args.drift != "fiducials" and (args.fiducials is not None or args.fiducial_radius is not None):
        raise InputError("--fiducials and --fiducial-radius are options of --drift fiducials")
    if args.drift != "rcc" and args.drift_segment is not None:
        raise InputError("--drift-segment is an option of --drift rcc")
    if (args.density_radius is None) != (args.density_min is None):
        raise InputError("the density filter needs both --density-radius NM and --density-min N")
    if args.density_min is not None and args.density_min < 0:
        raise InputError(f"--density-min must be 0 or more, got {args.density_min}")
    if args.render == "histogram" and args.render_sigma is not None:
        raise InputError("--render-sigma is for --render gaussian; drop it or choose --render gaussian")
    if args.picasso and args.camera_pixel is None:
        raise InputError("--picasso needs --camera-pixel NM: Picasso stores positions in camera pixels")
    if not args.picasso and (args.camera_pixel is not None or args.picasso_precision is not None):
        raise InputError("--camera-pixel and --picasso-precision are options of --picasso")


def run(args: argparse.Namespace) -> int:
    """``pointillist postprocess``: runs the requested steps on a localization table and writes the results;
    returns the exit code (see :mod:`pointillist.cli`)."""
    import numpy as np

    from ..errors import InputError
    from ..figures import save_curves, save_panels
    from ..io import (file_sha256, localization_fields, read_fiducials, read_localizations, render_localizations,
                      write_drift_csv, write_localizations)
    from ..io.output_folder import output_folder
    from ..io.run_record import write_run_record
    from ..postprocess import (correct_drift, density_filter, drift_fiducials, drift_rcc, filter_localizations,
                               frc_resolution, merge_localizations)
    from ..postprocess.drift import FIDUCIAL_RADIUS_NM, SEGMENT_FRAMES

    _check_options(args)
    locs = read_localizations(args.locs)
    if (args.min_intensity is not None or args.max_intensity is not None) \
            and "photons" not in localization_fields(args.locs):
        raise InputError(f"{args.locs} has no intensity column; --min-intensity / --max-intensity need one")
    if not len(locs):
        raise InputError(f"{args.locs} holds no localizations (a header only); nothing to post-process")
    fiducials = read_fiducials(args.fiducials) if args.fiducials is not None else None
    inputs = [args.locs] + ([args.fiducials] if args.fiducials is not None else [])
    steps = []

    def record(name, parameters, before, after, **extra):
        if not len(after):
            raise InputError(f"no localizations left after the {name} step ({len(before)} before); loosen its options")
        steps.append({"step": name, "parameters": parameters, "before": len(before), "after": len(after), **extra})
        return after

    with output_folder(args.output, overwrite=args.overwrite, force=args.force_overwrite, inputs=inputs) as out:
        outputs = {}
        bounds = {"min_intensity": args.min_intensity, "max_intensity": args.max_intensity,
                  "first_frame": None if args.first_frame is None else args.first_frame - 1,
                  "last_frame": None if args.last_frame is None else args.last_frame - 1}
        if any(v is not None for v in bounds.values()):
            params = {"min_intensity": args.min_intensity, "max_intensity": args.max_intensity,
                      "first_frame": args.first_frame, "last_frame": args.last_frame}
            locs = record("filter", params, locs, filter_localizations(locs, **bounds))

        if args.drift is not None:
            if args.drift == "rcc":
                params = {"method": "rcc", "segment_frames": args.drift_segment or SEGMENT_FRAMES}
                drift = drift_rcc(locs, segment_frames=params["segment_frames"])
            else:
                radius = FIDUCIAL_RADIUS_NM if args.fiducial_radius is None else args.fiducial_radius
                params = {"method": "fiducials", "fiducials": str(args.fiducials), "n_fiducials": len(fiducials),
                          "radius_nm": radius}
                drift = drift_fiducials(locs, fiducials, radius_nm=radius)
            write_drift_csv(out / "drift.csv", drift)
            save_curves(out / "drift.png", [("x", drift.frames + 1, drift.x_nm), ("y", drift.frames + 1, drift.y_nm)],
                        xlabel="frame", ylabel="drift (nm)", title=f"drift ({args.drift})")
            span = {"x": float(np.ptp(drift.x_nm)), "y": float(np.ptp(drift.y_nm))}
            locs = record("drift", params, locs, correct_drift(locs, drift), range_nm=span)
            outputs["drift.csv"] = "drift subtracted from each frame (1-based), nm, zero mean over the frames"
            outputs["drift.png"] = "drift x and y against frame"

        if args.merge:
            params = {"max_distance_nm": args.merge_distance, "max_off_frames": args.merge_off_frames,
                      "max_frames": args.merge_max_frames}
            locs = record("merge", params, locs, merge_localizations(locs, **params))

        if args.density_radius is not None:
            params = {"radius_nm": args.density_radius, "min_neighbors": args.density_min}
            locs = record("density_filter", params, locs,
                          density_filter(locs, radius_nm=args.density_radius, min_neighbors=args.density_min))

        write_localizations(out / "locs.csv", locs)
        outputs["locs.csv"] = "ThunderSTORM columns; frames 1-based; nm; intensity in photons"

        pixel = args.render_pixel
        shape = (int(math.floor(max(locs.y_nm.max(), 0.0) / pixel)) + 1,
                 int(math.floor(max(locs.x_nm.max(), 0.0) / pixel)) + 1)
        if shape[0] * shape[1] > MAX_RENDER_PIXELS:
            raise InputError(f"rendering {locs.x_nm.max():.0f} x {locs.y_nm.max():.0f} nm at --render-pixel "
                             f"{pixel:g} nm needs {shape[0]} x {shape[1]} pixels; choose a larger --render-pixel")
        render = {"method": args.render, "pixel_size_nm": pixel, "shape": list(shape),
                  "origin": "pixel (0, 0) starts at x = y = 0 nm; localizations at negative positions are not drawn"}
        sigma = None
        if args.render == "gaussian":
            if locs.uncertainty_nm is not None and np.any(locs.uncertainty_nm > 0):
                sigma = float(np.median(locs.uncertainty_nm[locs.uncertainty_nm > 0]))
                render["sigma_from"] = "median localization uncertainty"
            else:
                sigma = 10.0 if args.render_sigma is None else args.render_sigma
                render["sigma_from"] = "--render-sigma"
            render["sigma_nm"] = sigma
        image = render_localizations(locs, shape=shape, pixel_size_nm=pixel, method=args.render, sigma_nm=sigma)
        render_file = write_image(out, "render", image, pixel_size_nm=pixel, fmt="tiff")
        save_panels(out / "render.png", [(f"{len(locs)} localizations ({args.render})", image, pixel)])
        outputs[render_file] = f"{args.render} rendering, {pixel:g} nm pixels, localizations per pixel"
        outputs["render.png"] = "the rendering"

        frc = None
        if args.frc:
            res = frc_resolution(locs, pixel_size_nm=pixel, split=args.frc_split, seed=args.seed)
            threshold = np.full_like(res.curve, res.threshold)
            save_curves(out / "frc.png", [("FRC", res.frequency, res.curve),
                                          (f"threshold {res.threshold:.3g}", res.frequency, threshold)],
                        xlabel="spatial frequency (1/nm)", ylabel="FRC",
                        title=f"FRC resolution {res.resolution_nm:.1f} nm" if math.isfinite(res.resolution_nm)
                        else "FRC: resolution below 2 pixels, not measurable")
            frc = {"resolution_nm": res.resolution_nm if math.isfinite(res.resolution_nm) else None,
                   "threshold": res.threshold, "split": args.frc_split, "seed": args.seed, "pixel_size_nm": pixel}
            outputs["frc.png"] = "Fourier ring correlation against spatial frequency, with the threshold"

        if args.picasso:
            from ..io import write_picasso_hdf5

            cam = args.camera_pixel
            camera_shape = (int(math.floor(max(locs.y_nm.max(), 0.0) / cam)) + 1,
                            int(math.floor(max(locs.x_nm.max(), 0.0) / cam)) + 1)
            write_picasso_hdf5(out / "locs.hdf5", locs, pixel_size_nm=cam, image_shape=camera_shape,
                               uncertainty_nm=args.picasso_precision)
            outputs["locs.hdf5"] = f"Picasso localizations, camera pixels of {cam:g} nm, frames 0-based"
            outputs["locs.yaml"] = "Picasso metadata of locs.hdf5"
        if args.smlm_csv:
            from ..io import write_smlm_challenge_csv

            write_smlm_challenge_csv(out / "locs_smlm.csv", locs)
            outputs["locs_smlm.csv"] = "SMLM challenge columns; frames 1-based; nm"

        extra = {"frc": frc} if frc is not None else {}
        # run.json last: a folder without one is never a finished result
        write_run_record(out / "run.json", command="postprocess",
                         input={"path": str(args.locs), "sha256": file_sha256(args.locs),
                                "localizations": steps[0]["before"] if steps else len(locs)},
                         steps=steps, localizations=len(locs), render=render, outputs=outputs, **extra)
    done = ", ".join(f"{s['step']} {s['before']} -> {s['after']}" for s in steps) or "no step"
    print(f"postprocess: {done}; {len(locs)} localizations -> {args.output}")
    if frc is not None:
        print(f"FRC resolution: {res.resolution_nm:.1f} nm" if frc["resolution_nm"] is not None else
              "FRC resolution: below 2 render pixels, not measurable; decrease --render-pixel")
    return 0
