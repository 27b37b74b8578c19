"""napari sample data: small simulated stacks with their ground truth, made by ``pointillist simulate``.

Each sample is the simulation the command line makes with the options shown
(same defaults), with a fixed seed so that the same sample gives the same
bytes. The stack's layer metadata holds its pixel size, camera offset and gain,
which the widgets read.
"""

from __future__ import annotations

__all__ = ["fluctuation_sample", "smlm_sample", "matirf_sample", "SAMPLES"]

#: sample -> the options of ``pointillist simulate`` it runs with
SAMPLES = {
    "fluct": {"size": "32", "frames": "300", "seed": "7"},
    "smlm": {"size": "64", "frames": "20", "density": "6", "snr": "12", "seed": "1"},
    "matirf": {"size": "24", "frames": "150", "snr": "15", "seed": "3"},
}


def _sample(kind: str) -> list[tuple]:
    from ..cli.simulate import simulation
    from .layers import simulation_layers
    from .options import parse_fields

    sim, _ = simulation(parse_fields(f"simulate {kind}", SAMPLES[kind]))
    return simulation_layers(sim, name=f"sample {kind}")


def fluctuation_sample() -> list[tuple]:
    """Blinking filaments, 32 x 32 camera pixels of 100 nm, 300 frames (the COL0RME demo of ``make demo``)."""
    return _sample("fluct")


def smlm_sample() -> list[tuple]:
    """Sparse activations on tubes, 64 x 64 pixels, 20 frames at 12 dB (the DeepCEL0 demo of ``make demo``)."""
    return _sample("smlm")


def matirf_sample() -> list[tuple]:
    """Multi-angle TIRF stacks (13 angles x 150 frames of 24 x 24 pixels) with the true depth map."""
    return _sample("matirf")
