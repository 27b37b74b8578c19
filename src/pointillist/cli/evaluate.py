"""``pointillist evaluate PRED.csv GT.csv --tolerance-nm T``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub) -> None:
    parser = sub.add_parser("evaluate", help="score localizations against a ground truth",
                            description="Match localizations to the ground truth frame by frame (optimal one-to-one "
                            "assignment within the tolerance) and report Jaccard, recall, precision (percent), "
                            "RMSE (nm) and the counts.")
    parser.add_argument("pred", type=Path, metavar="PRED.csv", help="localizations (ThunderSTORM CSV or SMLM challenge)")
    parser.add_argument("gt", type=Path, metavar="GT.csv", help="ground truth (same formats)")
    parser.add_argument("--tolerance-nm", type=float, required=True, metavar="NM", help="matching radius in nm")
    parser.add_argument("--json", action="store_true", help="print JSON (jaccard, recall, precision, rmse_nm, tp, fp, fn)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..io import read_localizations
    from ..io.atomic import to_json_text
    from ..metrics import match_localizations

    if not args.tolerance_nm >= 0:
        raise InputError(f"--tolerance-nm must be non-negative, got {args.tolerance_nm}")
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
