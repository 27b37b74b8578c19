"""One training engine; each network is a :class:`Recipe` (its data, model, loss, optimiser and schedule).

The engine owns what every training run shares: seeding (one
``torch.Generator`` per epoch, the network initialised from the seed
without touching the caller's global RNG), the stages of the run, the
per-epoch validation, the best checkpoint, the log (``.log`` file and an
``echo`` callback), the progress bar, atomic writes and resuming.

Files beside the weights file ``model.pt``: ``model.json`` (the weights
record: configuration, data, losses), ``model.log`` and
``model.resume.pt`` (network, optimiser, schedule, history).

The resume rule: a run resumes only with the configuration it was started
with, except that its number of epochs may grow (a stage already over
keeps its length). The optimiser and schedule continue as saved, so with a
schedule that does not depend on the number of epochs (Adam with
ReduceLROnPlateau) a resumed run is the same as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import InputError

__all__ = ["Stage", "StepLoss", "Recipe", "TrainingResult", "train", "seeded", "resume_changes"]


@dataclass(frozen=True)
class Stage:
    """A part of a run with its own optimiser: ``epochs`` read from the configuration field ``field``.

    ``restart_from_best``: the stage starts from the best weights so far and
    forgets the best validation loss (the Prox fine-tuning of the denoiser).
    """

    name: str
    field: str = "epochs"
    restart_from_best: bool = False


@dataclass
class StepLoss:
    """What a recipe's loss gives back for one batch.

    ``objective`` is differentiated; ``value`` (float) and ``count`` make the
    epoch's training loss; ``maxima`` are per-epoch maxima to record.
    """

    objective: Any
    value: float
    count: int
    maxima: dict = field(default_factory=dict)


class Recipe:
    """What a network gives the engine. Subclasses set ``method`` and ``config`` and define the hooks.

    ``config`` is a frozen dataclass with ``seed``, the stage length fields
    and ``as_dict()``. ``grad_clip`` (None: no clipping) bounds the gradient norm.
    """

    method: str = ""
    config: Any = None
    grad_clip: float | None = None
    stages: tuple[Stage, ...] = (Stage("train"),)

    def prepare(self, device) -> Any:
        """The training and validation data (seeded from ``config.seed``)."""
        raise NotImplementedError

    def build(self):
        """A fresh network (the engine seeds its initialisation)."""
        raise NotImplementedError

    def place(self, net, device):
        """Move the network to ``device`` (override for a memory format)."""
        return net.to(device)

    def optimizer(self, net, stage: Stage):
        raise NotImplementedError

    def scheduler(self, optimizer, stage: Stage):
        """A learning-rate schedule (None: constant); ReduceLROnPlateau is stepped with the validation loss."""
        return None

    def batches(self, data, epoch: int, gen, device) -> Iterable:
        """The training batches of ``epoch`` (shuffled and augmented with ``gen`` only)."""
        raise NotImplementedError

    def loss(self, net, batch, data, stage: Stage, gen) -> StepLoss:
        """The loss of one batch (``data`` is what :meth:`prepare` returned)."""
        raise NotImplementedError

    def validate(self, net, data, device) -> tuple[float, dict]:
        """Validation loss and other numbers (recorded per epoch) of the network (in eval mode; no gradients
        are needed unless the recipe asks for them)."""
        raise NotImplementedError

    def describe(self, data, net, device) -> str:
        """The first log line."""
        n = sum(p.numel() for p in net.parameters())
        return f"training {self.method}: {n} parameters, device {device}"

    def epoch_notes(self, entry: dict) -> str:
        """Extra text for an epoch's log line (from its history entry)."""
        return ""

    def weights_fields(self, data, history: list[dict]) -> dict:
        """The method's parts of the weights record: ``architecture``, ``optics``, ``data``, ``extra``."""
        raise NotImplementedError

    def finish(self, net, data, device) -> dict:
        """Validation numbers computed once on the best network at the end (added to the record)."""
        return {}


@dataclass
class TrainingResult:
    """What a training run returns: the best network with its weights record, and how the run went."""

    trained: Any  # LoadedWeights
    history: list[dict]
    best_epoch: int
    best_val_loss: float
    seconds: float

    @property
    def net(self):
        """The best network (eval mode)."""
        return self.trained.net

    @property
    def record(self):
        """Its :class:`~pointillist.io.weights.WeightsRecord`."""
        return self.trained.record


@contextmanager
def seeded(seed: int):
    """Run a block (a network's construction) with torch's default RNG set from ``seed``, then restore it.

    The caller's global random state is the same after the block as before.

    Examples
    --------
    >>> import torch
    >>> with seeded(3):
    ...     a = torch.nn.Linear(2, 2).weight.detach().clone()
    >>> with seeded(3):
    ...     b = torch.nn.Linear(2, 2).weight.detach().clone()
    >>> bool(torch.equal(a, b))
    True
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(torch.Generator().manual_seed(int(seed)).get_state())
        yield


def _plain(d: dict) -> dict:
    from ..io.atomic import to_json_text

    return json.loads(to_json_text(d))


def resume_changes(saved: dict, config: dict, stages: tuple[Stage, ...], epochs_done: int) -> list[str]:
    """What differs between a saved configuration and the new one beyond what resuming allows.

    Allowed: a stage's number of epochs grows, unless a later stage has begun.

    Parameters
    ----------
    saved, config : dict
        The configurations (``as_dict()``) of the saved run and of the new one.
    stages : tuple of Stage
    epochs_done : int
        Epochs the saved run has completed.

    Returns
    -------
    list of str
        One line per refused change (empty: the run may resume).

    Examples
    --------
    >>> resume_changes({"lr": 0.1, "epochs": 2}, {"lr": 0.1, "epochs": 5}, (Stage("train"),), 2)
    []
    >>> resume_changes({"lr": 0.1, "epochs": 2}, {"lr": 0.2, "epochs": 1}, (Stage("train"),), 2)
    ['lr 0.1 -> 0.2', 'epochs 1: 2 epochs have already run']
    """
    saved, config = _plain(saved), _plain(config)
    lengths = {s.field for s in stages}
    changes = [f"{k} {saved.get(k)!r} -> {config.get(k)!r}" for k in sorted(set(saved) | set(config))
               if k not in lengths and saved.get(k) != config.get(k)]
    start = 0
    for stage in stages:
        old, new = int(saved[stage.field]), int(config[stage.field])
        done = min(max(epochs_done - start, 0), old)
        if new < done:
            changes.append(f"{stage.field} {new}: {done} epochs have already run")
        elif new != old and epochs_done > start + old:
            changes.append(f"{stage.field} {old} -> {new}: that stage is over")
        start += old
    return changes


def _stage_at(recipe: Recipe, epoch: int) -> int:
    start = 0
    for i, stage in enumerate(recipe.stages):
        start += int(getattr(recipe.config, stage.field))
        if epoch < start:
            return i
    return len(recipe.stages) - 1


def _state_copy(net) -> dict:
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}


def _step_scheduler(scheduler, val_loss) -> None:
    import torch

    if scheduler is None:
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(val_loss)
    else:
        scheduler.step()


class _Run:
    """The mutable state of one run (what the resume file holds)."""

    def __init__(self):
        self.history: list[dict] = []
        self.best_val = math.inf
        self.best_epoch = 0
        self.best_state: dict | None = None
        self.best_metrics: dict = {}
        self.log_lines: list[str] = []
        self.stage = 0

    def as_state(self) -> dict:
        return {"history": self.history, "best_val": self.best_val, "best_epoch": self.best_epoch,
                "best_state": self.best_state, "best_metrics": self.best_metrics, "log": self.log_lines,
                "stage": self.stage}

    def restore(self, state: dict) -> None:
        self.history, self.best_val, self.best_epoch = state["history"], state["best_val"], state["best_epoch"]
        self.best_state, self.best_metrics = state["best_state"], state["best_metrics"]
        self.log_lines, self.stage = state["log"], state["stage"]


def train(recipe: Recipe, output, *, device="cpu", resume: bool = False, overwrite: bool = False,
          progress: bool = True, echo: Callable[[str], Any] = print) -> TrainingResult:
    """Train ``recipe``'s network; the best validation weights are written to ``output`` after every epoch.

    Parameters
    ----------
    recipe : Recipe
    output : path
        Weights file (``.pt``); ``.json``, ``.log`` and ``.resume.pt`` are written beside it.
    device : str
        ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
    resume : bool
        Continue from ``output``'s ``.resume.pt``; only the number of epochs may change.
    overwrite : bool
        Replace the files of a previous run.
    progress : bool
        Show a progress bar per epoch.
    echo : callable
        Receives each log line (also written to the ``.log`` file).

    Returns
    -------
    TrainingResult

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pointillist.methods.baselines.lsparcom_training import LsparcomTrainingConfig, LsparcomRecipe
    >>> cfg = LsparcomTrainingConfig(n_train=2, n_val=1, image_size=8, epochs=1, batch_size=2, folds=2,
    ...                              input_kernel=7, state_kernel=3)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     res = train(LsparcomRecipe(cfg), pathlib.Path(d) / "l.pt", progress=False, echo=lambda line: None)
    >>> res.record.epochs, res.best_epoch
    (1, 1)
    """
    import torch
    from tqdm import tqdm

    from .. import __version__
    from .._device import resolve_device
    from ..io.atomic import atomic_path, write_json, write_text
    from ..io.weights import LoadedWeights, WeightsRecord, save_weights
    from .files import RESUME_FORMAT, prepare_training_files, read_resume_state

    config = recipe.config
    paths = prepare_training_files(output, resume=resume, overwrite=overwrite)
    dev = resolve_device(device)
    data = recipe.prepare(dev)
    with seeded(config.seed):
        net = recipe.place(recipe.build(), dev)
    run = _Run()
    run.stage = 0
    optimizer = recipe.optimizer(net, recipe.stages[0])
    scheduler = recipe.scheduler(optimizer, recipe.stages[0])
    epochs = [int(getattr(config, s.field)) for s in recipe.stages]
    total = sum(epochs)

    if resume:
        state = read_resume_state(paths["resume"], dev)
        changes = resume_changes(state["config"], config.as_dict(), recipe.stages, state["epoch"])
        if changes:
            raise InputError(f"{paths['resume']} was written with another configuration: " + "; ".join(changes)
                             + ". Only the number of epochs may grow on resume; start afresh with --overwrite")
        run.restore(state)
        net.load_state_dict(state["net"])
        optimizer = recipe.optimizer(net, recipe.stages[run.stage])
        optimizer.load_state_dict(state["optimizer"])
        scheduler = recipe.scheduler(optimizer, recipe.stages[run.stage])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
    start_epoch = len(run.history)
    seconds_before = sum(h["seconds"] for h in run.history)
    t0 = time.perf_counter()

    def log(line: str) -> None:
        run.log_lines.append(line)
        echo(line)

    def record_now() -> WeightsRecord:
        fields = recipe.weights_fields(data, run.history)
        return WeightsRecord(
            method=recipe.method, architecture=fields["architecture"], optics=fields["optics"],
            config=config.as_dict(), data=fields["data"], epochs=len(run.history), best_epoch=run.best_epoch,
            best_val_loss=run.best_val, validation={"final_train_loss": run.history[-1]["train_loss"],
                                                    **run.best_metrics},
            extra=fields["extra"], training={"pointillist_version": __version__, "device": str(dev),
                                             "seconds": seconds_before + time.perf_counter() - t0,
                                             "history": run.history})

    def write_files(record: WeightsRecord, with_resume: bool) -> None:
        save_weights(paths["weights"], run.best_state, record, overwrite=True)
        if with_resume:
            with atomic_path(paths["resume"], overwrite=True) as tmp:
                torch.save({"format": RESUME_FORMAT, "config": config.as_dict(), "net": net.state_dict(),
                            "optimizer": optimizer.state_dict(),
                            "scheduler": None if scheduler is None else scheduler.state_dict(),
                            "epoch": len(run.history), **run.as_state()}, tmp)
        write_json(paths["config"], record.to_dict(stored=True), overwrite=True)
        write_text(paths["log"], "\n".join(run.log_lines) + "\n", overwrite=True)

    if resume:
        log(f"resuming after epoch {start_epoch}")
    else:
        log(f"pointillist {__version__} {recipe.describe(data, net, dev)}")
    multi = len(recipe.stages) > 1
    for epoch in range(start_epoch, total):
        index = _stage_at(recipe, epoch)
        stage = recipe.stages[index]
        if index != run.stage:
            if stage.restart_from_best:
                net.load_state_dict(run.best_state)
                run.best_val = math.inf
            optimizer = recipe.optimizer(net, stage)
            scheduler = recipe.scheduler(optimizer, stage)
            run.stage = index
        t_epoch = time.perf_counter()
        net.train()
        gen = torch.Generator().manual_seed(config.seed * 100003 + epoch)
        loss_sum, count, maxima = 0.0, 0, {}
        lr = optimizer.param_groups[-1]["lr"]
        bar = tqdm(desc=f"epoch {epoch + 1}/{total}", disable=not progress, leave=False)
        for batch in recipe.batches(data, epoch, gen, dev):
            optimizer.zero_grad(set_to_none=True)
            step = recipe.loss(net, batch, data, stage, gen)
            step.objective.backward()
            if recipe.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(net.parameters(), recipe.grad_clip)
            optimizer.step()
            loss_sum += step.value * step.count
            count += step.count
            for k, v in step.maxima.items():
                maxima[k] = max(maxima.get(k, -math.inf), v)
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum / count:.4g}")
        bar.close()
        net.eval()
        val_loss, metrics = recipe.validate(net, data, dev)
        _step_scheduler(scheduler, val_loss)
        if not math.isfinite(val_loss):
            raise InputError(f"training diverged at epoch {epoch + 1} (validation loss {val_loss}); "
                             "lower --lr or change the seed")
        improved = val_loss < run.best_val
        if improved:
            run.best_val, run.best_epoch, run.best_metrics = val_loss, epoch + 1, dict(metrics)
            run.best_state = _state_copy(net)
        entry = {"epoch": epoch + 1, **({"stage": stage.name} if multi else {}), "train_loss": loss_sum / count,
                 "val_loss": val_loss, **metrics, "lr": lr, "seconds": time.perf_counter() - t_epoch, **maxima}
        run.history.append(entry)
        log(f"epoch {epoch + 1:3d}{f' {stage.name:5s}' if multi else ''}  train {entry['train_loss']:.5g}  "
            f"val {val_loss:.5g}{recipe.epoch_notes(entry)}  lr {lr:.2g}  {entry['seconds']:.0f} s"
            + ("  (best)" if improved else ""))
        write_files(record_now(), with_resume=True)

    with seeded(config.seed):
        best = recipe.build()
    best.load_state_dict(run.best_state)
    best = recipe.place(best, dev).eval()
    record = record_now()
    final = recipe.finish(best, data, dev)
    if final:
        record = replace(record, validation={**record.validation, **final})
    seconds = record.training["seconds"]
    log(f"best validation loss {run.best_val:.5g} at epoch {run.best_epoch}; {seconds:.0f} s -> {paths['weights']}")
    write_files(record, with_resume=False)
    from ..io.hashing import file_sha256

    record = replace(record, path=str(paths["weights"]), sha256=file_sha256(paths["weights"]))
    return TrainingResult(trained=LoadedWeights(net=best, record=record), history=run.history,
                          best_epoch=run.best_epoch, best_val_loss=run.best_val, seconds=seconds)
