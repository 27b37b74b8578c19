"""``pointillist evaluate PRED.csv GT.csv --tolerance-nm T``."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

#: Tolerances above this (nm) are larger than any SMLM matching radius in use: accepted, with a warning.
PLAUSIBLE_TOLERANCE_NM = 1000.0


def register(sub) -> None:
    """Add ``pointillist evaluate`` to the sub-command parsers ``sub`` (see :mod:`pointillist.cli`)."""
    parser = sub.add_parser("evaluate", help="score localizations (or a support map) against a ground truth",
                            description="Match localizations to the ground truth frame by frame (optimal one-to-one "
                            "assignment within the tolerance) and report Jaccard, recall, precision (percent), "
                            "RMSE (nm) and the counts. Given two TIFF images (e.g. support.tif from reconstruct and "
                            "support.tif from simulate fluct), their non-zero pixels are matched the same way.")
    parser.add_argument("pred", type=Path, metavar="PRED.csv",
                        help="localizations (ThunderSTORM CSV or SMLM challenge), or a support TIFF")
    parser.add_argument("gt", type=Path, metavar="GT.csv", help="ground truth (same formats)")
    parser.add_argument("--tolerance-nm", type=float, required=True, metavar="NM",
                        help="matching radius in nm (a finite number >= 0; above "
                        f"{PLAUSIBLE_TOLERANCE_NM:g} nm a warning is printed, as nearly everything then matches)")
    parser.add_argument("--json", action="store_true", help="print JSON (jaccard, recall, precision, rmse_nm, tp, fp, fn)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``pointillist evaluate PRED.csv GT.csv --tolerance-nm 50``: scores localizations (or a support map) against
    a ground truth and prints them; returns the exit code (see :mod:`pointillist.cli`).
    """
    from ..errors import InputError
    from ..io import read_localizations
    from ..io.atomic import to_json_text
    from ..metrics import match_localizations

    if not (math.isfinite(args.tolerance_nm) and args.tolerance_nm >= 0):
        raise InputError(f"--tolerance-nm must be a finite number of nm >= 0, got {args.tolerance_nm}")
    if args.tolerance_nm > PLAUSIBLE_TOLERANCE_NM:
        print(f"pointillist: warning: --tolerance-nm {args.tolerance_nm:g} nm is beyond any usual matching radius "
              f"(more than {PLAUSIBLE_TOLERANCE_NM:g} nm): nearly every prediction will match; typical values "
              "are 10 to 250 nm", file=sys.stderr)
    tiffs = [p.suffix.lower() in (".tif", ".tiff") for p in (args.pred, args.gt)]
    if all(tiffs):
        scores = _support_scores(args.pred, args.gt, args.tolerance_nm)
    elif any(tiffs):
        raise InputError("give two CSV localization files or two TIFF support maps, not one of each")
    else:
        pred = read_localizations(args.pred)
        gt = read_localizations(args.gt)
        scores = match_localizations(pred, gt, tolerance_nm=args.tolerance_nm).as_dict()
    if args.json:
        print(to_json_text(scores), end="")
        return 0
    for key in ("jaccard", "recall", "precision", "f1"):
        print(f"{key:>9}: {scores[key]:.2f} %")
    rmse = scores["rmse_nm"]
    print(f"{'rmse':>9}: {'n/a' if rmse is None else f'{rmse:.2f} nm'}")
    print(f"{'tp/fp/fn':>9}: {scores['tp']}/{scores['fp']}/{scores['fn']}")
    return 0


def _support_scores(pred_path: Path, gt_path: Path, tolerance_nm: float) -> dict:
    from ..errors import InputError
    from ..io import read_stack
    from ..metrics import support_jaccard

    pred, gt = read_stack(pred_path, mmap=False), read_stack(gt_path, mmap=False)
    for name, st in (("prediction", pred), ("ground truth", gt)):
        if st.data.shape[0] != 1:
            raise InputError(f"the {name} TIFF must be one 2-D support image, it has {st.data.shape[0]} frames")
    if pred.data.shape != gt.data.shape:
        raise InputError(f"support images differ in shape: {pred.data.shape[1:]} vs {gt.data.shape[1:]}")
    size = pred.pixel_size_nm or gt.pixel_size_nm
    if size is None:
        raise InputError("neither TIFF records its pixel size, so a tolerance in nm cannot be converted")
    if pred.pixel_size_nm and gt.pixel_size_nm and abs(pred.pixel_size_nm - gt.pixel_size_nm) > 1e-3 * size:
        raise InputError(f"inconsistent pixel sizes: {pred.pixel_size_nm} nm vs {gt.pixel_size_nm} nm")
    res = support_jaccard(pred.data[0] != 0, gt.data[0] != 0, tolerance_px=tolerance_nm / size, pixel_size_nm=size)
    return res.as_dict()
