"""``pointillist reconstruct STACK.tif -o OUTDIR --method colorme|pnp-colorme ...``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.hashing import file_sha256
from .common import add_optics_options, add_run_options, optics_from_args, prepare_output_dir

METHODS = ("colorme", "pnp-colorme")


def register(sub) -> None:
    parser = sub.add_parser(
        "reconstruct", help="super-resolve a fluctuating stack (COL0RME, PnP-COL0RME)",
        description="Reconstruct a super-resolved image from a stack of fluctuating frames. Writes support.tif "
        "(fine grid, 1 on the support), intensity.tif (fine grid), background.tif (camera grid), run.json and "
        "preview.png into OUTDIR; pnp-colorme also writes convergence.png (objective G and relative change per "
        "iteration).")
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
                        help="support = r > threshold * max(r) (default 0, 0.3 for tv, 0.1 for pnp-colorme)")
    parser.add_argument("--mu", type=float, default=None,
                        help="colorme: intensity smoothness (default: discrepancy principle); pnp-colorme: denoiser "
                        "scaling mu, D(z) = D_sigma(mu z) / mu (default 0.7)")
    parser.add_argument("--intensity-mu", type=float, default=None, metavar="MU",
                        help="intensity smoothness for either method (default: discrepancy principle)")
    parser.add_argument("--beta", type=float, default=20.0, help="background smoothness (default 20)")
    parser.add_argument("--dp-mode", choices=("code", "statistical"), default="code",
                        help="discrepancy target: one frame's noise energy (code) or the mean image's (statistical)")
    parser.add_argument("--no-background", action="store_true", help="do not estimate a background")
    parser.add_argument("--tile-size", type=int, default=None, metavar="PX",
                        help="camera pixels per tile side for large fields (default 64)")
    parser.add_argument("--max-iter", type=int, default=None,
                        help="iteration cap of the support solver (default 3000; 2000 for pnp-colorme)")
    pnp = parser.add_argument_group("pnp-colorme")
    pnp.add_argument("--sigma", type=float, default=None,
                     help="denoiser noise level in units of 1/255 (default 10)")
    pnp.add_argument("--covariance", choices=("full", "diagonal"), default=None,
                     help="fit the full covariance or only the pixel variances (default: diagonal for --upsample 1, "
                     "as the talk's deconvolution setting; full otherwise)")
    pnp.add_argument("--weights", type=Path, default=None, help="denoiser checkpoint (default: the shipped one)")
    pnp.add_argument("--nonneg", action="store_true", help="clamp the iterates at 0 after the denoiser")
    add_run_options(parser)
    add_optics_options(parser)
    parser.set_defaults(func=run)


def _check_method_options(args) -> None:
    from ..errors import InputError

    if args.method == "colorme":
        given = [f"--{n}" for n in ("sigma", "covariance", "weights") if getattr(args, n) is not None]
        if args.nonneg:
            given.append("--nonneg")
        if given:
            raise InputError(f"{', '.join(given)} only apply to --method pnp-colorme")
        if args.mu is not None and args.intensity_mu is not None and args.mu != args.intensity_mu:
            raise InputError("--mu and --intensity-mu both set the intensity smoothness of colorme; give one")
    else:
        colorme_only = {"penalty": "cel0", "lambda_ratio": None, "cel0_solver": "irl1", "restarts": None}
        given = [f"--{k.replace('_', '-')}" for k, v in colorme_only.items() if getattr(args, k) != v]
        if given:
            raise InputError(f"{', '.join(given)} only apply to --method colorme")


def run(args: argparse.Namespace) -> int:
    _check_method_options(args)
    if args.method == "pnp-colorme":
        return _run_pnp(args)
    return _run_colorme(args)


def _write_common(args, stack, optics, res, out, label) -> None:
    from .. import __version__
    from ..figures import save_panels
    from ..io import write_json, write_tiff

    fine, p, ow = optics.fine_pixel_nm, optics.pixel_size_nm, args.overwrite
    write_tiff(out / "support.tif", res.support.astype("uint8"), pixel_size_nm=fine, overwrite=ow, dtype="uint8")
    write_tiff(out / "intensity.tif", res.intensity, pixel_size_nm=fine, overwrite=ow)
    write_tiff(out / "background.tif", res.background, pixel_size_nm=p, overwrite=ow)
    mean = (stack.data.mean(axis=0) - args.offset) / args.gain
    save_panels(out / "preview.png", [("mean frame", mean, p), (f"{label} intensity", res.intensity, fine)],
                overwrite=ow)
    run_info = {
        "command": "reconstruct",
        "method": args.method,
        "pointillist_version": __version__,
        "input": {"path": str(args.stack), "sha256": file_sha256(args.stack), "shape": list(stack.data.shape),
                  "dtype": str(stack.data.dtype), "pixel_size_nm_in_file": stack.pixel_size_nm},
        **res.summary(),
    }
    write_json(out / "run.json", run_info, overwrite=ow)


def _run_colorme(args: argparse.Namespace) -> int:
    from ..io import read_stack
    from ..methods.colorme import DEFAULT_TILE_SIZE, colorme

    stack = read_stack(args.stack)
    optics = optics_from_args(args, file_pixel_size_nm=stack.pixel_size_nm)
    out = prepare_output_dir(args.output, overwrite=args.overwrite)
    res = colorme(
        stack.data, optics=optics, penalty=args.penalty, lambda_ratio=args.lambda_ratio, algorithm=args.cel0_solver,
        restarts=args.restarts, threshold=args.threshold, mu=args.mu if args.mu is not None else args.intensity_mu,
        beta=args.beta, dp_mode=args.dp_mode, background=not args.no_background, offset=args.offset, gain=args.gain,
        tile_size=args.tile_size or DEFAULT_TILE_SIZE, max_iter=3000 if args.max_iter is None else args.max_iter,
        device=args.device,
        progress=not args.quiet,
    )
    _write_common(args, stack, optics, res, out, f"COL0RME-{args.penalty.upper()}")
    print(f"COL0RME-{args.penalty}: {int(res.support.sum())} support pixels, noise variance {res.noise_variance:.4g}, "
          f"lambda {res.lam:.3g} ({res.lambda_ratio:.3g} lambda_max), mu {res.mu:.3g}, {res.seconds:.1f} s -> {out}")
    return 0


def _run_pnp(args: argparse.Namespace) -> int:
    from ..figures import save_convergence
    from ..io import read_stack
    from ..methods.colorme import DEFAULT_TILE_SIZE
    from ..methods.pnp import DEFAULT_MU, DEFAULT_SIGMA, DEFAULT_THRESHOLD, pnp_colorme

    stack = read_stack(args.stack)
    optics = optics_from_args(args, file_pixel_size_nm=stack.pixel_size_nm)
    out = prepare_output_dir(args.output, overwrite=args.overwrite)
    mu = DEFAULT_MU if args.mu is None else args.mu
    sigma = DEFAULT_SIGMA if args.sigma is None else args.sigma
    res = pnp_colorme(
        stack.data, optics=optics, mu=mu, sigma=sigma, covariance=args.covariance,
        threshold=DEFAULT_THRESHOLD if args.threshold is None else args.threshold, weights=args.weights,
        nonneg=args.nonneg, intensity_mu=args.intensity_mu, beta=args.beta, dp_mode=args.dp_mode,
        background=not args.no_background, offset=args.offset, gain=args.gain,
        tile_size=args.tile_size or DEFAULT_TILE_SIZE, max_iter=2000 if args.max_iter is None else args.max_iter,
        device=args.device,
        progress=not args.quiet,
    )
    _write_common(args, stack, optics, res, out, "PnP-COL0RME")
    hist = res.history
    runs = [("support step", hist["support"]["objective"], hist["support"]["rel_change"])] if "support" in hist else \
        [(f"tile {i + 1}", h["objective"], h["rel_change"]) for i, h in enumerate(hist.get("tiles", []))]
    cov = res.parameters["covariance"]
    save_convergence(out / "convergence.png", runs, overwrite=args.overwrite,
                     title=f"PnP-COL0RME ({cov} covariance, q = {optics.upsample}, mu = {mu:g}, sigma = {sigma:g}/255)")
    decreasing = {True: "decreasing", False: "NOT monotone", None: "not monitored (--nonneg)"}[
        res.parameters["objective_decreasing"]]
    capped = "" if all(t.get("converged", True) for t in res.tiles) else " (not converged: --max-iter reached)"
    print(f"PnP-COL0RME ({cov} covariance): {int(res.support.sum())} support pixels, noise variance "
          f"{res.noise_variance:.4g}, mu {mu:g}, sigma {sigma:g}/255, {res.iterations} iterations{capped}, G {decreasing}, "
          f"{res.seconds:.1f} s -> {out}")
    return 0
