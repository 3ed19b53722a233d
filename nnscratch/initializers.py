"""Weight initializers: ``init(fan_in, fan_out, rng, dtype) -> (fan_in, fan_out)`` arrays."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._validation import check_choice

Initializer = Callable[[int, int, np.random.Generator, np.dtype], np.ndarray]


def he(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """He normal: std ``sqrt(2 / fan_in)``, which keeps ReLU activations' variance constant across layers."""
    return _normal(fan_in, fan_out, np.sqrt(2.0 / fan_in), rng, dtype)


def xavier(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """Glorot/Xavier normal: std ``sqrt(2 / (fan_in + fan_out))``, suited to tanh and sigmoid."""
    return _normal(fan_in, fan_out, np.sqrt(2.0 / (fan_in + fan_out)), rng, dtype)


def small(fan_in: int, fan_out: int, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """Standard normal times 0.01, as many tutorials do (kept so their results can be reproduced)."""
    return _normal(fan_in, fan_out, 0.01, rng, dtype)


def _normal(fan_in: int, fan_out: int, std: float, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    return (rng.standard_normal((fan_in, fan_out)) * std).astype(dtype)


INITIALIZERS: dict[str, Initializer] = {"he": he, "xavier": xavier, "glorot": xavier, "small": small}


def get_initializer(name: str) -> Initializer:
    """Look an initializer up by name."""
    return INITIALIZERS[check_choice("init", name, INITIALIZERS)]
