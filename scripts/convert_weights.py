"""Rewrite weights files of the three old formats in the one weights format, without retraining.

    .venv/bin/python scripts/convert_weights.py [FOLDER]      (default: src/pointillist/weights)

Reads each ``*.pt`` in FOLDER written in an old format (``pointillist-smlm-network/1``,
``pointillist-gs-denoiser/1``, ``pointillist-lsparcom/1``) with the old reading logic
(copied here: the old modules are gone), writes the same tensors and the same numbers
as a :class:`pointillist.io.weights.WeightsRecord` file, rewrites the ``.json`` beside
it as the record (what ``pointillist train`` writes now), keeps the ``.log``, and
writes one ``manifest.json`` for the folder (the notes of the old manifests kept,
the old ``*.manifest.json`` removed). Then it reads every converted file back and
checks that each state-dict tensor is bit-identical (same dtype, shape and bytes)
to the old one, and prints that check. Files already in the new format are left alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from pointillist.io.atomic import write_json
from pointillist.io.weights import (
    FORMAT,
    MANIFEST_NAME,
    Architecture,
    TrainedOptics,
    WeightsRecord,
    read_weights,
    save_weights,
    write_manifest,
)

OLD_MANIFESTS = {"gs-denoiser.manifest.json": "denoiser", "lsparcom.manifest.json": "lsparcom"}


def _common(t: dict, extra_validation: dict) -> dict:
    history = t.get("history", [])
    validation = {"final_train_loss": t["final_train_loss"] if "final_train_loss" in t else history[-1]["train_loss"],
                  **extra_validation}
    return {"config": t["config"], "epochs": t["epochs_run"], "best_epoch": t["best_epoch"],
            "best_val_loss": t["best_val_loss"], "validation": validation,
            "training": {"pointillist_version": t["pointillist_version"], "device": t["device"],
                         "seconds": t["seconds"], "history": history}}


def convert(old: dict) -> tuple[dict, WeightsRecord, dict]:
    """The new state dict, the record, and how new keys map to old keys, from an old checkpoint dictionary."""
    fmt, t = old["format"], old.get("training", {})
    sd = old["state_dict"]
    if fmt == "pointillist-smlm-network/1":
        o = old["optics"]
        record = WeightsRecord(
            method=old["method"], architecture=Architecture("deep-storm", {"output": old["output"]}),
            optics=TrainedOptics(float(o["pixel_size_nm"]), float(o["psf_fwhm_nm"]), int(o["upsample"])),
            data={"n_train": t["n_train"], "n_val": t["n_val"], "mean_emitters_per_patch": t["mean_emitters_per_patch"]},
            extra={"normalization": dict(old["normalization"]), "heat_scale": float(old["heat_scale"]),
                   "kernel_factor": float(old["kernel_factor"])},
            **_common(t, {}))
        return dict(sd), record, {k: k for k in sd}
    if fmt == "pointillist-gs-denoiser/1":
        record = WeightsRecord(
            method="gs-denoiser",
            architecture=Architecture("gradient-step-drunet-light", {"channels": list(old["channels"]),
                                                                     "blocks": int(old["blocks"])}),
            optics=None, data={"n_train": t["n_train"], "n_val": t["n_val"]},
            extra={"prox_finetuned": t["prox_finetuned"]},
            **_common(t, {"val_psnr": t["val_psnr"], "hessian_norm_validation": t["hessian_norm_validation"]}))
        # the old file held the inner DRUNet; the new one the GradientStepDenoiser around it
        return {f"net.{k}": v for k, v in sd.items()}, record, {f"net.{k}": k for k in sd}
    if fmt == "pointillist-lsparcom/1":
        o = old["optics"]
        record = WeightsRecord(
            method="lsparcom",
            architecture=Architecture("lsparcom-unfolded-ista", {k: int(old[k]) for k in ("folds", "input_kernel",
                                                                                         "state_kernel")}),
            optics=TrainedOptics(float(o["pixel_size_nm"]), float(o["psf_fwhm_nm"]), int(o["upsample"]),
                                 pixel_size_tolerance=None, psf_fwhm_tolerance=0.15),
            data={"n_train": t["n_train"], "n_val": t["n_val"]}, extra={"output_scale": float(old["target_scale"])},
            **_common(t, {}))
        return dict(sd), record, {k: k for k in sd}
    raise SystemExit(f"unknown format {fmt!r}")


def identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same dtype, shape and bytes."""
    return a.dtype == b.dtype and a.shape == b.shape and a.numpy().tobytes() == b.numpy().tobytes()


def main(folder: Path) -> int:
    old_notes = {}
    manifest = folder / MANIFEST_NAME
    if manifest.is_file():
        m = json.loads(manifest.read_text())
        old_notes.update({e["file"]: m.get("note", "") for e in m.get("networks", [])})
    for name, key in OLD_MANIFESTS.items():
        if (folder / name).is_file():
            m = json.loads((folder / name).read_text())
            old_notes[m[key]["file"]] = m.get("note", "")
    checks, failures = [], 0
    for path in sorted(p for p in folder.glob("*.pt") if not p.name.endswith(".resume.pt")):
        old = torch.load(path, map_location="cpu", weights_only=True)
        if old.get("format") == FORMAT:
            print(f"{path.name}: already in {FORMAT}")
            continue
        sd, record, key_map = convert(old)
        old_sd = {k: v.clone() for k, v in old["state_dict"].items()}
        save_weights(path, sd, record, overwrite=True)
        back, back_record = read_weights(path)
        same = [identical(back[k], old_sd[key_map[k]]) for k in back]
        ok = len(back) == len(old_sd) and all(same) and set(key_map.values()) == set(old_sd)
        failures += not ok
        checks.append(f"{path.name}: {sum(same)}/{len(old_sd)} tensors bit-identical "
                      f"({sum(v.numel() for v in old_sd.values())} values) -> {'OK' if ok else 'DIFFERENT'}")
        companion = path.with_suffix(".json")
        if companion.is_file():
            write_json(companion, back_record.to_dict(stored=True), overwrite=True)
    notes = {k: v for k, v in old_notes.items() if (folder / k).is_file()}
    write_manifest(folder, notes=notes)
    for name in OLD_MANIFESTS:
        (folder / name).unlink(missing_ok=True)
    print("\n".join(checks) if checks else "nothing to convert")
    print(f"wrote {manifest}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
                  / "src" / "pointillist" / "weights"))
