"""``pointillist simulate smlm|fluct|matirf OUTDIR``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_optics_options, add_overwrite_options, optics_from_args


def register(sub) -> None:
    """Add ``pointillist simulate`` to the sub-command parsers ``sub`` (see :mod:`pointillist.cli`)."""
    parser = sub.add_parser("simulate", help="simulate a stack with its ground truth",
                            description="Simulate an SMLM, a fluctuation or a multi-angle TIRF acquisition with "
                            "its ground truth.")
    kinds = parser.add_subparsers(dest="kind", metavar="{smlm,fluct,matirf}", required=True)
    smlm = kinds.add_parser("smlm", help="single-molecule localization stack (ground_truth.csv)",
                            description="Sparse activations per frame on a structure; writes stack.tif, "
                            "ground_truth.csv (ThunderSTORM CSV, nm), meta.json and preview.png.")
    fluct = kinds.add_parser("fluct", help="fluctuation stack (support.tif, mean_intensity.tif)",
                             description="Fixed emitters on the fine grid that blink independently; writes "
                             "stack.tif, support.tif, mean_intensity.tif, variance.tif (fine grid), meta.json "
                             "and preview.png.")
    matirf = kinds.add_parser("matirf", help="multi-angle TIRF fluctuation stacks (depth.tif, angles.csv)",
                              description="Blinking emitters in a thin layer above the coverslip (filaments with a "
                              "smooth depth along them, crossing at different depths), one fluctuation stack per "
                              "TIRF angle excited as I0(theta) exp(-z / d(theta)); writes angle_01.tif ..., "
                              "angles.csv, support.tif, depth.tif (nm, NaN off the support), brightness.tif, "
                              "volume.tif (20 nm depth bins, fine grid), meta.json and preview.png (depth "
                              "colour-coded).")
    all_structures = ("tubes", "filaments", "points", "rings")
    for p, frames, structure, structures in ((smlm, 361, "tubes", all_structures),
                                             (fluct, 500, "filaments", all_structures),
                                             (matirf, 500, "filaments", ("filaments", "tubes", "points"))):
        p.add_argument("outdir", type=Path, metavar="OUTDIR", help="output folder")
        p.add_argument("--frames", type=int, default=frames,
                       help=f"number of frames{' per angle' if p is matirf else ''} (default {frames})")
        p.add_argument("--size", type=int, nargs="+", default=[64], metavar="PX",
                       help="frame size in camera pixels: N for N x N, or ROWS COLS (default 64)")
        p.add_argument("--structure", choices=structures, default=structure,
                       help=f"emitter structure (default {structure}; tubes are 30 nm hollow tubes)")
        p.add_argument("--n-structures", type=int, default=None,
                       help="number of filaments/tubes/rings, or of points (default depends on the structure)")
        p.add_argument("--snr", type=float, default=None, metavar="DB",
                       help="target SNR in dB instead of the camera model (smlm: per frame, 10 log10 |clean|^2/|noise|^2; "
                       "fluct: 10 log10 var(clean)/var(noise)); the stack is then float32 photons")
        p.add_argument("--seed", type=int, default=None, help="random seed (default: a fresh one, recorded in meta.json)")
        cam = p.add_argument_group("camera")
        cam.add_argument("--background", type=float, default=None, metavar="PHOTONS",
                         help="background in photons per pixel per frame (default smlm 20, fluct 50; 0 with --snr)")
        cam.add_argument("--smooth-background", action="store_true", help="spatially smooth background (0.5x-1.5x)")
        cam.add_argument("--read-noise", type=float, default=None, metavar="E",
                         help="read noise std in electrons (default smlm 4.5, fluct 2)")
        cam.add_argument("--gain", type=float, default=1.0, help="camera gain in ADU per electron (default 1)")
        cam.add_argument("--offset", type=float, default=None, metavar="ADU",
                         help="camera baseline in ADU (default smlm 50, fluct 100)")
        add_overwrite_options(p)
        p.add_argument("--no-preview", action="store_true", help="do not write preview.png")
        add_optics_options(p)
    smlm.add_argument("--density", type=float, default=6.0, metavar="PER_UM2",
                      help="active emitters per um^2 per frame (default 6)")
    smlm.add_argument("--photons", type=float, default=2250.0, help="mean photons per emitter (default 2250)")
    smlm.add_argument("--photons-std", type=float, default=250.0, help="std of photons per emitter (default 250)")
    smlm.add_argument("--drift", type=float, default=None, metavar="NM",
                      help="stage drift: x grows linearly from 0 to NM over the frames, y is a sine of amplitude "
                      "NM / 2 over one period; the drift of every frame is in meta.json (drift_nm), the ground "
                      "truth is without it")
    for p in (fluct, matirf):
        p.add_argument("--on-probability", type=float, default=0.25,
                       help="probability an emitter is on in a frame (default 0.25)")
        p.add_argument("--brightness", type=float, default=500.0, metavar="PHOTONS",
                       help="photons per frame of an emitter that is on (default 500"
                       f"{'; at the coverslip under the most efficient angle' if p is matirf else ''})")
        p.add_argument("--blinking", choices=("bernoulli", "telegraph"), default="bernoulli",
                       help="independent per frame (bernoulli) or on/off process with exponential times (telegraph)")
        p.add_argument("--mean-on-frames", type=float, default=1.0,
                       help="mean on-time in frames (telegraph blinking only, default 1)")
    tirf = matirf.add_argument_group("TIRF excitation")
    tirf.add_argument("--angles", type=_angles_option, default=None, metavar="DEG,DEG,...",
                      help="incidence angles in degrees (default the 13 of the reference example, 62.6 to 69.8)")
    tirf.add_argument("--excitation-wavelength", type=float, default=491.0, metavar="NM",
                      help="excitation wavelength in nm (default 491)")
    tirf.add_argument("--n-glass", type=float, default=1.518, help="refractive index of the coverslip (default 1.518)")
    tirf.add_argument("--n-sample", type=float, default=1.34, help="refractive index of the sample (default 1.34)")
    tirf.add_argument("--depth-range", type=float, nargs=2, default=[0.0, 300.0], metavar=("LOW", "HIGH"),
                      help="the layer the emitters sit in, nm above the coverslip (default 0 300)")
    parser.set_defaults(func=run)


def _angles_option(text: str) -> tuple:
    """``--angles 62.6,65,69.8``: degrees, comma-separated."""
    try:
        return tuple(float(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected angles in degrees separated by commas, got {text!r}") from None


def _camera(args, defaults):
    from ..simulate import Camera

    background = args.background
    if background is None:
        background = 0.0 if args.snr is not None else defaults["background"]
    return Camera(
        background=background,
        background_kind="smooth" if args.smooth_background else "constant",
        read_noise=defaults["read_noise"] if args.read_noise is None else args.read_noise,
        gain=args.gain,
        offset=defaults["offset"] if args.offset is None else args.offset,
    )


def run(args: argparse.Namespace) -> int:
    """``pointillist simulate fluct OUT --seed 0``: simulates an SMLM or a fluctuation stack with its ground truth
    and writes them; returns the exit code (see :mod:`pointillist.cli`).
    """
    from ..figures import save_simulation_preview
    from ..io import write_simulation
    from ..io.output_folder import output_folder

    with output_folder(args.outdir, overwrite=args.overwrite, force=args.force_overwrite,
                       inputs=[args.psf] if args.psf else []) as stage:
        sim, _ = simulation(args)
        paths = write_simulation(sim, stage)
        if not args.no_preview:
            paths.append(save_simulation_preview(stage / "preview.png", sim))
    print(f"wrote {', '.join(p.name for p in paths)} to {args.outdir} (seed {sim.meta['seed']})")
    return 0


def simulation(args: argparse.Namespace) -> tuple:
    """The simulation of ``pointillist simulate KIND`` with options ``args``, in memory: ``(simulation, optics)``
    (also the napari plugin's entry: same defaults and messages as the command line)."""
    from ..errors import InputError

    if len(args.size) not in (1, 2):
        raise InputError(f"--size takes N or ROWS COLS, got {len(args.size)} numbers")
    optics = optics_from_args(args)
    try:
        return _simulate(args, optics, (args.size[0], args.size[-1])), optics
    except InputError as exc:  # the simulator names its parameters; say which option that is
        message = str(exc)
        for name, option in _OPTION_OF.items():
            if message.startswith(name + " "):
                message = option + message[len(name):]
        raise InputError(message) from None


#: the simulators' parameter names and the options that set them
_OPTION_OF = {"snr_db": "--snr", "density_per_um2": "--density", "photons_mean": "--photons",
              "photons_std": "--photons-std", "on_probability": "--on-probability", "brightness": "--brightness",
              "mean_on_frames": "--mean-on-frames", "n_structures": "--n-structures",
              "drift_nm": "--drift"}


def _drift(amplitude_nm, n_frames):
    """The drift of ``--drift``: (n_frames, 2) nm, or None."""
    if amplitude_nm is None:
        return None
    import numpy as np

    from ..errors import InputError

    if not (np.isfinite(amplitude_nm) and n_frames >= 1):
        raise InputError(f"--drift must be a finite number of nm, got {amplitude_nm}")
    t = np.arange(n_frames) / max(n_frames - 1, 1)
    return np.stack([amplitude_nm * t, 0.5 * amplitude_nm * np.sin(2 * np.pi * t)], axis=1)


def _simulate(args, optics, shape):
    from ..simulate import simulate_fluctuation, simulate_matirf, simulate_smlm

    if args.kind == "matirf":
        from ..tirf import DEFAULT_ANGLES_DEG, TIRFExcitation

        excitation = TIRFExcitation(args.angles or DEFAULT_ANGLES_DEG, wavelength_nm=args.excitation_wavelength,
                                    n_glass=args.n_glass, n_sample=args.n_sample)
        camera = _camera(args, {"background": 50.0, "read_noise": 2.0, "offset": 100.0})
        sim = simulate_matirf(optics=optics, excitation=excitation, shape=shape, n_frames=args.frames,
                              structure=args.structure, n_structures=args.n_structures,
                              depth_range_nm=args.depth_range, on_probability=args.on_probability,
                              brightness=args.brightness, blinking_model=args.blinking,
                              mean_on_frames=args.mean_on_frames, camera=camera, snr_db=args.snr, seed=args.seed)
    elif args.kind == "smlm":
        camera = _camera(args, {"background": 20.0, "read_noise": 4.5, "offset": 50.0})
        sim = simulate_smlm(optics=optics, shape=shape, n_frames=args.frames, density_per_um2=args.density,
                            structure=args.structure, n_structures=args.n_structures, photons_mean=args.photons,
                            photons_std=args.photons_std, camera=camera, snr_db=args.snr,
                            drift_nm=_drift(args.drift, args.frames), seed=args.seed)
    else:
        camera = _camera(args, {"background": 50.0, "read_noise": 2.0, "offset": 100.0})
        sim = simulate_fluctuation(optics=optics, shape=shape, n_frames=args.frames, structure=args.structure,
                                   n_structures=args.n_structures, on_probability=args.on_probability,
                                   brightness=args.brightness, blinking_model=args.blinking,
                                   mean_on_frames=args.mean_on_frames, camera=camera, snr_db=args.snr, seed=args.seed)
    return sim
