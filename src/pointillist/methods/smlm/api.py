"""``pointillist.localize``: localizations per frame by CEL0 or a trained network."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..._device import resolve_device
from ...acquisition import as_acquisition
from ...errors import InputError
from ...io.weights import check_weights_optics
from ...localizations import Localizations
from ...optics import Optics, require_optics
from ...result import Result
from ...scheduler import Scheduler
from .cel0 import DEFAULT_CEL0_LAMBDA, CEL0Options, cel0_frames, spike_localizations
from .inference import predict_frames
from .network import NETWORK_METHODS, load_model, spike_scale

__all__ = ["LOCALIZE_METHODS", "LocalizeResult", "localize", "DEFAULT_NETWORK_THRESHOLD", "TASK_FRAMES"]

LOCALIZE_METHODS = ("cel0", *NETWORK_METHODS)
# fraction of one emitter's spike amplitude (ZeroCostDL4Mic / DeepCEL0 notebook: 0.1 c)
DEFAULT_NETWORK_THRESHOLD = 0.1
#: frames per task (rounded to whole batches): tasks run side by side on threads or cluster workers
TASK_FRAMES = 128


@dataclass(kw_only=True)
class LocalizeResult(Result):
    """Localizations, the sum of the super-resolved frames, and what produced them.

    The core fields of :class:`~pointillist.result.Result` and ``localizations``
    (nm, 0-based frames), ``render`` (the sum of the super-resolved frames on the
    fine grid, also ``image``) and ``settings`` (the resolved settings, also
    ``parameters``).
    """

    localizations: Localizations
    render: np.ndarray

    @property
    def image(self) -> np.ndarray:
        """The main fine-grid image (``render.tif``)."""
        return self.render

    @property
    def settings(self) -> dict:
        return self.parameters

    def summary(self) -> dict:
        """JSON-friendly scalars for ``run.json``."""
        return {
            "method": self.method,
            "n_frames": self.n_frames,
            "n_localizations": len(self.localizations),
            "localizations_per_frame": len(self.localizations) / max(self.n_frames, 1),
            "seconds": self.seconds,
            "frames_per_second": self.n_frames / self.seconds if self.seconds > 0 else None,
            **self.parameters,
        }


def localize(stack, *, optics: Optics, method: str = "deepcel0", weights=None, architecture: str | None = None,
             threshold: float | None = None,
             protocol: str = "maxima", lam=None, lambda_ratio: float | None = None,
             cel0_options: CEL0Options = CEL0Options(), offset=None, gain=None, calibration=None,
             batch_size: int | None = None, device="cpu", force: bool = False, progress: bool = False,
             full_output: bool = False, scheduler=None):
    """Localize emitters frame by frame.

    Parameters
    ----------
    stack : array_like (T, H, W) or (H, W), path or Acquisition
        Camera frames (ADU or photons; see ``offset`` and ``gain``).
    optics : Optics
        Pixel size, PSF and upsampling factor q; for the networks they must
        match the optics the weights were trained for (see ``force``).
    method : {"deepcel0", "deepstorm", "deepstorm-relu", "cel0"}
    weights : path, optional
        A checkpoint from ``pointillist train``; default the shipped weights.
    architecture : {"subpixel", "deepstorm"}, optional
        Networks only: which shipped network (default: the paper's network;
        ``subpixel`` for deepcel0 and deepstorm-relu); with
        ``weights``, the file must hold this architecture (it is read from
        the file otherwise).
    threshold : float, optional
        Networks: a fraction of one emitter's spike amplitude (default 0.1).
        CEL0: photons (default 0: every positive spike).
    protocol : {"maxima", "pixels"}
        Local maxima with 3x3 centroids, or one molecule per positive pixel.
    lam, lambda_ratio, cel0_options
        CEL0 only: lambda on max-normalised frames (default
        ``DEFAULT_CEL0_LAMBDA``) or as a fraction of lambda_max; IRL1 controls.
    offset, gain : float or ndarray, optional
        Camera calibration, photons = (ADU - offset) / gain; or ``calibration``.
    calibration : Calibration, optional
    batch_size : int, optional
        Frames per batch (default 16).
    device : str
        ``cpu``, ``cuda`` or ``auto``.
    force : bool
        Use network weights trained for other optics anyway.
    progress : bool
        Show a progress bar.
    full_output : bool
        Return a :class:`LocalizeResult` (with the summed super-resolved
        image) instead of the localizations alone.
    scheduler : Scheduler, optional
        Where the tasks (runs of ``TASK_FRAMES`` frames) run
        (:mod:`pointillist.scheduler`): threads of this process by default,
        or a Dask cluster; the result is the same bytes.

    Returns
    -------
    Localizations or LocalizeResult
        Positions in nm (0-based frames). ``photons`` holds photons for CEL0
        and, for networks, the spike mass in units of one emitter.

    Examples
    --------
    >>> from pointillist.simulate import simulate_smlm
    >>> optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
    >>> from pointillist.metrics import match_localizations
    >>> sim = simulate_smlm(optics=optics, shape=(32, 32), n_frames=4, density_per_um2=0.5, structure="points",
    ...                     n_structures=1000, snr_db=20, seed=0)
    >>> locs = localize(sim.stack, optics=optics, method="deepcel0")
    >>> match_localizations(locs, sim.ground_truth, tolerance_nm=50).jaccard > 80
    True
    """
    if method not in LOCALIZE_METHODS:
        raise InputError(f"method must be one of {', '.join(LOCALIZE_METHODS)}; got {method!r}")
    optics = require_optics(optics)
    acq = as_acquisition(stack, offset=offset, gain=gain, calibration=calibration)
    dev = resolve_device(device)
    t0 = time.perf_counter()
    settings = {"protocol": protocol, **acq.calibration.as_dict(), "device": str(dev)}
    if method == "cel0":
        if weights is not None or architecture is not None:
            raise InputError("CEL0 has no weights; --weights and --architecture are for the network methods")
        thr = 0.0 if threshold is None else float(threshold)
        batch = batch_size or 16
        lam_used = DEFAULT_CEL0_LAMBDA if lam is None and lambda_ratio is None else lam
        settings.update({"threshold_photons": thr, "lambda": lam_used, "lambda_ratio": lambda_ratio,
                         "cel0_options": {k: getattr(cel0_options, k) for k in cel0_options.__dataclass_fields__}})
        scale = 1.0

        def run(block):
            return cel0_frames(block, optics=optics, lam=lam_used, lambda_ratio=lambda_ratio, options=cel0_options,
                               device=dev)
    else:
        model = load_model(weights, method=method, architecture=architecture, device=dev)
        mismatches = check_weights_optics(model.record, optics, force=force)
        scale = spike_scale(model.record)
        thr = (DEFAULT_NETWORK_THRESHOLD if threshold is None else float(threshold)) * scale
        batch = batch_size or 16
        settings.update({"weights": model.record.path, "architecture": model.record.architecture.name,
                         "weights_optics": model.record.optics.as_dict(),
                         "optics_mismatch": mismatches,
                         "spike_scale": scale, "threshold_fraction": thr / scale})

        def run(block):
            return predict_frames(block, model, batch_size=batch, device=dev)

    t, h, w = acq.shape
    q = optics.upsample
    sched = scheduler or Scheduler()
    span = batch * max(1, TASK_FRAMES // batch)

    def task(first):
        # frames first:first+span, batch by batch: partial render, frame sum and localizations
        render = np.zeros((h * q, w * q), dtype=np.float64)
        total = np.zeros((h, w), dtype=np.float64)
        parts = []
        for start in range(first, min(first + span, t), batch):
            block = acq.frames(start, min(start + batch, first + span, t), dtype=np.float32)
            total += block.sum(axis=0, dtype=np.float64)
            # Deep-STORM's linear output can be negative: negatives are not emitters.
            images = np.maximum(run(block), 0)
            render += images.sum(axis=0)
            locs = spike_localizations(images, pixel_size_nm=optics.fine_pixel_nm, protocol=protocol, threshold=thr,
                                       first_frame=start)
            if scale != 1.0:
                locs = Localizations(frame=locs.frame, x_nm=locs.x_nm, y_nm=locs.y_nm, photons=locs.photons / scale)
            parts.append(locs)
        return render, total, parts

    results = sched.map(task, range(0, t, span), threads=1 if dev.type == "cuda" else None, desc=method,
                        progress=progress)
    render = np.zeros((h * q, w * q), dtype=np.float64)
    total = np.zeros((h, w), dtype=np.float64)
    parts = []
    for r, f, p in results:  # in frame order, whatever order the tasks ran in
        render += r
        total += f
        parts += p
    result = LocalizeResult(localizations=Localizations.concatenate(parts), render=render.astype(np.float32),
                            method=method, optics=optics, calibration=acq.calibration, parameters=settings,
                            seconds=time.perf_counter() - t0, n_frames=t, mean=total / t)
    return result if full_output else result.localizations
