"""The napari plugin, headless: options from the CLI's parsers, widgets that run each method family on a tiny
stack in a worker thread and add layers in nm over the input, progress, Cancel, errors, the reader, the
manifest. Needs ``pointillist[napari]``; skipped without it. Widgets run against napari's ``ViewerModel``
(no OpenGL); the test with a real viewer runs where a display is available (``xvfb-run``)."""

import os
import time
import warnings

import numpy as np
import pytest

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
with warnings.catch_warnings():  # napari's models use pydantic APIs that pydantic 2 deprecates
    warnings.simplefilter("ignore", DeprecationWarning)
    napari = pytest.importorskip("napari")
    from napari.components import ViewerModel

from pointillist.cli.main import build_parser, main  # noqa: E402
from pointillist.napari.layers import Placement, fine_image, points_layer  # noqa: E402
from pointillist.napari.options import command_fields, command_parser, parse_fields  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TIMEOUT_S = 120


@pytest.fixture(scope="module")
def qapp():
    from qtpy.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def _wait(app, widget, timeout=TIMEOUT_S):
    start = time.monotonic()
    while widget.worker is not None:
        assert time.monotonic() - start < timeout, f"the worker did not finish in {timeout} s"
        app.processEvents()
        time.sleep(0.005)
    app.processEvents()


@pytest.fixture(scope="module")
def fluct(qapp):
    """A viewer holding a simulated 16 x 16 x 120 fluctuation stack, made by the Simulate widget."""
    from pointillist.napari.widgets import SimulateWidget

    viewer = ViewerModel()
    widget = SimulateWidget(viewer)
    for dest, value in {"size": "16", "frames": "120", "seed": "3", "n_structures": "2"}.items():
        widget.field(dest).value = value
    widget.run()
    _wait(qapp, widget)
    assert widget.last_error is None
    return viewer


# -- options: the CLI's parsers are the one source ------------------------------------------------------------
@pytest.mark.parametrize("command", ["reconstruct", "localize", "simulate smlm", "simulate fluct", "simulate matirf"])
def test_every_option_of_the_command_has_a_field_but_files_and_terminal_ones(command):
    parser = command_parser(command)
    options = {a.dest for a in parser._actions if a.option_strings} - {"help"}
    fields = {f.dest for f in command_fields(command)}
    left_out = {"output", "overwrite", "force_overwrite", "quiet", "format", "no_preview", "workers", "scheduler"}
    assert fields == options - left_out
    assert all(f.help for f in command_fields(command))


@pytest.mark.parametrize("values, argv", [
    ({"method": "colorme", "penalty": "l1", "lambda_ratio": "0.02"}, ["--penalty", "l1", "--lambda-ratio", "0.02"]),
    ({"method": "sofi", "order": 3, "balanced": True}, ["--method", "sofi", "--order", "3", "--balanced"]),
    ({"method": "srrf", "offset": "auto", "pixel_size": "65"}, ["--method", "srrf", "--offset", "auto",
                                                                "--pixel-size", "65"]),
])
def test_fields_parse_to_the_namespace_of_the_command_line(values, argv):
    cli = build_parser().parse_args(["reconstruct", "layer 'x'", "-o", "napari", *argv])
    assert vars(parse_fields("reconstruct", values, source="layer 'x'")) == vars(cli) | {"quiet": False}


def test_simulate_fields_set_the_kind_as_the_command_line_does():
    args = parse_fields("simulate matirf", {"size": "24 20", "depth_range": "0 200"})
    assert (args.kind, args.size, args.depth_range) == ("matirf", [24, 20], [0.0, 200.0])


def test_a_bad_value_is_refused_with_the_parsers_message():
    from pointillist.errors import InputError

    with pytest.raises(InputError, match=r"argument --upsample: invalid int value: '2.5'"):
        parse_fields("reconstruct", {"upsample": "2.5"})
    with pytest.raises(InputError, match=r"argument --penalty: invalid choice: 'l0'"):
        parse_fields("reconstruct", {"penalty": "l0"})


# -- layers: one geometry for images, labels and points ----------------------------------------------------
def test_fine_pixels_and_localizations_overlay_the_camera_pixel_they_fall_in():
    from pointillist.localizations import Localizations

    placement = Placement.of_layer((1.0, 100.0, 100.0), (0.0, 300.0, -50.0))  # a layer moved in the viewer
    assert placement.corner_nm == (250.0, -100.0)
    _, kw, _ = fine_image(np.zeros((8, 8)), placement, upsample=4, name="x")
    fine_centres = kw["translate"][1] + kw["scale"][1] * np.arange(4)  # the 4 fine columns of camera column 0
    assert fine_centres.mean() == pytest.approx(-50.0)  # = the layer's centre of camera column 0
    locs = Localizations(frame=[2], x_nm=[50.0], y_nm=[150.0])  # centre of camera pixel (1, 0), frame 2
    data, kw, kind = points_layer(locs, placement, name="p")
    assert kind == "points" and data.tolist() == [[2.0, 400.0, -50.0]]  # layer: row 1 at 300 + 100, col 0 at -50
    assert kw["features"]["frame"].tolist() == [3]


# -- widgets -----------------------------------------------------------------------------------------------
def _layers(viewer, before):
    return [layer for layer in viewer.layers if layer.name not in before]


@pytest.mark.parametrize("method, expected", [
    ("colorme", {"Image": 2, "Labels": 1}),
    ("pnp-colorme", {"Image": 2, "Labels": 1}),
    ("sofi", {"Image": 1}),
    ("srrf", {"Image": 1}),
    ("sparcom", {"Image": 1, "Labels": 1}),
    ("lsparcom", {"Image": 1, "Labels": 1}),
])
def test_reconstruct_widget_adds_layers_on_the_fine_grid_over_the_input(qapp, fluct, method, expected):
    from pointillist.napari.widgets import ReconstructWidget

    widget = ReconstructWidget(fluct)
    stack = fluct.layers[widget.layer.value]
    assert widget.field("pixel_size").value == "100" and widget.field("offset").value == "100"  # from metadata
    widget.field("method").value = method
    if method == "pnp-colorme":
        widget.field("max_iter").value = "60"
    before = {layer.name for layer in fluct.layers}
    steps = []
    widget._relay.step.connect(lambda *step: steps.append(step))
    widget.run()
    _wait(qapp, widget)
    assert widget.last_error is None, widget.last_error
    new = _layers(fluct, before)
    kinds = {}
    for layer in new:
        kinds[type(layer).__name__] = kinds.get(type(layer).__name__, 0) + 1
    assert kinds == expected
    for layer in new:
        pixel = layer.scale[-1]
        assert pixel in (25.0, 100.0)
        # every layer covers the input's field exactly: same outer corner, same extent in nm
        assert layer.translate[-1] - pixel / 2 == pytest.approx(stack.translate[-1] - stack.scale[-1] / 2)
        assert layer.data.shape[-1] * pixel == pytest.approx(stack.data.shape[-1] * stack.scale[-1])
    if method in ("colorme", "sparcom"):  # methods with an iteration bar report it
        assert steps


@pytest.mark.parametrize("method", ["cel0", "deepcel0", "deepstorm-relu", "deepstorm"])
def test_localize_widget_adds_points_with_frames_leading_and_intensity(qapp, method):
    from pointillist.napari.widgets import LocalizeWidget

    viewer = ViewerModel()
    sim = _smlm_stack()
    viewer.add_image(sim.stack, name="smlm")  # as napari's own TIFF reader gives it: pixel units, no metadata
    widget = LocalizeWidget(viewer)
    widget.field("method").value = method
    widget.field("offset").value = "50"
    assert ("weights" if method == "cel0" else "lam") not in widget.values()
    widget.run()
    _wait(qapp, widget)
    assert widget.last_error is None, widget.last_error
    stack, render, points = viewer.layers
    assert tuple(stack.scale) == (1.0, 100.0, 100.0)  # the input is now shown in nm
    assert tuple(render.scale) == (25.0, 25.0)
    assert points.data.shape[1] == 3 and len(points.data) > 0
    assert set(points.data[:, 0]) <= set(range(sim.stack.shape[0]))
    assert "intensity" in points.features and np.all(points.features["intensity"] > 0)
    # most localizations sit within 100 nm of a true emitter of their frame
    truth = sim.ground_truth
    near = [np.min(np.hypot(truth.x_nm[truth.frame == f] - x, truth.y_nm[truth.frame == f] - y), initial=1e9) < 100
            for f, y, x in points.data]
    assert np.mean(near) > 0.7


_SMLM = {}


def _smlm_stack():
    if "sim" not in _SMLM:
        args = parse_fields("simulate smlm", {"size": "16", "frames": "4", "seed": "2", "snr": "20"})
        from pointillist.cli.simulate import simulation

        _SMLM["sim"] = simulation(args)[0]
    return _SMLM["sim"]


def test_options_a_method_does_not_read_are_hidden_and_not_passed(qapp):
    from pointillist.napari.widgets import ReconstructWidget

    widget = ReconstructWidget(ViewerModel())
    widget.field("penalty").value = "tv"
    widget.field("method").value = "sofi"
    assert "penalty" not in widget.values()
    assert widget.arguments().penalty is None  # else the CLI's check would refuse it for sofi
    widget.field("method").value = "colorme"
    assert "penalty" in widget.values() and widget.arguments().penalty == "tv"


def test_errors_are_notified_with_the_command_lines_message(qapp, tmp_path, capsys):
    from pointillist.io import write_tiff
    from pointillist.napari.widgets import ReconstructWidget

    frames = np.random.default_rng(0).poisson(20.0, (30, 12, 12)).astype(np.float32)
    frames[3, 4, 5] = np.nan
    viewer = ViewerModel()
    viewer.add_image(frames, name="bad")
    widget = ReconstructWidget(viewer)
    widget.field("method").value = "sofi"
    widget.run()
    _wait(qapp, widget)
    write_tiff(tmp_path / "bad.tif", frames, allow_nan=True)
    capsys.readouterr()
    assert main(["reconstruct", str(tmp_path / "bad.tif"), "-o", str(tmp_path / "out"), "--method", "sofi",
                 "--quiet"]) == 2
    cli = capsys.readouterr().err.strip()
    assert widget.last_error == cli.replace(str(tmp_path / "bad.tif"), "layer 'bad'")
    assert [layer.name for layer in viewer.layers] == ["bad"]  # nothing added
    widget.field("upsample").value = "x"  # refused before a thread starts
    assert widget.run() is None and widget.last_error == "pointillist: error: argument --upsample: invalid int " \
        "value: 'x'"


def test_cancel_stops_the_run_at_its_next_step_and_adds_nothing(qapp):
    from pointillist.napari.widgets import ReconstructWidget

    frames = np.random.default_rng(1).poisson(50.0, (400, 48, 48)).astype(np.float32)
    viewer = ViewerModel()
    viewer.add_image(frames, name="long")
    widget = ReconstructWidget(viewer)
    widget.field("method").value = "sparcom"
    widget.field("max_iter").value = "100000"
    widget.field("upsample").value = "8"
    started = time.monotonic()
    widget.run()
    while widget.progress.value == 0 and time.monotonic() - started < 60:  # wait for the first step
        qapp.processEvents()
        time.sleep(0.005)
    widget.cancel()
    _wait(qapp, widget, timeout=30)
    assert widget.status.value == "cancelled" and widget.last_error is None
    assert [layer.name for layer in viewer.layers] == ["long"]
    assert widget.run_button.enabled and not widget.cancel_button.enabled


def test_simulate_widget_adds_the_stack_and_its_ground_truth_in_nm(qapp, fluct):
    names = [layer.name for layer in fluct.layers]
    stack = fluct.layers[names[0]]
    assert stack.data.shape == (120, 16, 16) and tuple(stack.scale) == (1.0, 100.0, 100.0)
    assert stack.metadata["offset"] == 100.0 and stack.metadata["simulation"]["seed"] == 3
    truth = fluct.layers[names[1]]
    assert type(truth).__name__ == "Labels" and tuple(truth.scale) == (25.0, 25.0)


def test_sample_data_is_the_command_lines_simulation_with_a_fixed_seed():
    from pointillist.napari.sample_data import smlm_sample

    first, second = smlm_sample(), smlm_sample()
    assert np.array_equal(first[0][0], second[0][0])
    assert first[0][2] == "image" and first[1][2] == "points"


# -- reader ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    assert main(["simulate", "fluct", str(root / "sim"), "--size", "16", "--frames", "100", "--seed", "4",
                 "--no-preview"]) == 0
    assert main(["reconstruct", str(root / "sim" / "stack.tif"), "-o", str(root / "sparcom"), "--method",
                 "sparcom", "--offset", "100", "--quiet"]) == 0
    assert main(["simulate", "smlm", str(root / "smlm"), "--size", "16", "--frames", "3", "--seed", "4",
                 "--no-preview"]) == 0
    assert main(["localize", str(root / "smlm" / "stack.tif"), "-o", str(root / "loc"), "--method", "cel0",
                 "--offset", "50", "--quiet"]) == 0
    return root


def test_reader_opens_a_reconstruction_folder_as_layers_placed_by_their_pixel_size(run_folders):
    from pointillist.napari.reader import get_reader

    reader = get_reader(str(run_folders / "sparcom"))
    layers = {kw["name"].split()[-1]: (data, kw, kind) for data, kw, kind in reader(str(run_folders / "sparcom"))}
    assert set(layers) == {"intensity", "support"}
    assert layers["support"][2] == "labels" and layers["intensity"][2] == "image"
    assert layers["intensity"][1]["scale"] == (25.0, 25.0) and layers["intensity"][1]["translate"] == (12.5, 12.5)


def test_reader_opens_localizations_as_points_in_nm(run_folders):
    from pointillist.io import read_localizations
    from pointillist.napari.reader import get_reader

    csv = run_folders / "loc" / "localizations.csv"
    locs = read_localizations(csv)
    (data, kw, kind), = get_reader(str(csv))(str(csv))
    assert kind == "points" and np.allclose(data, np.column_stack([locs.frame, locs.y_nm, locs.x_nm]))
    folder = {kw["name"]: kind for _, kw, kind in get_reader(str(run_folders / "loc"))(str(run_folders / "loc"))}
    assert sorted(folder.values()) == ["image", "points"]


def test_reader_declines_other_files_and_names_a_broken_record(run_folders, tmp_path):
    from pointillist.errors import InputError
    from pointillist.napari.reader import get_reader

    assert get_reader(str(run_folders / "sim" / "stack.tif")) is None
    assert get_reader(str(run_folders / "sim")) is None  # a simulation folder has meta.json, no run.json
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(InputError, match="run.json is not a readable run record"):
        get_reader(str(tmp_path))(str(tmp_path))


# -- manifest ----------------------------------------------------------------------------------------------
def test_the_manifest_is_valid_and_every_command_imports():
    import importlib

    import npe2

    manifest = npe2.PluginManifest.from_distribution("pointillist")
    for command in manifest.contributions.commands:
        module, name = command.python_name.split(":")
        assert callable(getattr(importlib.import_module(module), name))
    assert {w.display_name for w in manifest.contributions.widgets} == {
        "Reconstruct from fluctuations", "Localize", "Simulate"}


# -- a real viewer (OpenGL): where a display is available ---------------------------------------------------
@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no display for an OpenGL viewer (run under xvfb-run)")
def test_in_a_viewer_tiffs_opened_by_napari_get_colorme_and_deepcel0_overlaid(qapp, tmp_path):
    # the issue's user: opens TIFFs with napari's own reader (pixel units, no metadata), runs the widgets
    assert main(["simulate", "fluct", str(tmp_path / "fluct"), "--size", "16", "--frames", "120", "--seed", "3",
                 "--no-preview"]) == 0
    assert main(["simulate", "smlm", str(tmp_path / "smlm"), "--size", "16", "--frames", "4", "--seed", "2",
                 "--no-preview"]) == 0
    viewer = napari.Viewer(show=False)
    try:
        fluct, = viewer.open(tmp_path / "fluct" / "stack.tif", plugin="napari", name="fluct")
        smlm, = viewer.open(tmp_path / "smlm" / "stack.tif", plugin="napari", name="smlm")
        _, reconstruct = viewer.window.add_plugin_dock_widget("pointillist", "Reconstruct from fluctuations")
        _, localize = viewer.window.add_plugin_dock_widget("pointillist", "Localize")
        for widget, layer, method, offset in ((reconstruct, "fluct", "colorme", "100"),
                                              (localize, "smlm", "deepcel0", "50")):
            widget.layer.value = layer
            widget.field("method").value = method
            widget.field("offset").value = offset
            widget.run()
            _wait(qapp, widget)
            assert widget.last_error is None
        names = [layer.name for layer in viewer.layers]
        assert {"COL0RME-CEL0 intensity", "COL0RME-CEL0 support", "deepcel0 localizations"} <= set(names)
        for stack in (fluct, smlm):
            assert tuple(stack.scale) == (1.0, 100.0, 100.0) and tuple(stack.translate) == (0.0, 50.0, 50.0)
        intensity = viewer.layers["COL0RME-CEL0 intensity"]
        assert tuple(intensity.scale) == (25.0, 25.0) and tuple(intensity.translate) == (12.5, 12.5)
        assert viewer.screenshot(canvas_only=True, flash=False).shape[-1] == 4
    finally:
        viewer.close()
