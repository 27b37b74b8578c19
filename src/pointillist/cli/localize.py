"""``pointillist localize STACK.tif -o OUTDIR --method cel0|deepstorm|deepstorm-relu|deepcel0 ...``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import (add_optics_options, add_run_options, input_files, open_input, open_run_scheduler,
                     refuse_foreign_options, write_image)

METHODS = ("cel0", "deepstorm", "deepstorm-relu", "deepcel0")
_NETWORKS = METHODS[1:]
#: the methods that read each method-specific option (None or False when not given); another method refuses it
OPTION_METHODS = {"weights": _NETWORKS, "architecture": _NETWORKS, "force": _NETWORKS, "lam": ("cel0",),
                   "lambda_ratio": ("cel0",)}


def register(sub) -> None:
    """Add ``pointillist localize`` to the sub-command parsers ``sub`` (see :mod:`pointillist.cli`)."""
    parser = sub.add_parser(
        "localize", help="localize single molecules frame by frame (CEL0, Deep-STORM, DeepCEL0)",
        description="Localize emitters in each frame of an SMLM stack. Writes localizations.csv (ThunderSTORM "
        "columns, nm, 1-based frames), render.tif (sum of the super-resolved frames on the fine grid), run.json "
        "and preview.png into OUTDIR. The networks use the shipped weights (100 nm pixels, FWHM 258.21 nm, q = 4) "
        "unless --weights is given; weights trained for other optics are refused unless --force.")
    parser.add_argument("stack", type=Path, metavar="STACK.tif", help="TIFF stack (frames, rows, columns)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR", help="output folder")
    parser.add_argument("--method", choices=METHODS, default="deepcel0", help="localization method (default deepcel0)")
    parser.add_argument("--weights", type=Path, default=None, metavar="MODEL.pt",
                        help="network weights from 'pointillist train' (default: the shipped weights)")
    parser.add_argument("--architecture", choices=("subpixel", "deepstorm"), default=None,
                        help="networks: the shipped paper's Deep-STORM network (default) or the sub-pixel network (deepcel0 "
                        "and deepstorm-relu; faster, less precise on sparse emitters); with --weights, read from the file")
    parser.add_argument("--threshold", type=float, default=None,
                        help="networks: fraction of one emitter's spike amplitude (default 0.1); cel0: photons (default 0)")
    parser.add_argument("--protocol", choices=("maxima", "pixels"), default="maxima",
                        help="local maxima with 3x3 centroids (default), or one molecule per positive fine pixel")
    parser.add_argument("--lambda", dest="lam", type=float, default=None,
                        help="cel0: lambda on max-normalised frames (default 5e-3)")
    parser.add_argument("--lambda-ratio", type=float, default=None, metavar="R",
                        help="cel0: lambda as a fraction of each frame's lambda_max instead")
    parser.add_argument("--batch-size", type=int, default=None, help="frames per batch (default 16)")
    parser.add_argument("--force", action="store_true", help="use network weights trained for other optics anyway")
    add_run_options(parser)
    add_optics_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``pointillist localize STACK.tif -o OUT --method deepcel0``: localizes each frame and writes
    localizations.csv, render.tif, run.json and preview.png; returns the exit code (see :mod:`pointillist.cli`).
    """
    from ..figures import save_panels
    from ..io import render_localizations, write_localizations
    from ..io.output_folder import output_folder
    from ..io.run_record import write_run_record

    _check_options(args)
    acq, optics = open_input(args)
    with output_folder(args.output, overwrite=args.overwrite, force=args.force_overwrite,
                       inputs=input_files(args)) as out:
        res = compute(args, acq, optics)
        fine, p = optics.fine_pixel_nm, optics.pixel_size_nm
        write_localizations(out / "localizations.csv", res.localizations)
        render_file = write_image(out, "render", res.render, pixel_size_nm=fine, fmt=args.format)
        histogram = render_localizations(res.localizations, shape=res.render.shape, pixel_size_nm=fine)
        save_panels(out / "preview.png", [("mean frame", res.mean, p), (f"{args.method}: sum of super-resolved "
                                          "frames", res.render, fine), ("localizations (histogram)", histogram,
                                                                        fine)])
        outputs = {"localizations.csv": "ThunderSTORM columns; frames 1-based; nm; intensity = photons (cel0) "
                                        "or spike mass in units of one emitter (networks)",
                   render_file: f"sum of the super-resolved frames, fine grid of {fine:g} nm"}
        # run.json last: a folder without one is never a finished result
        write_run_record(out / "run.json", command="localize", acquisition=acq, result=res, outputs=outputs)
    print(f"{args.method}: {len(res.localizations)} localizations in {res.n_frames} frames "
          f"({res.summary()['localizations_per_frame']:.1f} per frame), {res.seconds:.1f} s -> {args.output}")
    return 0


def _check_options(args) -> None:
    refuse_foreign_options(args, OPTION_METHODS, METHODS)


def compute(args: argparse.Namespace, acq, optics):
    """What ``pointillist localize`` computes from options ``args``, without files: the full
    :class:`~pointillist.methods.smlm.api.LocalizeResult` (the napari plugin's entry; same checks and
    defaults as the command line)."""
    from ..methods.smlm.api import localize

    _check_options(args)
    with open_run_scheduler(args) as scheduler:
        return localize(acq, optics=optics, method=args.method, weights=args.weights, architecture=args.architecture,
                        threshold=args.threshold, protocol=args.protocol, lam=args.lam,
                        lambda_ratio=args.lambda_ratio, batch_size=args.batch_size, device=args.device,
                        force=args.force, progress=not args.quiet, full_output=True, scheduler=scheduler)
