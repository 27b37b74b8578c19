"""The dock widgets: Reconstruct from fluctuations, Localize, Simulate.

Each widget draws the options of its ``pointillist`` command (one input per
:class:`~pointillist.napari.options.Field`, its help as the tooltip; options a
method does not read are hidden), parses them with the command's own parser,
and runs the command's computation (:func:`pointillist.cli.reconstruct.compute`,
:func:`pointillist.cli.localize.compute`, :func:`pointillist.cli.simulate.simulation`)
in a worker thread. The library's progress bars drive the widget's bar
(:func:`pointillist.progress.follow_progress`); Cancel stops the run at its
next step. Errors appear as napari notifications with the command line's
message. Results are added as layers in nm over the input
(:mod:`pointillist.napari.layers`). From a script (a Qt application running)::

    widget = ReconstructWidget(viewer)
    widget.field("method").value = "sofi"
    widget.field("order").value = 3
    worker = widget.run()  # returns at once; the layers appear when it finishes
"""

from __future__ import annotations

import threading
import time

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, Label, LineEdit, ProgressBar, PushButton
from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QSizePolicy

from ..cli.main import error_message
from ..errors import InputError
from ..progress import Cancelled, follow_progress
from .layers import Placement, localization_layers, reconstruction_layers, simulation_layers
from .options import command_fields, parse_fields

__all__ = ["ReconstructWidget", "LocalizeWidget", "SimulateWidget", "add_layers"]

#: least time between two progress updates sent to the GUI (s)
_STEP_INTERVAL = 0.1
_DEFAULT = ""  # a list's entry for "the library's default"


def add_layers(viewer, layer_data) -> list:
    """Add ``(data, kwargs, layer_type)`` tuples to ``viewer``; returns the new layers."""
    return [getattr(viewer, f"add_{kind}")(data, **kwargs) for data, kwargs, kind in layer_data]


class _Relay(QObject):
    """Carries progress from the worker thread to the GUI thread (a queued Qt signal)."""

    step = Signal(str, int, int)


def _input_widget(field):
    common = {"label": field.label, "tooltip": field.help}
    if field.kind == "flag":
        return CheckBox(value=bool(field.default), **common)
    if field.kind == "choice":
        choices = [(str(c), c) for c in field.choices]
        if field.default is None:
            return ComboBox(choices=[("default", _DEFAULT), *choices], value=_DEFAULT, **common)
        return ComboBox(choices=choices, value=field.default, **common)
    if field.kind == "path":
        return FileEdit(mode="r", nullable=True, **common)
    return LineEdit(value=field.text(field.default), **common)


class _CommandWidget(Container):
    """A form for one or more ``pointillist`` commands, a Run / Cancel pair, a progress bar and a status line."""

    def __init__(self, napari_viewer, commands: tuple[str, ...], *, selector=None):
        super().__init__()
        self.viewer = napari_viewer
        self._selector = selector
        self._forms = {c: {f.dest: (f, _input_widget(f)) for f in command_fields(c)} for c in commands}
        self.run_button = PushButton(text="Run")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(value=0, min=0, max=1, label="progress")
        self.status = Label(value="")
        # a long message wraps instead of widening the dock
        self.status.native.setWordWrap(True)
        self.status.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.worker = None
        self.last_error: str | None = None
        self._cancel = threading.Event()
        self._last_step = self._started = 0.0
        self._relay = _Relay()
        self._relay.step.connect(self._show_step)
        if selector is not None:
            self.append(selector)
            selector.changed.connect(self._update_visible)
        self._extend_inputs()
        for command, form in self._forms.items():
            self.extend(widget for _, widget in form.values())
            if "method" in form:
                form["method"][1].changed.connect(self._update_visible)
        self.extend([self.run_button, self.cancel_button, self.progress, self.status])
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self._update_visible()

    # -- the form --------------------------------------------------------------------------------------------
    def _extend_inputs(self) -> None:
        """Widgets drawn above the options (the input layer)."""

    @property
    def command(self) -> str:
        """The command the form runs now."""
        return next(iter(self._forms)) if self._selector is None else f"simulate {self._selector.value}"

    def field(self, dest: str):
        """The input widget of option ``dest`` of the current command (``widget.field("lambda_ratio")``)."""
        return self._forms[self.command][dest][1]

    def _used(self, command: str) -> list:
        """``(field, widget)`` of the options that the command's current method reads."""
        form = self._forms[command]
        method = form["method"][1].value if "method" in form else None
        return [(f, w) for f, w in form.values() if f.methods is None or method in f.methods]

    def _update_visible(self, *_):
        shown = {id(w) for _, w in self._used(self.command)}
        for form in self._forms.values():
            for _, widget in form.values():
                widget.visible = id(widget) in shown

    def values(self) -> dict:
        """What the user set in the options that the current command and method read (option name -> value)."""
        return {f.dest: None if w.value == _DEFAULT else w.value for f, w in self._used(self.command)}

    def arguments(self, source: str = "the layer"):
        """The options as the command line's parser reads them (an ``argparse.Namespace``)."""
        return parse_fields(self.command, self.values(), source=source)

    # -- running ---------------------------------------------------------------------------------------------
    def _prepare(self):
        """``(job, label)``: the computation to run in the worker thread (returns layer data); checks first."""
        raise NotImplementedError

    def run(self, *_):
        """Start the command in a worker thread; returns the worker (None when the options are refused)."""
        # superqt's worker (napari's base) without napari's relay, which would add a traceback notification
        from superqt.utils import create_worker

        if self.worker is not None:
            return self.worker
        self.last_error = None
        try:
            job, what = self._prepare()
        except InputError as exc:
            self._failed(exc)
            return None
        self._cancel.clear()
        self.worker = worker = create_worker(self._in_thread, job, _start_thread=False, _connect={
            "returned": self._finished, "errored": self._failed, "finished": self._idle})
        self.run_button.enabled, self.cancel_button.enabled = False, True
        self.progress.max, self.progress.value = 0, 0
        self.status.value = f"running {what}..."
        self._started = time.monotonic()
        worker.start()
        return worker

    def cancel(self, *_):
        """Stop the running command at its next step; its partial results are dropped."""
        if self.worker is not None:
            self._cancel.set()
            self.status.value = "cancelling..."

    def _in_thread(self, job):
        with follow_progress(self._step):
            return job()

    def _step(self, desc, n, total):
        # runs in the worker thread: the only place a running computation can be stopped
        if self._cancel.is_set():
            raise Cancelled()
        now = time.monotonic()
        if now - self._last_step >= _STEP_INTERVAL or (total and n >= total):
            self._last_step = now
            self._relay.step.emit(str(desc or ""), int(n), int(total or 0))

    def _show_step(self, desc, n, total):
        if self.worker is None:
            return
        self.progress.max = total
        self.progress.value = min(n, total) if total else 0
        self.status.value = f"{desc}: {n}/{total}" if total else f"{desc}: {n}"

    def _finished(self, layer_data):
        if self._cancel.is_set():
            return
        from napari.utils.notifications import show_info

        layers = add_layers(self.viewer, layer_data)
        self.status.value = f"done in {time.monotonic() - self._started:.1f} s: {len(layers)} layers"
        show_info(f"pointillist: added {', '.join(layer.name for layer in layers)}")

    def _failed(self, exc):
        from napari.utils.notifications import show_error, show_info

        if isinstance(exc, Cancelled):
            self.status.value = "cancelled"
            show_info("pointillist: cancelled")
            return
        self.last_error = error_message(exc)
        self.status.value = self.last_error
        show_error(self.last_error)

    def _idle(self, *_):
        self.worker = None
        self.run_button.enabled, self.cancel_button.enabled = True, False
        self.progress.max, self.progress.value = 1, 0


class _LayerInputWidget(_CommandWidget):
    """A command that reads the frames of an image layer (reconstruct, localize)."""

    def _extend_inputs(self) -> None:
        self.layer = ComboBox(label="image layer", choices=self._image_layers,
                              tooltip="the stack to process (frames, rows, columns)")
        self.append(self.layer)
        events = self.viewer.layers.events
        for event in (events.inserted, events.removed):
            event.connect(self._refresh_layers)
        self.layer.changed.connect(self._fill_from_layer)
        self._fill_from_layer()

    def _image_layers(self, *_):
        from napari.layers import Image

        return [layer.name for layer in self.viewer.layers if isinstance(layer, Image) and layer.ndim == 3]

    def _refresh_layers(self, *_):
        self.layer.reset_choices()

    def input_layer(self):
        """The selected image layer (an ``InputError`` when there is none)."""
        name = self.layer.value
        if name is None or name not in self.viewer.layers:
            raise InputError("no image layer to process: open a stack (frames, rows, columns) first")
        return self.viewer.layers[name]

    def _fill_from_layer(self, *_):
        """Optics and calibration fields from the layer's scale and metadata, where they say something."""
        try:
            layer = self.input_layer()
        except InputError:
            return
        meta = layer.metadata or {}
        pixel = meta.get("pixel_size_nm")
        if pixel is None and not np.allclose(layer.scale[-2:], 1.0) and np.isclose(*layer.scale[-2:], rtol=1e-3):
            pixel = float(layer.scale[-1])
        filled = {"pixel_size": pixel, "offset": meta.get("offset"), "gain": meta.get("gain"),
                  "psf_fwhm": meta.get("psf_fwhm_nm")}
        for dest, value in filled.items():
            if value is not None:
                self.field(dest).value = f"{value:g}"

    def _placement(self, layer, pixel_nm: float) -> Placement:
        """Where results go: over the layer, whose scale becomes ``pixel_nm`` nm when it says otherwise."""
        from napari.utils.notifications import show_info

        scale, translate = np.asarray(layer.scale, float), np.asarray(layer.translate, float)
        if not np.allclose(scale[-2:], pixel_nm, rtol=1e-3):
            if np.allclose(scale[-2:], 1.0) and not translate[-2:].any():
                corner = np.zeros(2)  # napari's default placement: pointillist's, pixel (0, 0) at [0, p)
            else:  # keep the field where it was, in camera pixels; its world unit becomes nm
                corner = (translate[-2:] - scale[-2:] / 2) / scale[-2:] * pixel_nm
            scale[-2:] = pixel_nm
            translate[-2:] = corner + pixel_nm / 2
            layer.scale, layer.translate = tuple(scale), tuple(translate)
            layer.metadata = {**(layer.metadata or {}), "pixel_size_nm": pixel_nm}
            show_info(f"pointillist: layer {layer.name!r} now shown in nm ({pixel_nm:g} nm pixels)")
        return Placement.of_layer(layer.scale, layer.translate)

    def _prepare(self):
        from ..cli.common import optics_from_args

        layer = self.input_layer()
        args = self.arguments(source=f"layer {layer.name!r}")
        optics = optics_from_args(args)  # checked here, before the thread starts
        placement = self._placement(layer, optics.pixel_size_nm)
        data, source = layer.data, f"layer {layer.name!r}"
        compute = self._compute

        def job():
            from ..acquisition import as_acquisition
            from ..cli.common import open_input
            from ..io import check_finite_frames

            frames = np.asarray(data)
            if frames.ndim == 3:  # as the command line checks a file, naming the layer instead
                check_finite_frames(frames, source)
            acq, optics = open_input(args, raw=as_acquisition(frames))
            return compute(args, acq, optics, placement)

        return job, f"{args.method} on {layer.name}"


class ReconstructWidget(_LayerInputWidget):
    """Reconstruct from fluctuations: colorme (with its penalty), pnp-colorme, sofi, srrf, sparcom, lsparcom.

    Parameters
    ----------
    napari_viewer : napari.Viewer or napari.components.ViewerModel
    """

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer, ("reconstruct",))

    @staticmethod
    def _compute(args, acq, optics, placement):
        from ..cli.reconstruct import compute

        result, label = compute(args, acq, optics)
        return reconstruction_layers(result, placement, label=label)


class LocalizeWidget(_LayerInputWidget):
    """Localize single molecules frame by frame: cel0, deepcel0, deepstorm-relu, deepstorm.

    Parameters
    ----------
    napari_viewer : napari.Viewer or napari.components.ViewerModel
    """

    def __init__(self, napari_viewer):
        super().__init__(napari_viewer, ("localize",))

    @staticmethod
    def _compute(args, acq, optics, placement):
        from ..cli.localize import compute

        return localization_layers(compute(args, acq, optics), placement, label=args.method)


class SimulateWidget(_CommandWidget):
    """Simulate an SMLM, fluctuation or MA-TIRF stack with its ground truth (``pointillist simulate``).

    Parameters
    ----------
    napari_viewer : napari.Viewer or napari.components.ViewerModel
    """

    KINDS = ("fluct", "smlm", "matirf")

    def __init__(self, napari_viewer):
        kind = ComboBox(label="kind", choices=self.KINDS, value="fluct",
                        tooltip="fluct: blinking emitters (COL0RME, SOFI...); smlm: sparse activations (localize); "
                        "matirf: one fluctuation stack per TIRF angle with depths")
        super().__init__(napari_viewer, tuple(f"simulate {k}" for k in self.KINDS), selector=kind)

    def _prepare(self):
        args = self.arguments(source="napari")
        kind = self._selector.value

        def job():
            from ..cli.simulate import simulation

            sim, _ = simulation(args)
            return simulation_layers(sim, name=f"{kind} seed {sim.meta['seed']}")

        return job, f"simulate {kind}"
