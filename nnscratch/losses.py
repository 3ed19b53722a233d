"""Output losses on logits, averaged over the batch, with the output nonlinearity fused in.

Fusing softmax (or sigmoid) with cross-entropy gives the simple, stable gradient
``(probabilities - targets) / batch`` and lets the loss use log-sum-exp instead of ``log(softmax)``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .activations import sigmoid


class Loss(ABC):
    """A loss on logits (batch, outputs) against integer labels (batch,)."""

    name: str

    @abstractmethod
    def value_and_gradient(self, logits: np.ndarray, labels: np.ndarray, grad_out: np.ndarray) -> float:
        """Return the mean loss and write d(loss)/d(logits) into ``grad_out`` (same shape as logits)."""

    @abstractmethod
    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Class probabilities (batch, n_classes)."""

    @abstractmethod
    def predictions(self, logits: np.ndarray) -> np.ndarray:
        """Predicted class ids (batch,)."""

    def value(self, logits: np.ndarray, labels: np.ndarray) -> float:
        """Mean loss over the batch."""
        return self.value_and_gradient(logits, labels, np.empty_like(logits))


class SoftmaxCrossEntropy(Loss):
    """Categorical cross-entropy of ``softmax(logits)``."""

    name = "softmax_cross_entropy"

    def value_and_gradient(self, logits: np.ndarray, labels: np.ndarray, grad_out: np.ndarray) -> float:
        rows = np.arange(len(labels))
        # shifting by the row max makes exp() safe: log-sum-exp trick
        np.subtract(logits, logits.max(axis=1, keepdims=True), out=grad_out)
        target_logit = grad_out[rows, labels].copy()
        np.exp(grad_out, out=grad_out)
        totals = grad_out.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(totals[:, 0]) - target_logit))
        grad_out /= totals
        grad_out[rows, labels] -= 1
        grad_out /= len(labels)
        return loss

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predictions(self, logits: np.ndarray) -> np.ndarray:
        return logits.argmax(axis=1)


class SigmoidBinaryCrossEntropy(Loss):
    """Binary cross-entropy of ``sigmoid(logit)`` for a single output unit; labels are 0/1."""

    name = "sigmoid_binary_cross_entropy"

    def value_and_gradient(self, logits: np.ndarray, labels: np.ndarray, grad_out: np.ndarray) -> float:
        z = logits[:, 0]
        targets = labels.astype(logits.dtype)
        # log(1 + exp(z)) - z*y, written so exp never overflows
        losses = np.maximum(z, 0) - z * targets + np.log1p(np.exp(-np.abs(z)))
        sigmoid(logits, out=grad_out)
        grad_out[:, 0] -= targets
        grad_out /= len(labels)
        return float(losses.mean())

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        positive = sigmoid(logits[:, :1])
        return np.hstack([1 - positive, positive])

    def predictions(self, logits: np.ndarray) -> np.ndarray:
        return (logits[:, 0] > 0).astype(np.int64)


def loss_for_outputs(output_size: int) -> Loss:
    """The loss that matches an output layer: one unit -> sigmoid BCE, several -> softmax CE."""
    return SigmoidBinaryCrossEntropy() if output_size == 1 else SoftmaxCrossEntropy()
