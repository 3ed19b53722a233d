"""A fully connected network (multi-layer perceptron) with fused output loss."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import check_dtype, check_range
from .activations import Activation, get_activation
from .initializers import get_initializer
from .losses import Loss, loss_for_outputs
from .parameters import ParameterBuffer

EVAL_BATCH_SIZE = 1024


@dataclass
class _Workspace:
    """Preallocated arrays for one batch size, reused across steps so training does not allocate."""

    outputs: list[np.ndarray]  # layer outputs; index 0 is a slot for the input batch
    activated: list[np.ndarray]  # hidden outputs before dropout (only kept when dropout is on)
    masks: list[np.ndarray]  # dropout keep masks per hidden layer
    uniform: list[np.ndarray]  # scratch for the dropout draws
    deltas: list[np.ndarray]  # d(loss)/d(pre-activation) per layer


class MLP:
    """Fully connected network ``input -> hidden... -> output`` with batch-first arrays.

    Parameters
    ----------
    input_size : features per example (784 for MNIST).
    hidden_sizes : units of each hidden layer, e.g. ``[128, 64]``; may be empty.
    output_size : 1 for a sigmoid + binary cross-entropy output, else the number of classes
        (softmax + categorical cross-entropy).
    activation : hidden nonlinearity: relu, leaky_relu, tanh or sigmoid.
    init : weight initializer: he, xavier (glorot) or small; biases start at zero.
    keep_prob : probability of keeping a hidden unit under (inverted) dropout, in (0, 1].
    dtype : float32 (default) or float64.
    rng : generator for the initial weights.
    dropout_rng : generator for dropout masks.
    """

    def __init__(
        self,
        input_size: int,
        hidden_sizes: Sequence[int],
        output_size: int,
        *,
        activation: str = "relu",
        init: str = "he",
        keep_prob: float = 1.0,
        dtype: str = "float32",
        rng: np.random.Generator | None = None,
        dropout_rng: np.random.Generator | None = None,
    ) -> None:
        self.layer_sizes = [int(input_size), *map(int, hidden_sizes), int(output_size)]
        for index, size in enumerate(self.layer_sizes):
            if size < 1:
                raise ValueError(f"layer size {size!r} at position {index} is out of range; allowed: integers >= 1")
        self.activation_name = activation
        self.activation: Activation = get_activation(activation)
        self.init = init
        self.keep_prob = float(check_range("keep_prob", keep_prob, low=0.0, high=1.0))
        self.dtype = check_dtype(dtype)
        self.output_loss: Loss = loss_for_outputs(self.layer_sizes[-1])
        self.dropout_rng = dropout_rng if dropout_rng is not None else np.random.default_rng()
        self.params = ParameterBuffer(self._shapes(), self.dtype)
        self._initialize(get_initializer(init), rng if rng is not None else np.random.default_rng())
        self._workspaces: dict[int, _Workspace] = {}

    @classmethod
    def from_layer_sizes(cls, layer_sizes: Sequence[int], **kwargs: Any) -> MLP:
        """Build from ``[input, hidden..., output]``, e.g. ``[784, 128, 64, 10]``."""
        if len(layer_sizes) < 2:
            raise ValueError(f"layer_sizes={list(layer_sizes)!r} needs at least an input and an output size")
        return cls(layer_sizes[0], layer_sizes[1:-1], layer_sizes[-1], **kwargs)

    # ----- description -------------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        """Number of weight layers."""
        return len(self.layer_sizes) - 1

    @property
    def n_classes(self) -> int:
        """Number of classes predicted (2 for a single sigmoid output)."""
        return max(2, self.layer_sizes[-1])

    @property
    def n_parameters(self) -> int:
        return self.params.size

    @property
    def parameters(self) -> dict[str, np.ndarray]:
        """Named parameters: ``dense{i}.W`` (in, out) and ``dense{i}.b`` (out,)."""
        return self.params.values

    @property
    def gradients(self) -> dict[str, np.ndarray]:
        """Gradients of the last ``backward``, named like :attr:`parameters`."""
        return self.params.grads

    def weight_names(self) -> list[str]:
        return [f"dense{i}.W" for i in range(1, self.n_layers + 1)]

    def bias_names(self) -> list[str]:
        return [f"dense{i}.b" for i in range(1, self.n_layers + 1)]

    def config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-able values (without the generators)."""
        return {
            "input_size": self.layer_sizes[0],
            "hidden_sizes": self.layer_sizes[1:-1],
            "output_size": self.layer_sizes[-1],
            "activation": self.activation_name,
            "init": self.init,
            "keep_prob": self.keep_prob,
            "dtype": self.dtype.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], **kwargs: Any) -> MLP:
        return cls(**config, **kwargs)

    def __repr__(self) -> str:
        sizes = "-".join(map(str, self.layer_sizes))
        return f"MLP({sizes}, activation={self.activation_name}, keep_prob={self.keep_prob}, dtype={self.dtype.name})"

    def _shapes(self) -> dict[str, tuple[int, ...]]:
        # weights first, then biases: L2 then touches one contiguous slice
        pairs = list(zip(self.layer_sizes[:-1], self.layer_sizes[1:]))
        shapes = {f"dense{i}.W": (n_in, n_out) for i, (n_in, n_out) in enumerate(pairs, 1)}
        shapes.update({f"dense{i}.b": (n_out,) for i, (_, n_out) in enumerate(pairs, 1)})
        return shapes

    def _initialize(self, initializer: Any, rng: np.random.Generator) -> None:
        for name in self.weight_names():
            weights = self.parameters[name]
            weights[...] = initializer(*weights.shape, rng, self.dtype)

    # ----- forward -----------------------------------------------------------------------------
    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        """Logits (batch, output_size) for inputs ``X`` (batch, input_size); a fresh array."""
        X = self._check_input(X)
        if training:
            return self._forward(X, True).copy()
        chunks = [self._forward(X[i:i + EVAL_BATCH_SIZE], False).copy() for i in range(0, len(X), EVAL_BATCH_SIZE)]
        return np.concatenate(chunks) if chunks else np.empty((0, self.layer_sizes[-1]), self.dtype)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (batch, n_classes)."""
        return self.output_loss.probabilities(self.forward(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class ids (batch,) as int64."""
        return self.output_loss.predictions(self.forward(X)).astype(np.int64)

    def hidden_activations(self, X: np.ndarray) -> list[np.ndarray]:
        """Output of every hidden layer for ``X`` (inference mode), each (batch, units)."""
        self._forward(self._check_input(X), False)
        return [out.copy() for out in self._workspace(len(X)).outputs[1:-1]]

    def _forward(self, X: np.ndarray, training: bool) -> np.ndarray:
        ws = self._workspace(len(X))
        ws.outputs[0] = X
        dropout = training and self.keep_prob < 1.0
        for layer in range(1, self.n_layers + 1):
            z = ws.outputs[layer]
            np.matmul(ws.outputs[layer - 1], self.parameters[f"dense{layer}.W"], out=z)
            z += self.parameters[f"dense{layer}.b"]
            if layer < self.n_layers:
                self.activation.forward(z)
                if dropout:
                    self._drop(ws, layer)
        return ws.outputs[-1]

    def _drop(self, ws: _Workspace, layer: int) -> None:
        # inverted dropout: scale kept units by 1/keep_prob so inference needs no rescaling
        out, kept, mask, draws = ws.outputs[layer], ws.activated[layer], ws.masks[layer], ws.uniform[layer]
        np.copyto(kept, out)
        self.dropout_rng.random(out=draws, dtype=self.dtype)
        np.less(draws, self.keep_prob, out=mask)
        np.multiply(out, mask, out=out)
        out *= self.dtype.type(1.0 / self.keep_prob)

    # ----- backward ----------------------------------------------------------------------------
    def train_step(self, X: np.ndarray, y: np.ndarray, l2: float = 0.0) -> tuple[float, int]:
        """Forward in training mode, fill :attr:`gradients`; return (mean data loss, correct count)."""
        logits = self._forward(X, True)
        ws = self._workspace(len(X))
        correct = int(np.count_nonzero(self.output_loss.predictions(logits) == y))
        loss = self.output_loss.value_and_gradient(logits, y, ws.deltas[-1])
        self._backward(ws, l2, dropout=self.keep_prob < 1.0)
        return loss, correct

    def loss(self, X: np.ndarray, y: np.ndarray, l2: float = 0.0, training: bool = False) -> float:
        """Mean data loss plus the L2 penalty ``l2 / (2 * batch) * sum(W**2)`` (biases excluded)."""
        logits = self._forward(self._check_input(X), training)
        return self.output_loss.value(logits, y) + self.l2_penalty(l2, len(X))

    def gradient(self, X: np.ndarray, y: np.ndarray, l2: float = 0.0) -> dict[str, np.ndarray]:
        """Gradients of :meth:`loss` in training mode (dropout applied); returns :attr:`gradients`."""
        self.train_step(self._check_input(X), y, l2)
        return self.gradients

    def l2_penalty(self, l2: float, batch_size: int) -> float:
        """The L2 term added to the loss; scaled by the batch as in the reference notebooks."""
        if l2 == 0.0:
            return 0.0
        weights = self.params.data[self._weight_span()]
        return float(l2 / (2 * batch_size) * np.dot(weights, weights))

    def _backward(self, ws: _Workspace, l2: float, dropout: bool) -> None:
        for layer in range(self.n_layers, 0, -1):
            delta = ws.deltas[layer]
            np.matmul(ws.outputs[layer - 1].T, delta, out=self.gradients[f"dense{layer}.W"])
            np.sum(delta, axis=0, out=self.gradients[f"dense{layer}.b"])
            if layer > 1:
                upstream = ws.deltas[layer - 1]
                np.matmul(delta, self.parameters[f"dense{layer}.W"].T, out=upstream)
                if dropout:
                    upstream *= ws.masks[layer - 1]
                    upstream *= self.dtype.type(1.0 / self.keep_prob)
                    self.activation.backward(upstream, ws.activated[layer - 1])
                else:
                    self.activation.backward(upstream, ws.outputs[layer - 1])
        if l2:
            batch_size = len(ws.deltas[-1])
            span = self._weight_span()
            self.params.grad[span] += self.dtype.type(l2 / batch_size) * self.params.data[span]

    def _weight_span(self) -> slice:
        return self.params.span(self.weight_names())

    # ----- buffers -----------------------------------------------------------------------------
    def _check_input(self, X: np.ndarray) -> np.ndarray:
        if X.ndim != 2 or X.shape[1] != self.layer_sizes[0]:
            raise ValueError(f"input has shape {X.shape}; expected (batch, {self.layer_sizes[0]})")
        return X if X.dtype == self.dtype else X.astype(self.dtype)

    def _workspace(self, batch_size: int) -> _Workspace:
        ws = self._workspaces.get(batch_size)
        if ws is None:
            if len(self._workspaces) >= 4:  # training, last partial batch, evaluation, one spare
                self._workspaces.pop(next(iter(self._workspaces)))
            ws = self._workspaces[batch_size] = self._allocate(batch_size)
        return ws

    def _allocate(self, batch_size: int) -> _Workspace:
        def buffers(dtype: np.dtype | type = self.dtype, hidden_only: bool = False) -> list[np.ndarray]:
            sizes = self.layer_sizes[1:-1] if hidden_only else self.layer_sizes[1:]
            empty = [np.empty((0, 0), dtype)]
            return empty + [np.empty((batch_size, units), dtype) for units in sizes]

        dropout = self.keep_prob < 1.0
        none: list[np.ndarray] = []
        return _Workspace(
            outputs=buffers(),
            activated=buffers(hidden_only=True) if dropout else none,
            masks=buffers(np.bool_, hidden_only=True) if dropout else none,
            uniform=buffers(hidden_only=True) if dropout else none,
            deltas=buffers(),
        )
