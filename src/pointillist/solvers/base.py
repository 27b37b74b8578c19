"""What solvers share: options, history and result containers."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["SolverOptions", "History", "SolverResult", "relative_change"]


@dataclass(frozen=True)
class SolverOptions:
    """Iteration controls.

    Parameters
    ----------
    max_iter : int
        Iteration cap.
    tol : float
        Stop when the relative change of the iterate (and of every auxiliary
        scalar the smooth term reports, e.g. the noise variance ``s``) falls
        below ``tol``.
    restart : bool
        Adaptive (gradient) restart of the momentum (O'Donoghue and Candes 2015).
    record_objective : bool
        Evaluate the objective at every iteration for the history.
    """

    max_iter: int = 2000
    tol: float = 1e-5
    restart: bool = True
    record_objective: bool = True


@dataclass
class History:
    """Per-iteration records: objective, relative change and auxiliary scalars."""

    objective: list = field(default_factory=list)
    rel_change: list = field(default_factory=list)
    aux: dict = field(default_factory=dict)

    def append(self, objective, rel_change, aux: dict):
        self.objective.append(objective)
        self.rel_change.append(rel_change)
        for key, value in aux.items():
            self.aux.setdefault(key, []).append(value)

    def extend(self, other: "History"):
        self.objective += other.objective
        self.rel_change += other.rel_change
        for key, values in other.aux.items():
            self.aux.setdefault(key, []).extend(values)

    def as_dict(self) -> dict:
        return {"objective": list(self.objective), "rel_change": list(self.rel_change), **{k: list(v) for k, v in self.aux.items()}}


@dataclass
class SolverResult:
    x: torch.Tensor
    history: History
    n_iter: int
    converged: bool


def relative_change(new, old) -> float:
    """``|new - old| / |old|`` (``|new|`` if ``old`` is zero), for tensors or floats."""
    if isinstance(new, torch.Tensor):
        diff = torch.linalg.vector_norm(new - old).item()
        ref = torch.linalg.vector_norm(old).item() or torch.linalg.vector_norm(new).item()
    else:
        diff, ref = abs(new - old), abs(old) or abs(new)
    return diff / ref if ref > 0 else 0.0
