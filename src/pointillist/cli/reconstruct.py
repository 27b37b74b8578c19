"""``pointillist reconstruct STACK.tif -o OUTDIR --method colorme|pnp-colorme|sofi|srrf|sparcom|lsparcom ...``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.hashing import file_sha256
from .common import add_optics_options, add_run_options, optics_from_args, prepare_output_dir

METHODS = ("colorme", "pnp-colorme", "sofi", "srrf", "sparcom", "lsparcom")
BASELINES = ("sofi", "srrf", "sparcom", "lsparcom")
_DEFAULTS: dict = {}
_COV = ("colorme", "pnp-colorme")
#: the methods that read each method-specific option (a non-default value for another method is an error)
_OPTION_METHODS = {
    "penalty": ("colorme",), "lambda_ratio": ("colorme", "sparcom"), "cel0_solver": ("colorme",),
    "restarts": ("colorme",), "threshold": ("colorme", "pnp-colorme", "sparcom", "lsparcom"), "mu": _COV,
    "intensity_mu": _COV, "beta": _COV, "dp_mode": _COV, "no_background": _COV, "tile_size": _COV,
    "max_iter": ("colorme", "pnp-colorme", "sparcom"), "sigma": ("pnp-colorme",), "covariance": ("pnp-colorme",),
    "weights": ("pnp-colorme", "lsparcom"), "nonneg": ("pnp-colorme",),
    "order": ("sofi",), "cumulant": ("sofi",), "lag": ("sofi",), "balanced": ("sofi",),
    "ring_radius": ("srrf",), "axes": ("srrf",), "temporal": ("srrf",), "no_intensity_weighting": ("srrf",),
    "variant": ("srrf",), "sensitivity": ("srrf",),
}


def register(sub) -> None:
    parser = sub.add_parser(
        "reconstruct", help="super-resolve a fluctuating stack (COL0RME, PnP-COL0RME, SOFI, SRRF, SPARCOM, LSPARCOM)",
        description="Reconstruct a super-resolved image from a stack of fluctuating frames. colorme and "
        "pnp-colorme write support.tif (fine grid, 1 on the support), intensity.tif (fine grid), background.tif "
        "(camera grid), run.json and preview.png into OUTDIR; pnp-colorme also writes convergence.png (objective G "
        "and relative change per iteration). The baselines sofi, srrf, sparcom and lsparcom write intensity.tif "
        "(fine grid; run.json says what it holds), run.json and preview.png, plus support.tif for sparcom and "
        "lsparcom and convergence.png for sparcom.")
    parser.add_argument("stack", type=Path, metavar="STACK.tif", help="TIFF stack (frames, rows, columns)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR", help="output folder")
    parser.add_argument("--method", choices=METHODS, default="colorme", help="reconstruction method (default colorme)")
    parser.add_argument("--penalty", choices=("cel0", "l1", "tv"), default="cel0",
                        help="COL0RME support regulariser (default cel0)")
    parser.add_argument("--lambda-ratio", type=float, default=None, metavar="R",
                        help="lambda as a fraction of lambda_max (colorme, sparcom; default: per method and penalty, "
                        "calibrated on simulations)")
    parser.add_argument("--cel0-solver", choices=("irl1", "fista"), default="irl1",
                        help="CEL0 solver: IRL1 as in the reference code (default) or FISTA with the CEL0 prox")
    parser.add_argument("--restarts", type=int, default=None,
                        help="CEL0 restarting strategy: extra runs between neighbouring support pixels, support = "
                        "union (default 0; 10 as the reference code: slower, slightly fuller supports)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="support = r > threshold * max(r) (default 0, 0.3 for tv, 0.1 for pnp-colorme, "
                        "0.2 for lsparcom, 0.05 for sparcom)")
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
                        help="iteration cap of the support solver (default 3000; 2000 for pnp-colorme, 400 for "
                        "sparcom)")
    pnp = parser.add_argument_group("pnp-colorme")
    pnp.add_argument("--sigma", type=float, default=None,
                     help="denoiser noise level in units of 1/255 (default 10)")
    pnp.add_argument("--covariance", choices=("full", "diagonal"), default=None,
                     help="fit the full covariance or only the pixel variances (default: diagonal for --upsample 1, "
                     "as the talk's deconvolution setting; full otherwise)")
    pnp.add_argument("--weights", type=Path, default=None,
                     help="pnp-colorme: denoiser checkpoint; lsparcom: network weights (default: the shipped ones)")
    pnp.add_argument("--nonneg", action="store_true", help="clamp the iterates at 0 after the denoiser")
    sofi = parser.add_argument_group("sofi")
    sofi.add_argument("--order", type=int, choices=(2, 3, 4), default=2, help="cumulant order (default 2)")
    sofi.add_argument("--cumulant", choices=("xc", "ac"), default="xc",
                      help="order 2: cross-cumulants on the virtual-pixel grid (xc, default) or auto-cumulants (ac)")
    sofi.add_argument("--lag", type=int, default=0, help="time lag in frames (default 0)")
    sofi.add_argument("--balanced", action="store_true",
                      help="balanced SOFI: linearised 4th-order image, on-ratio and brightness maps")
    srrf = parser.add_argument_group("srrf")
    srrf.add_argument("--variant", choices=("srrf", "esrrf"), default="srrf",
                      help="radiality on a ring (srrf, default) or the eSRRF-like weighted neighbourhood")
    srrf.add_argument("--ring-radius", type=float, default=None, metavar="PX",
                      help="ring radius in camera pixels (default 0.5; esrrf: the FWHM of the distance weighting in "
                      "camera pixels, default 1.5)")
    srrf.add_argument("--axes", type=int, default=6, help="ring axes: 2 x axes points (default 6)")
    srrf.add_argument("--temporal", choices=("avg", "var", "tac2"), default="avg",
                      help="temporal analysis of the radiality (default avg)")
    srrf.add_argument("--no-intensity-weighting", action="store_true", help="do not weight by the intensity")
    srrf.add_argument("--sensitivity", type=float, default=1.0, help="esrrf: radiality exponent (default 1)")
    add_run_options(parser)
    add_optics_options(parser)
    parser.set_defaults(func=run)
    _DEFAULTS.update({a.dest: a.default for a in parser._actions})


def _check_method_options(args) -> None:
    from ..errors import InputError

    foreign = [k for k, methods in _OPTION_METHODS.items()
               if args.method not in methods and getattr(args, k) != _DEFAULTS.get(k)]
    if foreign:
        uses = sorted({m for k in foreign for m in _OPTION_METHODS[k]}, key=METHODS.index)
        raise InputError(f"{', '.join('--' + k.replace('_', '-') for k in foreign)}: not used by --method "
                         f"{args.method} (only by {', '.join(uses)})")
    if args.method == "colorme" and args.mu is not None and args.intensity_mu is not None \
            and args.mu != args.intensity_mu:
        raise InputError("--mu and --intensity-mu both set the intensity smoothness of colorme; give one")


#: the files each method writes into OUTDIR; with --overwrite, those of the list that another method left there
#: are removed, so that a folder never mixes two runs
_OUTPUTS = {
    "colorme": ("support.tif", "intensity.tif", "background.tif", "preview.png", "run.json"),
    "pnp-colorme": ("support.tif", "intensity.tif", "background.tif", "preview.png", "convergence.png", "run.json"),
    "sofi": ("intensity.tif", "preview.png", "run.json"),
    "srrf": ("intensity.tif", "preview.png", "run.json"),
    "sparcom": ("support.tif", "intensity.tif", "preview.png", "convergence.png", "run.json"),
    "lsparcom": ("support.tif", "intensity.tif", "preview.png", "run.json"),
}


def run(args: argparse.Namespace) -> int:
    _check_method_options(args)
    runner = _run_pnp if args.method == "pnp-colorme" else _run_baseline if args.method in BASELINES else _run_colorme
    created = not Path(args.output).exists()
    try:
        code = runner(args)
    except BaseException:
        # a run refused after its folder was made leaves nothing behind
        if created and Path(args.output).is_dir() and not any(Path(args.output).iterdir()):
            Path(args.output).rmdir()
        raise
    others = {name for names in _OUTPUTS.values() for name in names} - set(_OUTPUTS[args.method])
    for name in sorted(others):
        if (Path(args.output) / name).is_file():
            (Path(args.output) / name).unlink()
            print(f"removed {name}, left by an earlier run of another method")
    return code


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


def _run_baseline(args: argparse.Namespace) -> int:
    from .. import __version__
    from ..figures import save_convergence, save_panels
    from ..io import read_stack, write_json, write_tiff
    from ..methods import baselines

    stack = read_stack(args.stack)
    optics = optics_from_args(args, file_pixel_size_nm=stack.pixel_size_nm)
    net = None
    if args.method == "lsparcom":  # refuse weights made for other optics before anything is written
        from ..methods.baselines.lsparcom import check_trained_optics, load_lsparcom

        net = load_lsparcom(args.weights, device=args.device)
        check_trained_optics(net, optics)
    out = prepare_output_dir(args.output, overwrite=args.overwrite)
    common = dict(optics=optics, offset=args.offset, gain=args.gain, device=args.device, progress=not args.quiet)
    data = stack.data
    if args.method == "sofi":
        res = baselines.sofi(data, order=args.order, mode=args.cumulant, lag=args.lag, balanced=args.balanced,
                             **common)
        label = "bSOFI (linearised order 4)" if args.balanced else f"SOFI order {args.order} ({args.cumulant})"
    elif args.method == "srrf":
        res = baselines.srrf(data, ring_radius=args.ring_radius, axes=args.axes, temporal=args.temporal,
                             intensity_weighting=not args.no_intensity_weighting, variant=args.variant,
                             sensitivity=args.sensitivity, **common)
        label = f"{'eSRRF-like' if args.variant == 'esrrf' else 'SRRF'} ({args.temporal})"
    elif args.method == "sparcom":
        kw = {} if args.threshold is None else {"threshold": args.threshold}
        if args.max_iter is not None:
            kw["max_iter"] = args.max_iter
        res = baselines.sparcom(data, lambda_ratio=args.lambda_ratio, **kw, **common)
        label = "SPARCOM"
    else:
        kw = {} if args.threshold is None else {"threshold": args.threshold}
        res = baselines.lsparcom(data, weights=net, **kw, **common)
        label = "LSPARCOM"
    fine, p, ow = optics.fine_pixel_nm, optics.pixel_size_nm, args.overwrite
    if res.support is not None:
        write_tiff(out / "support.tif", res.support.astype("uint8"), pixel_size_nm=fine, overwrite=ow, dtype="uint8")
    write_tiff(out / "intensity.tif", res.image, pixel_size_nm=fine, overwrite=ow)
    mean = (data.mean(axis=0) - args.offset) / args.gain
    save_panels(out / "preview.png", [("mean frame", mean, p), (label, res.image, fine)], overwrite=ow)
    if args.method == "sparcom":
        save_convergence(out / "convergence.png", [("FISTA", res.history["objective"], res.history["rel_change"])],
                         overwrite=ow, title=f"{label}: objective and relative change")
    write_json(out / "run.json", {
        "command": "reconstruct", "method": args.method, "pointillist_version": __version__,
        "input": {"path": str(args.stack), "sha256": file_sha256(args.stack), "shape": list(data.shape),
                  "dtype": str(data.dtype), "pixel_size_nm_in_file": stack.pixel_size_nm},
        "image": "intensity.tif: " + _IMAGE_MEANING["bsofi" if args.balanced else args.method],
        **res.summary(),
    }, overwrite=ow)
    extra = f", {int(res.support.sum())} support pixels" if res.support is not None else ""
    print(f"{label}: {res.image.shape[0]} x {res.image.shape[1]} fine pixels of {fine:g} nm{extra}, "
          f"{res.seconds:.2f} s -> {out}")
    return 0


_IMAGE_MEANING = {
    "sofi": "SOFI cumulant image (not linear in the intensity)",
    "bsofi": "balanced SOFI: the 4th-order cumulant image linearised (4th root after deconvolution)",
    "srrf": "SRRF radiality map (not linear in the intensity)",
    "sparcom": "emitters' temporal variance (photons^2 per frame after --offset/--gain)",
    "lsparcom": "emitters' temporal variance (photons^2 per frame after --offset/--gain)",
}
