"""Simulator: structures, blinking and activations, PSF rendering, camera noise, multi-angle TIRF."""

from .api import FluctuationSimulation, SMLMSimulation, make_structure, simulate_fluctuation, simulate_smlm
from .camera import Camera, add_noise_at_snr, apply_camera, smooth_background
from .dynamics import blinking, smlm_activations, snap_to_grid
from .matirf import MATIRFSimulation, simulate_matirf
from .render import render_events, render_fixed_emitters
from .structures import emitter_circle, emitter_pair, filaments, random_points, rings

__all__ = [
    "simulate_smlm",
    "simulate_fluctuation",
    "simulate_matirf",
    "MATIRFSimulation",
    "SMLMSimulation",
    "FluctuationSimulation",
    "make_structure",
    "Camera",
    "apply_camera",
    "add_noise_at_snr",
    "smooth_background",
    "blinking",
    "smlm_activations",
    "snap_to_grid",
    "render_events",
    "render_fixed_emitters",
    "filaments",
    "random_points",
    "rings",
    "emitter_pair",
    "emitter_circle",
]
