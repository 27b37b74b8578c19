"""The screenshot of the README: napari with a COL0RME result over its input, made with the plugin's widgets.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python scripts/napari_screenshot.py [docs/napari_colorme.png]

Needs ``pointillist[napari]`` and a display with OpenGL (Xvfb with Mesa on a headless machine: Debian's
``xvfb`` and ``libgl1``, ``libegl1`` and the ``libxcb-*`` libraries Qt's xcb platform loads). Opens the
plugin's "Blinking filaments" sample (32 x 32 camera pixels of 100 nm, 300 frames, seed 7), docks
"Reconstruct from fluctuations", runs colorme with its defaults, and saves the whole window.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

with warnings.catch_warnings():  # napari's models use pydantic APIs that pydantic 2 deprecates
    warnings.simplefilter("ignore", DeprecationWarning)
    import napari


def main(out: Path) -> None:
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(title="pointillist in napari")
    viewer.window.resize(1400, 900)
    viewer.open_sample("pointillist", "fluct")
    _, widget = viewer.window.add_plugin_dock_widget("pointillist", "Reconstruct from fluctuations")
    widget.field("method").value = "colorme"
    widget.run()
    app = QApplication.instance()
    started = time.monotonic()
    while widget.worker is not None:
        if time.monotonic() - started > 600:
            raise SystemExit("COL0RME did not finish in 10 minutes")
        app.processEvents()
        time.sleep(0.01)
    if widget.last_error:
        raise SystemExit(widget.last_error)
    for layer in viewer.layers:  # the input's mean frame under the super-resolved intensity and its support
        if layer.name.endswith("fluctuation stack"):
            layer.data = np.asarray(layer.data).mean(axis=0, keepdims=True)
            layer.name = "input (mean frame)"
        layer.visible = layer.name in ("input (mean frame)", "COL0RME-CEL0 intensity")
    viewer.layers.selection.active = viewer.layers["COL0RME-CEL0 intensity"]
    viewer.reset_view()
    from napari.utils.notifications import notification_manager

    notification_manager.records.clear()
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    image = viewer.screenshot(canvas_only=False, flash=False)
    import matplotlib.pyplot as plt

    out.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(out, image)
    print(f"wrote {out} ({image.shape[1]} x {image.shape[0]} px); status: {widget.status.value}")
    viewer.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/napari_colorme.png"))
