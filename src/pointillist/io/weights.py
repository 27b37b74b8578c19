"""Trained weights on disk: one record, one file format, one loader, one optics check, one manifest.

A weights file is one ``torch.save`` dictionary of tensors, numbers and
strings, read with ``weights_only=True``::

    {"format": "pointillist-weights/1", "record": {...}, "state_dict": {...}}

``record`` is a :class:`WeightsRecord` (what the network is, which optics
it was trained for, how it was trained and how well it did); the loader
gives it back beside the network (:class:`LoadedWeights`), never stuck onto
the network. The shipped files live in ``pointillist/weights/`` with one
``manifest.json`` (sha256 of each file); nothing is ever downloaded.

This module is below the methods: it builds networks only through the
constructors a method hands to :func:`load_weights`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import InputError
from .atomic import atomic_path, to_json_text, write_json
from .hashing import file_sha256

__all__ = ["FORMAT", "Architecture", "TrainedOptics", "WeightsRecord", "LoadedWeights", "save_weights",
           "read_weights", "load_weights", "shipped_weights_path", "check_weights_optics", "manifest_entry",
           "write_manifest", "manifest_text", "MANIFEST_NAME"]

FORMAT = "pointillist-weights/1"
MANIFEST_NAME = "manifest.json"
#: formats written before this module (``scripts/convert_weights.py`` converts them)
OLD_FORMATS = ("pointillist-smlm-network/1", "pointillist-gs-denoiser/1", "pointillist-lsparcom/1")


@dataclass(frozen=True)
class Architecture:
    """Which network: a name the method maps to a constructor, and the constructor's keyword arguments.

    Examples
    --------
    >>> Architecture("deep-storm", {"output": "relu"}).kwargs["output"]
    'relu'
    """

    name: str
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TrainedOptics:
    """The optics weights were trained for, and how far data may be from them.

    Parameters
    ----------
    pixel_size_nm, psf_fwhm_nm : float
        Camera pixel size and Gaussian PSF FWHM (nm).
    upsample : int
        Super-resolution factor (must match exactly).
    pixel_size_tolerance : float or None
        Relative tolerance on the pixel size. None: the pixel size itself
        does not matter, only the PSF width in camera pixels (then
        ``psf_fwhm_tolerance`` applies to ``FWHM / pixel size``).
    psf_fwhm_tolerance : float
        Relative tolerance on the PSF FWHM (nm, or camera pixels, see above).

    Examples
    --------
    >>> TrainedOptics(100.0, 258.21, 4).as_dict()
    {'pixel_size_nm': 100.0, 'psf_fwhm_nm': 258.21, 'upsample': 4}
    """

    pixel_size_nm: float
    psf_fwhm_nm: float
    upsample: int
    pixel_size_tolerance: float | None = 0.02
    psf_fwhm_tolerance: float = 0.02

    def as_dict(self) -> dict:
        """The three optical numbers (without the tolerances)."""
        return {"pixel_size_nm": self.pixel_size_nm, "psf_fwhm_nm": self.psf_fwhm_nm, "upsample": self.upsample}


@dataclass(frozen=True)
class WeightsRecord:
    """Everything known about a weights file besides its tensors.

    Parameters
    ----------
    method : str
        ``deepcel0``, ``deepstorm``, ``deepstorm-relu``, ``gs-denoiser``, ``lsparcom``, ...
    architecture : Architecture
    optics : TrainedOptics or None
        None when the weights are not specific to an optics (the denoiser).
    config : dict
        The resolved training configuration.
    data : dict
        What the network was trained on (``n_train``, ``n_val``, ...).
    epochs : int
        Epochs run.
    best_epoch : int
        Epoch of the kept weights.
    best_val_loss : float
        Their validation loss.
    validation : dict
        Other validation numbers (``final_train_loss``, PSNR, Lipschitz estimates, ...).
    extra : dict
        Method-specific numbers the network needs at inference (input
        normalisation, heat-map scale, output scale, ...).
    training : dict
        Version, device, seconds and the per-epoch history.
    sha256, path : str or None
        Set by the loader (never stored in the file).
    """

    method: str
    architecture: Architecture
    optics: TrainedOptics | None
    config: dict
    data: dict
    epochs: int
    best_epoch: int
    best_val_loss: float
    validation: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    sha256: str | None = None
    path: str | None = None

    def to_dict(self, *, stored: bool = False) -> dict:
        """Plain dictionary (``stored=True``: without ``sha256`` and ``path``, as written into the file)."""
        out = dataclasses.asdict(self)
        if stored:
            del out["sha256"], out["path"]
        return out

    @classmethod
    def from_dict(cls, d: Mapping, *, where: str = "record") -> WeightsRecord:
        """The record from :meth:`to_dict`'s output; unknown or missing keys are an InputError.

        Examples
        --------
        >>> r = WeightsRecord("m", Architecture("a"), None, {}, {}, 1, 1, 0.5)
        >>> WeightsRecord.from_dict(r.to_dict()) == r
        True
        """
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING}
        if not isinstance(d, Mapping) or set(d) - names or required - set(d):
            keys = sorted(d) if isinstance(d, Mapping) else type(d).__name__
            raise InputError(f"{where} is not a weights record (keys {keys}; expected {sorted(names)})")
        try:
            arch = Architecture(**d["architecture"])
            optics = None if d["optics"] is None else TrainedOptics(**d["optics"])
        except TypeError as exc:
            raise InputError(f"{where} has a malformed architecture or optics: {exc}") from None
        return cls(**{**d, "architecture": arch, "optics": optics})


@dataclass(frozen=True)
class LoadedWeights:
    """A network (eval mode) and the record of its weights file."""

    net: Any
    record: WeightsRecord


def save_weights(path, state_dict: Mapping, record: WeightsRecord, *, overwrite: bool = False) -> Path:
    """Write the state dict and its record in one file, atomically.

    Parameters
    ----------
    path : path
        Destination (``.pt``).
    state_dict : mapping of str to tensor
        The network's ``state_dict()`` (moved to the CPU).
    record : WeightsRecord
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, torch
    >>> rec = WeightsRecord("demo", Architecture("linear"), None, {}, {}, 1, 1, 0.5)
    >>> p = save_weights(Path(tempfile.mkdtemp()) / "w.pt", {"w": torch.ones(2)}, rec)
    >>> read_weights(p)[1].method
    'demo'
    """
    import torch

    if not isinstance(record, WeightsRecord):
        raise InputError(f"record must be a WeightsRecord, got {type(record).__name__}")
    path = Path(path)
    payload = {"format": FORMAT, "record": record.to_dict(stored=True),
               "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}}
    with atomic_path(path, overwrite=overwrite) as tmp:
        torch.save(payload, tmp)
    return path


def read_weights(path) -> tuple[dict, WeightsRecord]:
    """The state dict and record of a weights file, without building a network.

    Raises InputError (never PyTorch's own advice) for a missing, empty,
    truncated or corrupt file, a file holding other objects than tensors
    and numbers, or a file of another format.

    Parameters
    ----------
    path : path

    Returns
    -------
    (dict, WeightsRecord)
        The record's ``path`` and ``sha256`` are set.
    """
    import pickle
    import zipfile

    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"weights file {path} not found")
    if path.stat().st_size == 0:
        raise InputError(f"weights file {path} is empty (0 bytes); train or copy it again")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower() and zipfile.is_zipfile(path):
            raise InputError(f"cannot read weights file {path}: it holds objects other than tensors and numbers, "
                             "so it is not a pointillist weights file (pointillist never unpickles code)") from None
        raise InputError(f"cannot read weights file {path}: not a PyTorch file, or truncated or corrupt") from None
    except Exception:  # torch raises several types (RuntimeError, EOFError, ...) for a damaged archive
        raise InputError(f"cannot read weights file {path}: not a PyTorch file, or truncated or corrupt") from None
    fmt = payload.get("format") if isinstance(payload, dict) else None
    if fmt in OLD_FORMATS:
        raise InputError(f"{path} is in the old format {fmt}; convert it with scripts/convert_weights.py")
    if fmt != FORMAT or not isinstance(payload.get("state_dict"), dict):
        raise InputError(f"{path} is not a pointillist weights file (format {FORMAT})")
    record = WeightsRecord.from_dict(payload.get("record"), where=f"the record in {path}")
    record = dataclasses.replace(record, path=str(path), sha256=file_sha256(path))
    return payload["state_dict"], record


def shipped_weights_path(method: str) -> Path:
    """Path of the shipped weights of ``method`` inside the installed package.

    Examples
    --------
    >>> shipped_weights_path("deepcel0").name
    'deepcel0.pt'
    """
    path = Path(str(resources.files("pointillist") / "weights" / f"{method}.pt"))
    if not path.is_file():
        raise InputError(f"no shipped weights for {method!r} ({path} is missing from this installation); "
                         "give --weights PATH")
    return path


def _check_state_dict(net, state_dict: Mapping, path) -> None:
    own = net.state_dict()
    problems = [f"{k} has shape {tuple(state_dict[k].shape)} in the file, {tuple(v.shape)} expected"
                for k, v in own.items() if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)]
    missing, unexpected = sorted(set(own) - set(state_dict)), sorted(set(state_dict) - set(own))
    if missing:
        problems.append(f"missing {', '.join(missing[:3])}" + (" ..." if len(missing) > 3 else ""))
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected[:3])}" + (" ..." if len(unexpected) > 3 else ""))
    if problems:
        raise InputError(f"the tensors in {path} do not fit the network its record describes: "
                         + "; ".join(problems[:4]) + (" ..." if len(problems) > 4 else ""))


def load_weights(path=None, *, method: str | None = None, architectures: Mapping[str, Callable[..., Any]],
                 device="cpu") -> LoadedWeights:
    """Load a weights file (or the shipped weights of ``method``) into a network, in eval mode.

    Parameters
    ----------
    path : path, optional
        Weights file; None for the shipped weights of ``method``.
    method : str, optional
        Refuse a file made for another method.
    architectures : mapping of str to callable
        Constructors by architecture name (the method's network classes);
        called with the record's keyword arguments.
    device : str or torch.device

    Returns
    -------
    LoadedWeights
        The network and the record (with ``path`` and ``sha256``).

    Examples
    --------
    >>> from pointillist.methods.smlm.network import ARCHITECTURES
    >>> w = load_weights(method="deepcel0", architectures=ARCHITECTURES)
    >>> w.record.method, w.record.optics.upsample, w.net.training
    ('deepcel0', 4, False)
    """
    import torch

    if path is None:
        if method is None:
            raise InputError("give the weights file or the method of the shipped weights")
        path = shipped_weights_path(method)
    state_dict, record = read_weights(path)
    if method is not None and record.method != method:
        raise InputError(f"{path} holds weights for {record.method!r}, not for {method!r}")
    build = architectures.get(record.architecture.name)
    if build is None:
        raise InputError(f"{path} holds a {record.architecture.name!r} network; expected one of "
                         f"{', '.join(sorted(architectures))}")
    try:
        with torch.random.fork_rng(devices=[]):  # construction draws initial weights: leave the caller's RNG alone
            net = build(**record.architecture.kwargs)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: cannot build the {record.architecture.name} network from its record: {exc}") \
            from None
    _check_state_dict(net, state_dict, path)
    net.load_state_dict(state_dict)
    return LoadedWeights(net=net.to(device).eval(), record=record)


def check_weights_optics(record: WeightsRecord, optics, *, force: bool = False,
                         force_option: str | None = "--force") -> list[str]:
    """Compare the optics the weights were trained for with the data's; raise unless ``force``.

    The pixel size and PSF FWHM must agree within the record's tolerances
    (:class:`TrainedOptics`), the upsampling factor exactly; weights without
    optics (``record.optics is None``) fit any.

    Parameters
    ----------
    record : WeightsRecord
    optics : Optics
        The data's optics.
    force : bool
        Return the mismatches instead of raising.
    force_option : str or None
        The option that forces (named in the error); None where there is none.

    Returns
    -------
    list of str
        The mismatches (empty when the optics agree).

    Examples
    --------
    >>> from pointillist.optics import Optics
    >>> rec = WeightsRecord("deepcel0", Architecture("deep-storm"), TrainedOptics(100.0, 258.21, 4), {}, {}, 1, 1, 1.0)
    >>> check_weights_optics(rec, Optics(pixel_size_nm=101, psf_fwhm_nm=258.21, upsample=4))
    []
    >>> check_weights_optics(rec, Optics(pixel_size_nm=160, psf_fwhm_nm=258.21, upsample=4), force=True)
    ['pixel size 160 nm (trained for 100 nm)']
    """
    trained = record.optics
    if trained is None:
        return []
    problems = []
    fwhm = getattr(optics, "psf_fwhm_nm", None)
    tol = trained.psf_fwhm_tolerance
    if trained.pixel_size_tolerance is not None:
        if not math.isclose(trained.pixel_size_nm, optics.pixel_size_nm, rel_tol=trained.pixel_size_tolerance):
            problems.append(f"pixel size {optics.pixel_size_nm:g} nm (trained for {trained.pixel_size_nm:g} nm)")
        if fwhm is None or not math.isclose(trained.psf_fwhm_nm, fwhm, rel_tol=tol):
            shown = "a measured PSF" if fwhm is None else f"{fwhm:g} nm"
            problems.append(f"PSF FWHM {shown} (trained for {trained.psf_fwhm_nm:g} nm)")
    else:  # only the PSF width in camera pixels matters
        width = trained.psf_fwhm_nm / trained.pixel_size_nm
        to_sigma = 1 / (2 * math.sqrt(2 * math.log(2)))
        if fwhm is None:
            problems.append(f"a measured PSF (trained for a Gaussian PSF of sigma {width * to_sigma:.2f} camera "
                            "pixels)")
        elif abs(fwhm / optics.pixel_size_nm / width - 1) > tol:
            problems.append(f"PSF sigma {fwhm / optics.pixel_size_nm * to_sigma:.2f} camera pixels (trained for "
                            f"sigma {width * to_sigma:.2f} camera pixels, within {tol:.0%})")
    if int(trained.upsample) != optics.upsample:
        problems.append(f"upsample {optics.upsample} (trained for {trained.upsample})")
    if problems and not force:
        psf = f" --psf-fwhm {fwhm:g}" if fwhm is not None else ""
        name = f"{record.method}.pt"
        raise InputError(
            f"the {record.method} weights ({record.path or 'shipped'}) were trained for other optics: "
            + "; ".join(problems) + f". Train weights for these optics with `pointillist train --method "
            f"{record.method} --pixel-size {optics.pixel_size_nm:g}{psf} --upsample {optics.upsample} -o {name}` "
            f"and pass --weights {name}" + (f", or pass {force_option} to use them anyway" if force_option else ""))
    return problems


def manifest_entry(path, *, note: str = "") -> dict:
    """The manifest record of one weights file: its record (without the history), size and sha256.

    Parameters
    ----------
    path : path
    note : str
        How the file was made (free text).

    Returns
    -------
    dict
    """
    state_dict, record = read_weights(path)
    entry = record.to_dict()
    entry["training"] = {k: v for k, v in entry["training"].items() if k != "history"}
    entry["architecture"]["parameters"] = sum(int(v.numel()) for k, v in state_dict.items()
                                              if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    del entry["path"]
    entry.update(file=Path(path).name, bytes=Path(path).stat().st_size, note=note)
    return entry


def _manifest(folder: Path, notes: Mapping[str, str] | None) -> dict:
    import json

    target = folder / MANIFEST_NAME
    kept = {}
    if target.is_file():
        kept = {e.get("file"): e.get("note", "") for e in json.loads(target.read_text()).get("weights", [])}
    kept.update(notes or {})
    files = sorted(p for p in folder.glob("*.pt") if not p.name.endswith(".resume.pt"))
    return {"format": FORMAT, "weights": [manifest_entry(p, note=kept.get(p.name, "")) for p in files]}


def write_manifest(folder, *, notes: Mapping[str, str] | None = None) -> Path:
    """(Re)write ``folder/manifest.json`` from every weights file in ``folder``.

    Parameters
    ----------
    folder : path
        Holds the ``*.pt`` weights files (``*.resume.pt`` are skipped).
    notes : mapping of file name to str, optional
        New notes; files not named keep the note the manifest had.

    Returns
    -------
    pathlib.Path
        The manifest.
    """
    folder = Path(folder)
    return write_json(folder / MANIFEST_NAME, _manifest(folder, notes), overwrite=True)


def manifest_text(folder) -> str:
    """The text :func:`write_manifest` would write now (to check that a shipped manifest is up to date).

    Examples
    --------
    >>> folder = shipped_weights_path("deepcel0").parent
    >>> manifest_text(folder) == (folder / MANIFEST_NAME).read_text()
    True
    """
    return to_json_text(_manifest(Path(folder), None))
