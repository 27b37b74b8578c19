"""``pointillist reconstruct STACK.tif -o OUTDIR --method colorme|pnp-colorme|sofi|srrf|sparcom|lsparcom ...``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import (add_optics_options, add_run_options, given, input_files, open_input, open_run_scheduler,
                     refuse_foreign_options, write_image)

METHODS = ("colorme", "pnp-colorme", "sofi", "srrf", "sparcom", "lsparcom")
_COV = ("colorme", "pnp-colorme")
#: the methods that read each method-specific option; each defaults to None (or False for a flag), so an
#: option given for another method is refused, and the library's own default applies when it is not given
OPTION_METHODS = {
    "penalty": ("colorme",), "lambda_ratio": ("colorme", "sparcom"), "cel0_solver": ("colorme",),
    "restarts": ("colorme",), "threshold": ("colorme", "pnp-colorme", "sparcom", "lsparcom"), "mu": _COV,
    "intensity_mu": _COV, "beta": _COV, "dp_mode": _COV, "no_background": _COV, "tile_size": _COV, "block_frames": _COV,
    "max_iter": ("colorme", "pnp-colorme", "sparcom"), "sigma": ("pnp-colorme",), "covariance": ("pnp-colorme",),
    "weights": ("pnp-colorme", "lsparcom"), "nonneg": ("pnp-colorme",), "shifts": ("pnp-colorme",),
    "order": ("sofi",), "cumulant": ("sofi",), "lag": ("sofi",), "balanced": ("sofi",),
    "ring_radius": ("srrf",), "axes": ("srrf",), "temporal": ("srrf",), "no_intensity_weighting": ("srrf",),
    "variant": ("srrf",), "sensitivity": ("srrf",), "threads": _COV, "workers": _COV, "scheduler": _COV,
}


def register(sub) -> None:
    """Add ``pointillist reconstruct`` to the sub-command parsers ``sub`` (see :mod:`pointillist.cli`)."""
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
    parser.add_argument("--penalty", choices=("cel0", "l1", "tv"), default=None,
                        help="COL0RME support regulariser (default cel0)")
    parser.add_argument("--lambda-ratio", type=float, default=None, metavar="R",
                        help="lambda as a fraction of lambda_max (colorme, sparcom; default: per method and penalty, "
                        "calibrated on simulations)")
    parser.add_argument("--cel0-solver", choices=("irl1", "fista"), default=None,
                        help="CEL0 solver: IRL1 as in the reference code (default) or FISTA with the CEL0 prox")
    parser.add_argument("--restarts", type=int, default=None,
                        help="CEL0 restarting strategy: extra runs between neighbouring support pixels, support = "
                        "union (default 0; 10 as the reference code: slower, slightly fuller supports)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="support = r > threshold * max(r) (default 0, 0.1 for tv and pnp-colorme, "
                        "0.2 for lsparcom, 0.05 for sparcom)")
    parser.add_argument("--mu", type=float, default=None,
                        help="colorme: intensity smoothness (default: discrepancy principle); pnp-colorme: denoiser "
                        "scaling mu, D(z) = D_sigma(mu z) / mu (default 0.7)")
    parser.add_argument("--intensity-mu", type=float, default=None, metavar="MU",
                        help="intensity smoothness for either method (default: discrepancy principle)")
    parser.add_argument("--beta", type=float, default=None, help="background smoothness (default 20)")
    parser.add_argument("--dp-mode", choices=("code", "statistical"), default=None,
                        help="discrepancy target: one frame's noise energy (code) or the mean image's (statistical)")
    parser.add_argument("--no-background", action="store_true", help="do not estimate a background")
    parser.add_argument("--tile-size", type=int, default=None, metavar="PX",
                        help="camera pixels per tile side for large fields (default 64)")
    parser.add_argument("--block-frames", type=int, default=None, metavar="N",
                        help="colorme, pnp-colorme: pool the covariance over blocks of N frames, each centred on its "
                        "own mean, against bleaching and drifts (default 100; 0: the whole stack)")
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
    pnp.add_argument("--shifts", type=int, default=None, metavar="N",
                     help="average the denoiser over N x N circular shifts (default 2: no alternating bright and dim "
                     "pixels along structures, and a converging accelerated solver; 1: the network alone)")
    sofi = parser.add_argument_group("sofi")
    sofi.add_argument("--order", type=int, choices=(2, 3, 4), default=None, help="cumulant order (default 2)")
    sofi.add_argument("--cumulant", choices=("xc", "ac"), default=None,
                      help="order 2: cross-cumulants on the virtual-pixel grid (xc, default) or auto-cumulants (ac)")
    sofi.add_argument("--lag", type=int, default=None, help="time lag in frames (default 0)")
    sofi.add_argument("--balanced", action="store_true",
                      help="balanced SOFI: linearised 4th-order image, on-ratio and brightness maps")
    srrf = parser.add_argument_group("srrf")
    srrf.add_argument("--variant", choices=("srrf", "esrrf"), default=None,
                      help="radiality on a ring (srrf, default) or the eSRRF-like weighted neighbourhood")
    srrf.add_argument("--ring-radius", type=float, default=None, metavar="PX",
                      help="ring radius in camera pixels (default 0.5; esrrf: the FWHM of the distance weighting in "
                      "camera pixels, default 1.5)")
    srrf.add_argument("--axes", type=int, default=None, help="ring axes: 2 x axes points (default 6)")
    srrf.add_argument("--temporal", choices=("avg", "var", "tac2"), default=None,
                      help="temporal analysis of the radiality (default avg)")
    srrf.add_argument("--no-intensity-weighting", action="store_true", help="do not weight by the intensity")
    srrf.add_argument("--sensitivity", type=float, default=None, help="esrrf: radiality exponent (default 1)")
    add_run_options(parser)
    add_optics_options(parser)
    parser.set_defaults(func=run)


def _check_method_options(args) -> None:
    from ..errors import InputError

    refuse_foreign_options(args, OPTION_METHODS, METHODS)
    if args.method == "colorme" and args.mu is not None and args.intensity_mu is not None \
            and args.mu != args.intensity_mu:
        raise InputError("--mu and --intensity-mu both set the intensity smoothness of colorme; give one")


_IMAGE_MEANING = {
    "colorme": "mean emitted intensity per frame on the support (photons after --offset/--gain)",
    "pnp-colorme": "mean emitted intensity per frame on the support (photons after --offset/--gain)",
    "sofi": "SOFI cumulant image (not linear in the intensity)",
    "bsofi": "balanced SOFI: the 4th-order cumulant image linearised (4th root after deconvolution)",
    "srrf": "SRRF radiality map (not linear in the intensity)",
    "sparcom": "emitters' temporal variance (photons^2 per frame after --offset/--gain)",
    "lsparcom": "emitters' temporal variance (photons^2 per frame after --offset/--gain)",
}


def run(args: argparse.Namespace) -> int:
    """``pointillist reconstruct STACK.tif -o OUT --method colorme``: reconstructs a fluctuating stack and writes
    support.tif / intensity.tif / background.tif, run.json and previews; returns the exit code (see
    :mod:`pointillist.cli`).
    """
    from ..io.output_folder import output_folder

    _check_method_options(args)
    acq, optics = open_input(args)
    net = _network(args, optics)  # weights made for other optics are refused before anything is written
    with output_folder(args.output, overwrite=args.overwrite, force=args.force_overwrite,
                       inputs=input_files(args)) as stage:
        with open_run_scheduler(args) as scheduler:
            res, label = _reconstruct(args, acq, optics, net, scheduler)
        _write_outputs(args, acq, optics, res, stage, label)
    print(_summary_line(args, res, label, optics, args.output))
    return 0


def compute(args: argparse.Namespace, acq, optics) -> tuple:
    """What ``pointillist reconstruct`` computes from options ``args``, without files: ``(result, label)``.

    The napari plugin's entry: the same option checks, defaults and library calls as the command line, on an
    ``Acquisition`` and ``Optics`` made by :func:`~pointillist.cli.common.open_input`.
    """
    _check_method_options(args)
    net = _network(args, optics)
    with open_run_scheduler(args) as scheduler:
        return _reconstruct(args, acq, optics, net, scheduler)


def _network(args, optics):
    """LSPARCOM's network (checked against the optics), None for the other methods."""
    if args.method != "lsparcom":
        return None
    from ..io.weights import check_weights_optics
    from ..methods.baselines.lsparcom import load_lsparcom

    net = load_lsparcom(args.weights, device=args.device)
    check_weights_optics(net.record, optics, force_option=None)
    return net


def _covariance_options(args) -> dict:
    """Options of colorme and pnp-colorme (the intensity step and tiles), as the library names them."""
    kw = given(args, ("beta", "dp_mode", "tile_size", "max_iter", "threshold"))
    if args.no_background:
        kw["background"] = False
    if args.block_frames is not None:
        kw["block_frames"] = args.block_frames or None
    return kw


def _reconstruct(args, acq, optics, net, scheduler):
    from ..methods import baselines

    common = dict(optics=optics, device=args.device, progress=not args.quiet)
    if args.method == "colorme":
        from ..methods.colorme import colorme

        mu = args.mu if args.mu is not None else args.intensity_mu
        res = colorme(acq, mu=mu, **given(args, ("penalty", "lambda_ratio", "restarts")),
                      **({"algorithm": args.cel0_solver} if args.cel0_solver else {}), **_covariance_options(args),
                      scheduler=scheduler, **common)
        label = f"COL0RME-{res.penalty.upper()}"
    elif args.method == "pnp-colorme":
        from ..methods.pnp import pnp_colorme

        res = pnp_colorme(acq, **given(args, ("mu", "sigma", "covariance", "weights", "intensity_mu", "shifts")),
                          nonneg=args.nonneg, **_covariance_options(args), scheduler=scheduler, **common)
        label = "PnP-COL0RME"
    elif args.method == "sofi":
        res = baselines.sofi(acq, **given(args, ("order", "lag")), **({"mode": args.cumulant} if args.cumulant else {}),
                             balanced=args.balanced, **common)
        p = res.parameters
        label = "bSOFI (linearised order 4)" if args.balanced else f"SOFI order {p['order']} ({p['mode']})"
    elif args.method == "srrf":
        res = baselines.srrf(acq, **given(args, ("ring_radius", "axes", "temporal", "variant", "sensitivity")),
                             intensity_weighting=not args.no_intensity_weighting, **common)
        p = res.parameters
        label = f"{'eSRRF-like' if p['variant'] == 'esrrf' else 'SRRF'} ({p['temporal']})"
    elif args.method == "sparcom":
        res = baselines.sparcom(acq, **given(args, ("lambda_ratio", "threshold", "max_iter")), **common)
        label = "SPARCOM"
    else:
        res = baselines.lsparcom(acq, weights=net, **given(args, ("threshold",)), **common)
        label = "LSPARCOM"
    return res, label


def _write_outputs(args, acq, optics, res, out, label) -> None:
    from ..figures import save_convergence, save_panels
    from ..io.run_record import write_run_record

    fine, p = optics.fine_pixel_nm, optics.pixel_size_nm
    support = getattr(res, "support", None)
    if support is not None:
        write_image(out, "support", support.astype("uint8"), pixel_size_nm=fine, fmt=args.format, dtype="uint8")
    image_file = write_image(out, "intensity", res.image, pixel_size_nm=fine, fmt=args.format)
    if args.method in _COV:
        write_image(out, "background", res.background, pixel_size_nm=p, fmt=args.format)
    # the mean frame comes from the method's own pass over the frames (no second read of the stack)
    title = f"{label} intensity" if args.method in _COV else label
    save_panels(out / "preview.png", [("mean frame", res.mean, p), (title, res.image, fine)])
    if args.method == "pnp-colorme":
        hist = res.history
        runs = [("support step", hist["support"]["objective"], hist["support"]["rel_change"])] \
            if "support" in hist else [(f"tile {i + 1}", h["objective"], h["rel_change"])
                                       for i, h in enumerate(hist.get("tiles", []))]
        den = res.parameters["denoiser"]
        save_convergence(out / "convergence.png", runs,
                         title=f"PnP-COL0RME ({res.parameters['covariance']} covariance, q = {optics.upsample}, "
                         f"mu = {den['mu']:g}, sigma = {den['sigma']:g}/255)")
    elif args.method == "sparcom":
        save_convergence(out / "convergence.png", [("FISTA", res.history["objective"], res.history["rel_change"])],
                         title=f"{label}: objective and relative change")
    meaning = _IMAGE_MEANING["bsofi" if args.method == "sofi" and args.balanced else args.method]
    write_run_record(out / "run.json", command="reconstruct", acquisition=acq, result=res,
                     method=args.method, image=f"{image_file}: {meaning}")


def _summary_line(args, res, label, optics, out) -> str:
    if args.method == "colorme":
        return (f"COL0RME-{res.penalty}: {int(res.support.sum())} support pixels, noise variance "
                f"{res.noise_variance:.4g}, lambda {res.lam:.3g} ({res.lambda_ratio:.3g} lambda_max), mu {res.mu:.3g}, "
                f"{res.seconds:.1f} s -> {out}")
    if args.method == "pnp-colorme":
        den = res.parameters["denoiser"]
        decreasing = {True: "decreasing", False: "NOT monotone", None: "not monitored (--nonneg)"}[
            res.parameters["objective_decreasing"]]
        capped = "" if all(t.get("converged", True) for t in res.tiles) else " (not converged: --max-iter reached)"
        return (f"PnP-COL0RME ({res.parameters['covariance']} covariance): {int(res.support.sum())} support pixels, "
                f"noise variance {res.noise_variance:.4g}, mu {den['mu']:g}, sigma {den['sigma']:g}/255, "
                f"{res.iterations} iterations{capped}, G {decreasing}, {res.seconds:.1f} s -> {out}")
    extra = f", {int(res.support.sum())} support pixels" if res.support is not None else ""
    return (f"{label}: {res.image.shape[0]} x {res.image.shape[1]} fine pixels of {optics.fine_pixel_nm:g} nm{extra}, "
            f"{res.seconds:.2f} s -> {out}")
