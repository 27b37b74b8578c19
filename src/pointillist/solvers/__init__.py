"""Solvers: FISTA with restart, proximal gradient, IRL1, plug-and-play proximal gradient, conjugate gradient."""

from .base import History, SolverOptions, SolverResult, relative_change
from .cg import conjugate_gradient
from .fista import fista, proximal_gradient
from .irl1 import irl1
from .pnp import pnp_proximal_gradient

__all__ = ["SolverOptions", "History", "SolverResult", "relative_change", "fista", "proximal_gradient", "irl1",
           "pnp_proximal_gradient", "conjugate_gradient"]
