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

    @abstractmethod
    def forward(self, z: np.ndarray) -> np.ndarray:
        """Overwrite ``z`` (batch, units) with ``f(z)`` and return it."""

    @abstractmethod
    def backward(self, grad: np.ndarray, output: np.ndarray) -> np.ndarray:
        """Overwrite ``grad`` with ``grad * f'(z)``, given ``output = f(z)``; return it."""


class ReLU(Activation):
    name = "relu"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0, out=z)

    def backward(self, grad: np.ndarray, output: np.ndarray) -> np.ndarray:
        # where= skips the multiply instead of materialising a float mask
        np.copyto(grad, 0, where=output <= 0)
        return grad


class LeakyReLU(Activation):
    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        if not 0 < negative_slope < 1:
            raise ValueError(f"negative_slope={negative_slope!r} is out of range; allowed: (0, 1)")
        self.negative_slope = negative_slope

    def forward(self, z: np.ndarray) -> np.ndarray:
        np.multiply(z, self.negative_slope, out=z, where=z < 0)
        return z

    def backward(self, grad: np.ndarray, output: np.ndarray) -> np.ndarray:
        # a positive slope keeps the sign, so the output's sign tells which branch was taken
        np.multiply(grad, self.negative_slope, out=grad, where=output < 0)
        return grad


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
    out = np.empty_like(z) if out is None else out
    # exp(-|z|) never overflows; pick the algebraically equal form for each sign
    e = np.exp(-np.abs(z))
    positive = z >= 0
    np.divide(1, 1 + e, out=out, where=positive)
    np.divide(e, 1 + e, out=out, where=~positive)
    return out


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (ReLU, LeakyReLU, Tanh, Sigmoid)
}


def get_activation(name: str) -> Activation:
    """Build an activation by name (relu, leaky_relu, tanh, sigmoid)."""
    return ACTIVATIONS[check_choice("activation", name, ACTIVATIONS)]()
