"""The linear-operator abstraction every method builds on.

An operator maps tensors of shape ``(*batch, *in_shape)`` to
``(*batch, *out_shape)`` and knows its adjoint. Solvers read ``norm()`` to
set their step sizes; tests read ``check_adjoint``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import InputError

__all__ = ["LinearOperator", "Composition", "check_adjoint", "power_iteration"]


class LinearOperator:
    """Base class: subclasses set ``in_shape``/``out_shape`` and implement ``_forward``/``_adjoint``.

    The operator is stored independently of device and dtype; it follows the
    device and dtype of the tensor it is applied to.

    Examples
    --------
    >>> from pointillist.operators import Binning
    >>> op = Binning(fine_shape=(4, 6), factor=2)
    >>> op.in_shape, op.out_shape
    ((4, 6), (2, 3))
    >>> op(torch.ones(4, 6, dtype=torch.float64))[0, 0].item()
    4.0
    """

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    def __init__(self):
        self._cache: dict = {}

    # -- to be implemented -------------------------------------------------
    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # -- public ------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the operator to ``x`` of shape ``(*batch, *in_shape)``."""
        _check_trailing(x, self.in_shape, type(self).__name__, "input")
        return self._forward(x)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Apply the adjoint to ``y`` of shape ``(*batch, *out_shape)``."""
        _check_trailing(y, self.out_shape, type(self).__name__, "adjoint input")
        return self._adjoint(y)

    __call__ = forward

    def normal(self, x: torch.Tensor) -> torch.Tensor:
        """``A^T A x``."""
        return self.adjoint(self.forward(x))

    def __matmul__(self, other: "LinearOperator") -> "Composition":
        return Composition(self, other)

    def norm(self, *, max_iter: int = 500, tol: float = 1e-7, rng=0, device=None) -> float:
        """Spectral norm ``|A|_2`` by power iteration on ``A^T A`` (float64).

        The value is cached; step sizes ``1/|A|^2`` are then safe for the
        gradient of ``1/2 |A x - y|^2``.
        """
        key = ("norm", str(device), max_iter, tol)
        if key not in self._cache:
            lam = power_iteration(self.normal, self.in_shape, max_iter=max_iter, tol=tol, rng=rng, device=device)
            self._cache[key] = math.sqrt(max(lam, 0.0))
        return self._cache[key]

    def _tensor(self, name: str, array: np.ndarray, like: torch.Tensor) -> torch.Tensor:
        """``array`` as a tensor on the device and dtype of ``like`` (cached)."""
        key = (name, like.device, like.dtype)
        if key not in self._cache:
            self._cache[key] = torch.as_tensor(array, dtype=like.dtype, device=like.device)
        return self._cache[key]


def _check_trailing(t, shape, name, what):
    if not isinstance(t, torch.Tensor):
        raise InputError(f"{name}: {what} must be a torch tensor, got {type(t).__name__}")
    if tuple(t.shape[t.ndim - len(shape):]) != tuple(shape) or t.ndim < len(shape):
        raise InputError(f"{name}: {what} must end with shape {tuple(shape)}, got {tuple(t.shape)}")


class Composition(LinearOperator):
    """``outer o inner``: apply ``inner`` first.

    Examples
    --------
    >>> from pointillist.operators import Binning
    >>> op = Binning(fine_shape=(4, 4), factor=2) @ Binning(fine_shape=(8, 8), factor=2)
    >>> op.in_shape, op.out_shape
    ((8, 8), (2, 2))
    """

    def __init__(self, outer: LinearOperator, inner: LinearOperator):
        super().__init__()
        if tuple(inner.out_shape) != tuple(outer.in_shape):
            raise InputError(
                f"cannot compose: inner output shape {inner.out_shape} != outer input shape {outer.in_shape}"
            )
        self.outer, self.inner = outer, inner
        self.in_shape, self.out_shape = tuple(inner.in_shape), tuple(outer.out_shape)

    def _forward(self, x):
        return self.outer.forward(self.inner.forward(x))

    def _adjoint(self, y):
        return self.inner.adjoint(self.outer.adjoint(y))


def power_iteration(apply, shape, *, max_iter=500, tol=1e-7, rng=0, device=None) -> float:
    """Largest eigenvalue of a symmetric positive semi-definite map by power iteration.

    Examples
    --------
    >>> round(power_iteration(lambda x: 3 * x, (5,)), 6)
    3.0
    """
    gen = torch.Generator(device="cpu").manual_seed(int(rng))
    x = torch.randn(tuple(shape), generator=gen, dtype=torch.float64).to(device or "cpu")
    x /= torch.linalg.vector_norm(x)
    lam = 0.0
    for _ in range(max_iter):
        y = apply(x)
        new = torch.vdot(x.reshape(-1), y.reshape(-1)).item()
        n = torch.linalg.vector_norm(y)
        if n == 0:
            return 0.0
        x = y / n
        if abs(new - lam) <= tol * abs(new):
            return new
        lam = new
    return lam


def check_adjoint(op: LinearOperator, *, rng=0, dtype=torch.float64, device="cpu", batch=()) -> float:
    """Relative mismatch of ``<A x, y>`` and ``<x, A^T y>`` for random ``x``, ``y``.

    Returns ``|<Ax, y> - <x, A^T y>| / (|A x| |y|)``; about 1e-16 in float64
    for a correct adjoint.

    Examples
    --------
    >>> from pointillist.operators import Binning
    >>> check_adjoint(Binning(fine_shape=(6, 6), factor=3)) < 1e-12
    True
    """
    gen = torch.Generator(device="cpu").manual_seed(int(rng))
    x = torch.randn((*batch, *op.in_shape), generator=gen, dtype=dtype).to(device)
    y = torch.randn((*batch, *op.out_shape), generator=gen, dtype=dtype).to(device)
    ax = op.forward(x)
    aty = op.adjoint(y)
    lhs = torch.sum(ax * y).item()
    rhs = torch.sum(x * aty).item()
    scale = torch.linalg.vector_norm(ax).item() * torch.linalg.vector_norm(y).item()
    return abs(lhs - rhs) / max(scale, 1e-300)
