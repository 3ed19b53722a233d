"""Hidden-layer activations, computed in place.

Every derivative here is written in terms of the activation's *output*, so a layer only has to
keep its output for the backward pass (no copy of the pre-activation).
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ._validation import check_choice


class Activation(ABC):
    """An elementwise nonlinearity ``f`` applied in place."""

    name: str
    #: True when ``backward`` only looks at the sign of ``output``: then it accepts the output after
    #: dropout (a positive rescaling, or zero where the gradient is zero anyway) and no copy is kept.
    sign_only: bool = False

    @abstractmethod
    def forward(self, z: np.ndarray) -> np.ndarray:
        """Overwrite ``z`` (batch, units) with ``f(z)`` and return it."""

    @abstractmethod
    def backward(self, grad: np.ndarray, output: np.ndarray) -> np.ndarray:
        """Overwrite ``grad`` with ``grad * f'(z)``, given ``output = f(z)``; return it."""


class ReLU(Activation):
    name = "relu"
    sign_only = True

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0, out=z)

    def backward(self, grad: np.ndarray, output: np.ndarray) -> np.ndarray:
        # multiplying by the boolean mask is ~15x faster than copyto(..., where=) on large arrays
        return np.multiply(grad, np.greater(output, 0), out=grad)


class LeakyReLU(Activation):
    name = "leaky_relu"
    sign_only = True

    def __init__(self, negative_slope: float = 0.01) -> None:
        if not 0 < negative_slope < 1:
            raise ValueError(f"negative_slope={negative_slope!r} is out of range; allowed: (0, 1)")
        self.negative_slope = negative_slope

    def forward(self, z: np.ndarray) -> np.ndarray:
        # slope * z exceeds z exactly when z < 0 (0 < slope < 1); no masked (where=) loops, which are slow
        return np.maximum(z, z * self.negative_slope, out=z)

    def backward(self, grad: np.ndarray, output: np.ndarray) -> np.ndarray:
        # a positive slope keeps the sign, so the output's sign tells which branch was taken
        one, slope = grad.dtype.type(1), grad.dtype.type(self.negative_slope)
        return np.multiply(grad, np.where(output < 0, slope, one), out=grad)


class Tanh(Activation):
    name = "tanh"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.tanh(z, out=z)

    def backward(self, grad: np.ndarray, output: np.ndarray) -> np.ndarray:
        grad *= 1 - output * output
        return grad


class Sigmoid(Activation):
    name = "sigmoid"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return sigmoid(z, out=z)

    def backward(self, grad: np.ndarray, output: np.ndarray) -> np.ndarray:
        grad *= output * (1 - output)
        return grad


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-z))`` that does not overflow for large ``|z|``."""
    # exp(min(z, 0)) / (1 + exp(-|z|)) equals 1 / (1 + exp(-z)) for either sign, and neither exp can
    # overflow; unlike picking a form per sign with where=, every pass is a plain vectorised loop
    denominator = np.abs(z)
    np.negative(denominator, out=denominator)
    np.exp(denominator, out=denominator)
    denominator += 1
    out = np.minimum(z, 0, out=out)
    np.exp(out, out=out)
    return np.divide(out, denominator, out=out)


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (ReLU, LeakyReLU, Tanh, Sigmoid)
}


def get_activation(name: str) -> Activation:
    """Build an activation by name (relu, leaky_relu, tanh, sigmoid)."""
    return ACTIVATIONS[check_choice("activation", name, ACTIVATIONS)]()
