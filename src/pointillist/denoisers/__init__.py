"""Learned denoisers used as proximal maps (plug-and-play): the gradient-step DRUNet."""

from .drunet import DRUNetLight
from .gradient_step import DenoiserOutput, GradientStepDenoiser, hessian_spectral_norm, load_denoiser

__all__ = ["DRUNetLight", "GradientStepDenoiser", "DenoiserOutput", "hessian_spectral_norm", "load_denoiser"]
