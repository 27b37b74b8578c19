"""PnP-COL0RME: COL0RME's support step with a learned gradient-step denoiser as proximal map."""

from .api import pnp_colorme
from .support import COVARIANCE_MODELS, DEFAULT_MU, DEFAULT_SIGMA, DEFAULT_THRESHOLD, PnPSupportResult, pnp_support

__all__ = ["pnp_colorme", "pnp_support", "PnPSupportResult", "COVARIANCE_MODELS", "DEFAULT_MU", "DEFAULT_SIGMA",
           "DEFAULT_THRESHOLD"]
