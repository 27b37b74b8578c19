"""One convention for randomness: every random step takes ``rng``."""

from __future__ import annotations

import numpy as np

RNGLike = int | np.random.Generator | None


def as_rng(rng: RNGLike) -> np.random.Generator:
    """Normalise ``rng`` (seed, Generator or None) to a ``numpy.random.Generator``.

    Examples
    --------
    >>> bool(as_rng(3).integers(10) == as_rng(3).integers(10))
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be an int seed, a numpy Generator or None, got {type(rng).__name__}")


def torch_generator(rng: np.random.Generator, device="cpu"):
    """A ``torch.Generator`` seeded from ``rng`` (so torch code follows the same seed)."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(int(rng.integers(0, 2**63 - 1)))
    return gen
