"""``pointillist train --method deepcel0|deepstorm|deepstorm-relu ... -o model.pt``."""

from __future__ import annotations

import argparse
from pathlib import Path

TRAIN_METHODS = ("deepcel0", "deepstorm", "deepstorm-relu")


def register(sub) -> None:
    parser = sub.add_parser(
        "train", help="train a network on simulated data (SMLM: DeepCEL0, Deep-STORM, Deep-STORM-ReLU)",
        description="Train a network on data simulated for the given optics. Writes the best weights to "
        "-o model.pt and, beside it, model.json (resolved configuration and losses), model.log and "
        "model.resume.pt (to continue with --resume). Defaults are the paper's schedule (100 epochs of "
        "10,000 patches): hours on a CPU, minutes on a GPU.")
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
    d.add_argument("--snr", type=float, nargs=2, default=(10.0, 20.0), metavar=("LOW", "HIGH"),
                   help="SNR in dB (energy definition), uniform per frame (default 10 20: mean 15 dB as the paper)")
    t = parser.add_argument_group("optimisation")
    t.add_argument("--epochs", type=int, default=100, help="epochs (default 100)")
    t.add_argument("--batch-size", type=int, default=16, help="batch size (default 16)")
    t.add_argument("--lr", type=float, default=1e-3, help="initial Adam learning rate (default 1e-3)")
    t.add_argument("--lr-patience", type=int, default=5, help="epochs without improvement before lr x 0.1 (default 5)")
    t.add_argument("--val-fraction", type=float, default=0.3, help="validation share of the patches (default 0.3)")
    t.add_argument("--heat-scale", type=float, default=100.0, help="heat-map scale c (default 100)")
    t.add_argument("--l1-weight", type=float, default=None,
                   help="l1 weight of the Deep-STORM losses (default 1, and 10 for deepstorm-relu)")
    t.add_argument("--cel0-lambda", type=float, default=100.0, help="lambda of the DeepCEL0 loss (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and of the training (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from model.resume.pt (raise --epochs to train longer)")
    parser.add_argument("--overwrite", action="store_true", help="replace the files of a previous run")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..methods.smlm.training import TrainingConfig, train_network
    from ..methods.smlm.training_data import PatchSettings

    data = PatchSettings(
        n_patches=args.patches, n_frames=args.frames, patch=args.patch_size, min_emitters=args.min_emitters,
        density_per_um2=args.density, photons_mean=args.photons, photons_std=args.photons_std,
        background_range=tuple(args.background), snr_db_range=tuple(args.snr))
    config = TrainingConfig(
        method=args.method, pixel_size_nm=args.pixel_size, psf_fwhm_nm=args.psf_fwhm, upsample=args.upsample,
        data=data, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, lr_patience=args.lr_patience,
        val_fraction=args.val_fraction, heat_scale=args.heat_scale, l1_weight=args.l1_weight,
        cel0_lambda=args.cel0_lambda, seed=args.seed)
    train_network(config, args.output, device=args.device, resume=args.resume, overwrite=args.overwrite,
                  progress=not args.quiet)
    return 0
