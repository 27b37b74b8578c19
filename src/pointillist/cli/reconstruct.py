"""``pointillist reconstruct STACK.tif -o OUTDIR --method colorme ...``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.hashing import file_sha256
from .common import add_optics_options, add_run_options, optics_from_args, prepare_output_dir

METHODS = ("colorme",)


def register(sub) -> None:
    parser = sub.add_parser(
        "reconstruct", help="super-resolve a fluctuating stack (COL0RME)",
        description="Reconstruct a super-resolved image from a stack of fluctuating frames. Writes support.tif "
        "(fine grid, 1 on the support), intensity.tif (fine grid), background.tif (camera grid), run.json and "
        "preview.png into OUTDIR.")
    parser.add_argument("stack", type=Path, metavar="STACK.tif", help="TIFF stack (frames, rows, columns)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR", help="output folder")
    parser.add_argument("--method", choices=METHODS, default="colorme", help="reconstruction method (default colorme)")
    parser.add_argument("--penalty", choices=("cel0", "l1", "tv"), default="cel0",
                        help="COL0RME support regulariser (default cel0)")
    parser.add_argument("--lambda-ratio", type=float, default=None, metavar="R",
                        help="lambda as a fraction of lambda_max (default: per penalty, calibrated on simulations)")
    parser.add_argument("--cel0-solver", choices=("irl1", "fista"), default="irl1",
                        help="CEL0 solver: IRL1 as in the reference code (default) or FISTA with the CEL0 prox")
    parser.add_argument("--restarts", type=int, default=None,
                        help="CEL0 restarting strategy: extra runs between neighbouring support pixels, support = "
                        "union (default 0; 10 as the reference code: slower, slightly fuller supports)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="support = r > threshold * max(r) (default 0, and 0.3 for tv)")
    parser.add_argument("--mu", type=float, default=None,
                        help="intensity smoothness (default: discrepancy principle)")
    parser.add_argument("--beta", type=float, default=20.0, help="background smoothness (default 20)")
    parser.add_argument("--dp-mode", choices=("code", "statistical"), default="code",
                        help="discrepancy target: one frame's noise energy (code) or the mean image's (statistical)")
    parser.add_argument("--no-background", action="store_true", help="do not estimate a background")
    parser.add_argument("--tile-size", type=int, default=None, metavar="PX",
                        help="camera pixels per tile side for large fields (default 64)")
    parser.add_argument("--max-iter", type=int, default=3000, help="iteration cap of the support solver (default 3000)")
    add_run_options(parser)
    add_optics_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import __version__
    from ..methods.colorme import DEFAULT_TILE_SIZE, colorme
    from ..figures import save_panels
    from ..io import read_stack, write_json, write_tiff

    stack = read_stack(args.stack)
    optics = optics_from_args(args, file_pixel_size_nm=stack.pixel_size_nm)
    out = prepare_output_dir(args.output, overwrite=args.overwrite)
    res = colorme(
        stack.data, optics=optics, penalty=args.penalty, lambda_ratio=args.lambda_ratio, algorithm=args.cel0_solver,
        restarts=args.restarts, threshold=args.threshold, mu=args.mu, beta=args.beta, dp_mode=args.dp_mode,
        background=not args.no_background, offset=args.offset, gain=args.gain,
        tile_size=args.tile_size or DEFAULT_TILE_SIZE, max_iter=args.max_iter, device=args.device,
        progress=not args.quiet,
    )
    fine, p, ow = optics.fine_pixel_nm, optics.pixel_size_nm, args.overwrite
    write_tiff(out / "support.tif", res.support.astype("uint8"), pixel_size_nm=fine, overwrite=ow, dtype="uint8")
    write_tiff(out / "intensity.tif", res.intensity, pixel_size_nm=fine, overwrite=ow)
    write_tiff(out / "background.tif", res.background, pixel_size_nm=p, overwrite=ow)
    mean = (stack.data.mean(axis=0) - args.offset) / args.gain
    save_panels(out / "preview.png", [("mean frame", mean, p), (f"COL0RME-{args.penalty.upper()} intensity",
                                      res.intensity, fine)], overwrite=ow)
    run_info = {
        "command": "reconstruct",
        "method": args.method,
        "pointillist_version": __version__,
        "input": {"path": str(args.stack), "sha256": file_sha256(args.stack), "shape": list(stack.data.shape),
                  "dtype": str(stack.data.dtype), "pixel_size_nm_in_file": stack.pixel_size_nm},
        **res.summary(),
    }
    write_json(out / "run.json", run_info, overwrite=ow)
    print(f"COL0RME-{args.penalty}: {int(res.support.sum())} support pixels, noise variance {res.noise_variance:.4g}, "
          f"lambda {res.lam:.3g} ({res.lambda_ratio:.3g} lambda_max), mu {res.mu:.3g}, {res.seconds:.1f} s -> {out}")
    return 0
