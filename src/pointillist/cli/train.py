"""``pointillist train --method deepcel0|deepstorm|deepstorm-relu|gs-denoiser|lsparcom ... -o model.pt``."""

from __future__ import annotations

import argparse
from pathlib import Path

TRAIN_METHODS = ("deepcel0", "deepstorm", "deepstorm-relu", "gs-denoiser", "lsparcom")
_DEFAULTS: dict = {}


def register(sub) -> None:
    parser = sub.add_parser(
        "train", help="train a network on simulated data (SMLM networks, the PnP-COL0RME denoiser, LSPARCOM)",
        description="Train a network on data simulated for the given optics. Writes the best weights to "
        "-o model.pt and, beside it, model.json (resolved configuration and losses), model.log and "
        "model.resume.pt (to continue with --resume). SMLM defaults are the paper's schedule (100 epochs of "
        "10,000 patches): hours on a CPU, minutes on a GPU. gs-denoiser trains the gradient-step DRUNet of "
        "PnP-COL0RME on simulated variance images (500 + 100 images, 200 epochs: about 35 min on 2 CPU cores). "
        "lsparcom trains the unfolded ISTA network on simulated fluctuation stacks for the given optics "
        "(960 + 64 stacks, 50 epochs: about 12 min on 2 CPU cores).")
    parser.add_argument("--method", choices=TRAIN_METHODS, required=True, help="network and loss to train")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="MODEL.pt", help="weights file")
    g = parser.add_argument_group("optics (lengths in nm)")
    g.add_argument("--pixel-size", type=float, default=100.0, metavar="NM", help="camera pixel size (default 100)")
    g.add_argument("--psf-fwhm", type=float, default=258.21, metavar="NM", help="Gaussian PSF FWHM (default 258.21)")
    g.add_argument("--upsample", type=int, default=4, metavar="Q", help="super-resolution factor (default 4)")
    d = parser.add_argument_group("training data (simulated)")
    d.add_argument("--patches", type=int, default=10000, help="training + validation patches (default 10000)")
    d.add_argument("--frames", type=int, default=20, help="simulated frames the patches are cut from (default 20)")
    d.add_argument("--patch-size", type=int, default=26, metavar="PX", help="patch side in camera pixels (default 26)")
    d.add_argument("--min-emitters", type=int, default=7, help="reject patches with fewer emitters (default 7)")
    d.add_argument("--density", type=float, default=6.0, help="emitters per um^2 per frame (default 6)")
    d.add_argument("--photons", type=float, default=2250.0, help="mean photons per emitter (default 2250)")
    d.add_argument("--photons-std", type=float, default=250.0, help="std of photons per emitter (default 250)")
    d.add_argument("--background", type=float, nargs=2, default=(0.0, 30.0), metavar=("LOW", "HIGH"),
                   help="background photons per pixel, uniform per frame (default 0 30)")
    d.add_argument("--snr", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="SNR in dB, uniform per frame (default 10 20: mean 15 dB as the paper); lsparcom: per "
                   "simulated stack, variance definition (default 8 25)")
    t = parser.add_argument_group("optimisation")
    t.add_argument("--epochs", type=int, default=None,
                   help="epochs (default 100; 200 for gs-denoiser, 50 for lsparcom)")
    t.add_argument("--batch-size", type=int, default=None, help="batch size (default 16; 8 for lsparcom)")
    t.add_argument("--lr", type=float, default=None,
                   help="initial Adam learning rate (default 1e-3)")
    t.add_argument("--lr-patience", type=int, default=5, help="epochs without improvement before lr x 0.1 (default 5)")
    t.add_argument("--val-fraction", type=float, default=0.3, help="validation share of the patches (default 0.3)")
    t.add_argument("--heat-scale", type=float, default=100.0, help="heat-map scale c (default 100)")
    t.add_argument("--l1-weight", type=float, default=None,
                   help="l1 weight of the Deep-STORM losses (default 1, and 10 for deepstorm-relu; lsparcom 1e-3)")
    t.add_argument("--cel0-lambda", type=float, default=100.0, help="lambda of the DeepCEL0 loss (default 100)")
    gs = parser.add_argument_group("gs-denoiser (PnP-COL0RME) and lsparcom")
    gs.add_argument("--images", type=int, default=None,
                    help="training images (default 500; lsparcom: 960 simulated stacks)")
    gs.add_argument("--val-images", type=int, default=None, help="validation images (default 100; lsparcom 64)")
    gs.add_argument("--image-size", type=int, default=None, metavar="PX",
                    help="simulated image side (default 96 grid pixels; lsparcom: 24 camera pixels)")
    gs.add_argument("--crop", type=int, default=32, metavar="PX", help="training crop side (default 32)")
    gs.add_argument("--sigma-max", type=float, default=50.0,
                    help="noise levels drawn in U(0, sigma_max/255) (default 50)")
    gs.add_argument("--prox-epochs", type=int, default=0,
                    help="Prox-PnP fine-tuning epochs with the Jacobian penalty after the GS stage (default 0)")
    gs.add_argument("--jacobian-weight", type=float, default=1e-3, help="weight of the Jacobian penalty (default 1e-3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and of the training (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from model.resume.pt (raise --epochs to train longer)")
    parser.add_argument("--overwrite", action="store_true", help="replace the files of a previous run")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    _DEFAULTS.update({a.dest: a.default for a in parser._actions})


#: the options each method reads besides the shared ones (a non-default value of any other is an error)
_OPTICS = ("pixel_size", "psf_fwhm", "upsample")
_SMLM = (*_OPTICS, "patches", "frames", "patch_size", "min_emitters", "density", "photons", "photons_std",
         "background", "snr", "lr_patience", "val_fraction", "heat_scale", "l1_weight", "cel0_lambda")
_GS = ("images", "val_images", "image_size", "crop", "sigma_max", "prox_epochs", "jacobian_weight")
_LSPARCOM = (*_OPTICS, "images", "val_images", "image_size", "snr", "l1_weight")
_USES = {"gs-denoiser": _GS, "lsparcom": _LSPARCOM}
_SPECIFIC = set(_SMLM) | set(_GS) | set(_LSPARCOM)


def _check_family(args, parser_defaults) -> None:
    from ..errors import InputError

    uses = set(_USES.get(args.method, _SMLM))
    given = [f"--{k.replace('_', '-')}" for k in sorted(_SPECIFIC - uses) if getattr(args, k) != parser_defaults[k]]
    if given:
        raise InputError(f"{', '.join(given)}: not used by --method {args.method}")


def _given(value, default):
    return default if value is None else value


def run(args: argparse.Namespace) -> int:
    _check_family(args, _DEFAULTS)
    if args.method == "gs-denoiser":
        return _run_denoiser(args)
    if args.method == "lsparcom":
        return _run_lsparcom(args)
    from ..methods.smlm.training import TrainingConfig, train_network
    from ..methods.smlm.training_data import PatchSettings

    data = PatchSettings(
        n_patches=args.patches, n_frames=args.frames, patch=args.patch_size, min_emitters=args.min_emitters,
        density_per_um2=args.density, photons_mean=args.photons, photons_std=args.photons_std,
        background_range=tuple(args.background), snr_db_range=tuple(_given(args.snr, (10.0, 20.0))))
    config = TrainingConfig(
        method=args.method, pixel_size_nm=args.pixel_size, psf_fwhm_nm=args.psf_fwhm, upsample=args.upsample,
        data=data, epochs=_given(args.epochs, 100), batch_size=_given(args.batch_size, 16),
        lr=1e-3 if args.lr is None else args.lr, lr_patience=args.lr_patience,
        val_fraction=args.val_fraction, heat_scale=args.heat_scale, l1_weight=args.l1_weight,
        cel0_lambda=args.cel0_lambda, seed=args.seed)
    train_network(config, args.output, device=args.device, resume=args.resume, overwrite=args.overwrite,
                  progress=not args.quiet)
    return 0


def _run_denoiser(args: argparse.Namespace) -> int:
    from ..methods.pnp.training import DenoiserTrainingConfig, train_denoiser
    from ..methods.pnp.training_data import VarianceImageSettings

    config = DenoiserTrainingConfig(
        n_train=_given(args.images, 500), n_val=_given(args.val_images, 100),
        images=VarianceImageSettings(size=_given(args.image_size, 96)),
        crop=args.crop, epochs=_given(args.epochs, 200), batch_size=_given(args.batch_size, 16),
        lr=1e-3 if args.lr is None else args.lr,
        sigma_max=args.sigma_max, prox_epochs=args.prox_epochs, jacobian_weight=args.jacobian_weight, seed=args.seed)
    train_denoiser(config, args.output, device=args.device, resume=args.resume, overwrite=args.overwrite,
                   progress=not args.quiet)
    return 0


def _run_lsparcom(args: argparse.Namespace) -> int:
    from ..methods.baselines.lsparcom_training import LsparcomTrainingConfig, train_lsparcom

    d = LsparcomTrainingConfig()
    config = LsparcomTrainingConfig(
        pixel_size_nm=args.pixel_size, psf_fwhm_nm=args.psf_fwhm, upsample=args.upsample,
        n_train=_given(args.images, d.n_train), n_val=_given(args.val_images, d.n_val),
        image_size=_given(args.image_size, d.image_size), snr_db=tuple(_given(args.snr, d.snr_db)),
        epochs=_given(args.epochs, d.epochs),
        batch_size=_given(args.batch_size, d.batch_size), lr=_given(args.lr, d.lr),
        l1_weight=d.l1_weight if args.l1_weight is None else args.l1_weight, seed=args.seed)
    train_lsparcom(config, args.output, device=args.device, resume=args.resume, overwrite=args.overwrite,
                   progress=not args.quiet)
    return 0
