"""``pointillist train --method deepcel0|deepstorm|deepstorm-relu|gs-denoiser|lsparcom ... -o model.pt``."""

from __future__ import annotations

import argparse
from pathlib import Path

TRAIN_METHODS = ("deepcel0", "deepstorm", "deepstorm-relu", "gs-denoiser", "lsparcom")


def register(sub) -> None:
    """Add ``pointillist train`` to the sub-command parsers ``sub`` (see :mod:`pointillist.cli`)."""
    parser = sub.add_parser(
        "train", help="train a network on simulated data (SMLM networks, the PnP-COL0RME denoiser, LSPARCOM)",
        description="Train a network on data simulated for the given optics. Writes the best weights to "
        "-o model.pt and, beside it, model.json (resolved configuration and losses), model.log and "
        "model.resume.pt (to continue with --resume). SMLM networks train on 10,000 simulated patches as in the paper; the "
        "sub-pixel network (the default for deepcel0 and deepstorm-relu) takes 40 epochs by default (about 26 min on "
        "2 CPU cores; --epochs 100 is the paper's full schedule, under an hour), the paper's network 100 epochs "
        "(about 15 h on 2 CPU cores, minutes on a GPU). gs-denoiser trains the gradient-step DRUNet of "
        "PnP-COL0RME on simulated variance images (500 + 100 images, 200 epochs: about 35 min on 2 CPU cores). "
        "lsparcom trains the unfolded ISTA network on simulated fluctuation stacks for the given optics "
        "(960 + 64 stacks, 50 epochs: about 12 min on 2 CPU cores).")
    parser.add_argument("--method", choices=TRAIN_METHODS, required=True, help="network and loss to train")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="MODEL.pt", help="weights file")
    parser.add_argument("--architecture", choices=("deepstorm", "subpixel"), default=None,
                        help="SMLM networks: the paper's Deep-STORM network, or the sub-pixel network that runs on "
                        "the camera grid (default: deepstorm for --method deepstorm, subpixel otherwise)")
    g = parser.add_argument_group("optics (lengths in nm)")
    g.add_argument("--pixel-size", type=float, default=None, metavar="NM", help="camera pixel size (default 100)")
    g.add_argument("--psf-fwhm", type=float, default=None, metavar="NM", help="Gaussian PSF FWHM (default 258.21)")
    g.add_argument("--upsample", type=int, default=None, metavar="Q", help="super-resolution factor (default 4)")
    d = parser.add_argument_group("training data (simulated)")
    d.add_argument("--patches", type=int, default=None, help="training + validation patches (default 10000)")
    d.add_argument("--frames", type=int, default=None, help="simulated frames the patches are cut from (default 20)")
    d.add_argument("--patch-size", type=int, default=None, metavar="PX", help="patch side in camera pixels (default 26)")
    d.add_argument("--min-emitters", type=int, default=None, help="reject patches with fewer emitters (default 7)")
    d.add_argument("--density", type=float, default=None, help="emitters per um^2 per frame (default 6)")
    d.add_argument("--photons", type=float, default=None, help="mean photons per emitter (default 2250)")
    d.add_argument("--photons-std", type=float, default=None, help="std of photons per emitter (default 250)")
    d.add_argument("--background", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="background photons per pixel, uniform per frame (default 0 30)")
    d.add_argument("--snr", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="SNR in dB, uniform per frame (default 10 20: mean 15 dB as the paper); lsparcom: per "
                   "simulated stack, variance definition (default 8 25)")
    t = parser.add_argument_group("optimisation")
    t.add_argument("--epochs", type=int, default=None,
                   help="epochs (default 40 for the sub-pixel network, 100 for the paper's; 200 for gs-denoiser, 50 "
                   "for lsparcom)")
    t.add_argument("--batch-size", type=int, default=None, help="batch size (default 16; 8 for lsparcom)")
    t.add_argument("--lr", type=float, default=None,
                   help="initial Adam learning rate (default 1e-3)")
    t.add_argument("--lr-patience", type=int, default=None, help="epochs without improvement before lr x 0.1 (default 5)")
    t.add_argument("--val-fraction", type=float, default=None, help="validation share of the patches (default 0.3)")
    t.add_argument("--heat-scale", type=float, default=None, help="heat-map scale c (default 100)")
    t.add_argument("--l1-weight", type=float, default=None,
                   help="l1 weight of the Deep-STORM losses (default 1, and 10 for deepstorm-relu; lsparcom 1e-3)")
    t.add_argument("--cel0-lambda", type=float, default=None, help="lambda of the DeepCEL0 loss (default 100)")
    gs = parser.add_argument_group("gs-denoiser (PnP-COL0RME) and lsparcom")
    gs.add_argument("--images", type=int, default=None,
                    help="training images (default 500; lsparcom: 960 simulated stacks)")
    gs.add_argument("--val-images", type=int, default=None, help="validation images (default 100; lsparcom 64)")
    gs.add_argument("--image-size", type=int, default=None, metavar="PX",
                    help="simulated image side (default 96 grid pixels; lsparcom: 24 camera pixels)")
    gs.add_argument("--crop", type=int, default=None, metavar="PX", help="training crop side (default 32)")
    gs.add_argument("--sigma-max", type=float, default=None,
                    help="noise levels drawn in U(0, sigma_max/255) (default 50)")
    gs.add_argument("--prox-epochs", type=int, default=None,
                    help="Prox-PnP fine-tuning epochs with the Jacobian penalty after the GS stage (default 0)")
    gs.add_argument("--jacobian-weight", type=float, default=None, help="weight of the Jacobian penalty (default 1e-3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and of the training (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from model.resume.pt (raise --epochs to train longer)")
    parser.add_argument("--overwrite", action="store_true", help="replace the files of a previous run")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


#: each family's options: CLI name -> field of its configuration. Every one defaults to None, so an option of
#: another family is refused and the configuration's own default applies when an option is not given.
_OPTICS = {"pixel_size": "pixel_size_nm", "psf_fwhm": "psf_fwhm_nm", "upsample": "upsample"}
_SHARED = {"epochs": "epochs", "batch_size": "batch_size", "lr": "lr"}
_SMLM_DATA = {"patches": "n_patches", "frames": "n_frames", "patch_size": "patch", "min_emitters": "min_emitters",
              "density": "density_per_um2", "photons": "photons_mean", "photons_std": "photons_std",
              "background": "background_range", "snr": "snr_db_range"}
_SMLM = {**_OPTICS, **_SHARED, "architecture": "architecture", "lr_patience": "lr_patience", "val_fraction": "val_fraction",
         "heat_scale": "heat_scale", "l1_weight": "l1_weight", "cel0_lambda": "cel0_lambda"}
_GS = {**_SHARED, "images": "n_train", "val_images": "n_val", "crop": "crop", "sigma_max": "sigma_max",
       "prox_epochs": "prox_epochs", "jacobian_weight": "jacobian_weight"}
_LSPARCOM = {**_OPTICS, **_SHARED, "images": "n_train", "val_images": "n_val", "image_size": "image_size",
             "snr": "snr_db", "l1_weight": "l1_weight"}
_USES = {"gs-denoiser": {*_GS, "image_size"}, "lsparcom": set(_LSPARCOM)}
_SPECIFIC = set(_SMLM) | set(_SMLM_DATA) | _USES["gs-denoiser"] | _USES["lsparcom"]


def _check_family(args) -> None:
    from ..errors import InputError

    uses = _USES.get(args.method, set(_SMLM) | set(_SMLM_DATA))
    given = [f"--{k.replace('_', '-')}" for k in sorted(_SPECIFIC - uses) if getattr(args, k) is not None]
    if given:
        raise InputError(f"{', '.join(given)}: not used by --method {args.method}")


def _fields(args, names: dict) -> dict:
    """The given options among ``names`` as configuration fields (tuples for the two-value options)."""
    return {field: tuple(v) if isinstance(v, list) else v for opt, field in names.items()
            if (v := getattr(args, opt)) is not None}


def run(args: argparse.Namespace) -> int:
    """``pointillist train --method deepcel0 -o model.pt``: trains a network (deepcel0, deepstorm, deepstorm-relu,
    gs-denoiser, lsparcom) and writes its weights; returns the exit code (see :mod:`pointillist.cli`).
    """
    _check_family(args)
    if args.method == "gs-denoiser":
        return _run_denoiser(args)
    if args.method == "lsparcom":
        return _run_lsparcom(args)
    from ..methods.smlm.training import TrainingConfig, train_network
    from ..methods.smlm.training_data import PatchSettings

    config = TrainingConfig(method=args.method, data=PatchSettings(**_fields(args, _SMLM_DATA)),
                            **_fields(args, _SMLM), seed=args.seed)
    train_network(config, args.output, device=args.device, resume=args.resume, overwrite=args.overwrite,
                  progress=not args.quiet)
    return 0


def _run_denoiser(args: argparse.Namespace) -> int:
    from ..methods.pnp.training import DenoiserTrainingConfig, train_denoiser
    from ..methods.pnp.training_data import VarianceImageSettings

    images = {} if args.image_size is None else {"images": VarianceImageSettings(size=args.image_size)}
    config = DenoiserTrainingConfig(**_fields(args, _GS), **images, seed=args.seed)
    train_denoiser(config, args.output, device=args.device, resume=args.resume, overwrite=args.overwrite,
                   progress=not args.quiet)
    return 0


def _run_lsparcom(args: argparse.Namespace) -> int:
    from ..methods.baselines.lsparcom_training import LsparcomTrainingConfig, train_lsparcom

    config = LsparcomTrainingConfig(**_fields(args, _LSPARCOM), seed=args.seed)
    train_lsparcom(config, args.output, device=args.device, resume=args.resume, overwrite=args.overwrite,
                   progress=not args.quiet)
    return 0
