"""A straightforward NumPy MLP written the way tutorials write it: the baseline of item 2.

float64 throughout, one-hot labels, a fresh array for every intermediate, softmax then log for the
loss, and the update applied right after each layer's gradient. It is deliberately plain (no
buffers, no fusing) but not deliberately slow: vectorised over the batch, no per-example loops.
"""
from __future__ import annotations

import numpy as np


class TutorialMLP:
    """ReLU hidden layers, softmax output, cross-entropy loss, plain SGD.

    Parameters
    ----------
    layer_sizes : ``[input, hidden..., output]``.
    rng : generator for the He-normal initial weights.
    """

    def __init__(self, layer_sizes: list[int], rng: np.random.Generator) -> None:
        pairs = list(zip(layer_sizes[:-1], layer_sizes[1:]))
        self.weights = [rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in) for n_in, n_out in pairs]
        self.biases = [np.zeros(n_out) for _, n_out in pairs]
        self.n_classes = layer_sizes[-1]

    def forward(self, X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Hidden activations (input first) and softmax probabilities (batch, classes)."""
        activations = [X]
        for W, b in zip(self.weights[:-1], self.biases[:-1]):
            activations.append(np.maximum(0, np.dot(activations[-1], W) + b))
        logits = np.dot(activations[-1], self.weights[-1]) + self.biases[-1]
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return activations, exp / exp.sum(axis=1, keepdims=True)

    def train_epoch(self, X: np.ndarray, y: np.ndarray, batch_size: int, lr: float, rng: np.random.Generator
                    ) -> tuple[float, float]:
        """One epoch of mini-batch SGD on (X (n, features) float64, y (n,) int); returns (loss, accuracy)."""
        order = rng.permutation(len(X))
        X, Y = X[order], np.eye(self.n_classes)[y[order]]
        total_loss, correct = 0.0, 0
        for start in range(0, len(X), batch_size):
            x_batch, y_batch = X[start:start + batch_size], Y[start:start + batch_size]
            activations, probs = self.forward(x_batch)
            total_loss += -np.sum(y_batch * np.log(probs + 1e-12))
            correct += int(np.sum(np.argmax(probs, axis=1) == np.argmax(y_batch, axis=1)))
            delta = (probs - y_batch) / len(x_batch)
            for layer in reversed(range(len(self.weights))):
                grad_W = np.dot(activations[layer].T, delta)
                grad_b = np.sum(delta, axis=0)
                if layer > 0:
                    delta = np.dot(delta, self.weights[layer].T) * (activations[layer] > 0)
                self.weights[layer] -= lr * grad_W
                self.biases[layer] -= lr * grad_b
        return total_loss / len(X), correct / len(X)

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(np.argmax(self.forward(X)[1], axis=1) == y))
