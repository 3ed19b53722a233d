"""A fully connected network (multi-layer perceptron) with fused output loss.

Training does no per-step allocation or name lookup: each batch size gets a workspace of
preallocated layer outputs and deltas, every matrix product writes into its buffer (``out=``), bias,
activation and dropout act in place, and the layers' parameter views are built once.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ._validation import check_dtype, check_range
from .activations import Activation, get_activation
from .initializers import get_initializer
from .losses import Loss, loss_for_outputs
from .parameters import ParameterBuffer

if TYPE_CHECKING:
    from .optimizers import Optimizer

EVAL_BATCH_SIZE = 1024


class _Layer(NamedTuple):
    """Views of one layer's parameters and gradients, built once (no name lookups per step)."""

    W: np.ndarray  # (in, out)
    b: np.ndarray  # (out,)
    grad_W: np.ndarray
    grad_b: np.ndarray
    start: int  # the weights' flat span in the parameter buffer
    stop: int


@dataclass
class _Workspace:
    """Preallocated arrays for one batch size, reused across steps so training does not allocate."""

    outputs: list[np.ndarray]  # layer outputs; index 0 is a slot for the input batch
    deltas: list[np.ndarray] = field(default_factory=list)  # d(loss)/d(pre-activation); training only
    masks: list[np.ndarray] = field(default_factory=list)  # dropout: 0 or 1/keep_prob per hidden unit
    kept: list[np.ndarray] = field(default_factory=list)  # hidden outputs before dropout, if backward needs them


def parameter_shapes(layer_sizes: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """``{"dense1.W": (n_in, n_out), ..., "dense1.b": (n_out,), ...}`` of an MLP with these layer sizes."""
    # weights first, then biases: L2 then touches one contiguous slice
    pairs = list(zip(layer_sizes[:-1], layer_sizes[1:]))
    shapes = {f"dense{i}.W": (n_in, n_out) for i, (n_in, n_out) in enumerate(pairs, 1)}
    shapes.update({f"dense{i}.b": (n_out,) for i, (_, n_out) in enumerate(pairs, 1)})
    return shapes


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
        self.params = ParameterBuffer(parameter_shapes(self.layer_sizes), self.dtype)
        self._initialize(get_initializer(init), rng if rng is not None else np.random.default_rng())
        self._workspaces: dict[int, _Workspace] = {}
        self._layers = self._layer_views()

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

    def _initialize(self, initializer: Any, rng: np.random.Generator) -> None:
        for name in self.weight_names():
            weights = self.parameters[name]
            weights[...] = initializer(*weights.shape, rng, self.dtype)

    def _layer_views(self) -> list[_Layer]:
        values, grads = self.params.values, self.params.grads
        layers = []
        for i in range(1, self.n_layers + 1):
            span = self.params.slices[f"dense{i}.W"]
            layers.append(_Layer(values[f"dense{i}.W"], values[f"dense{i}.b"], grads[f"dense{i}.W"],
                                 grads[f"dense{i}.b"], span.start, span.stop))
        return layers

    # ----- forward -----------------------------------------------------------------------------
    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        """Logits (batch, output_size) for inputs ``X`` (batch, input_size); a fresh array."""
        X = self._check_input(X)
        if training:
            return self._forward(X, True).copy()
        logits = np.empty((len(X), self.layer_sizes[-1]), self.dtype)
        for i in range(0, len(X), EVAL_BATCH_SIZE):
            logits[i:i + EVAL_BATCH_SIZE] = self._forward(X[i:i + EVAL_BATCH_SIZE], False)
        return logits

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
        """Logits of ``X`` in the workspace of its batch size (overwritten by the next pass)."""
        ws = self._workspace(len(X), training)
        outputs, activation, last = ws.outputs, self.activation, self.n_layers
        dropout = training and self.keep_prob < 1.0
        outputs[0] = a = X
        for index, layer in enumerate(self._layers, 1):
            z = outputs[index]
            np.matmul(a, layer.W, out=z)
            z += layer.b
            if index < last:
                activation.forward(z)
                if dropout:
                    self._drop(ws, index)
            a = z
        return a

    def _drop(self, ws: _Workspace, layer: int) -> None:
        # inverted dropout: kept units are scaled by 1/keep_prob so inference needs no rescaling; the
        # mask holds that scale (or 0), so forward and backward apply it with one multiply each
        out, mask = ws.outputs[layer], ws.masks[layer]
        if ws.kept:
            np.copyto(ws.kept[layer], out)
        self.dropout_rng.random(out=mask, dtype=self.dtype)
        np.less(mask, self.keep_prob, out=mask)
        mask *= 1.0 / self.keep_prob
        out *= mask

    # ----- backward ----------------------------------------------------------------------------
    def train_step(self, X: np.ndarray, y: np.ndarray, l2: float = 0.0) -> tuple[float, int]:
        """Forward in training mode, fill :attr:`gradients`; return (mean data loss, correct count)."""
        loss, correct = self._forward_loss(X, y)
        self._backward(self._workspace(len(X), True))
        if l2:
            decay = self.dtype.type(l2 / len(X))
            for layer in self._layers:  # one layer-sized temporary at a time
                np.add(layer.grad_W, decay * layer.W, out=layer.grad_W)
        return loss, correct

    def _fit_step(self, X: np.ndarray, y: np.ndarray, optimizer: Optimizer, l2: float) -> tuple[float, int]:
        """One training step with the update: like :meth:`train_step` then ``optimizer.step``.

        The L2 term is added inside the optimizer's cache-sized blocks (``decay``) instead of through a
        parameter-sized temporary, so :attr:`gradients` hold the data-loss gradient only.
        """
        loss, correct = self._forward_loss(X, y)
        self._backward(self._workspace(len(X), True))
        optimizer.begin_step(self.params)
        decay = l2 / len(X)
        if decay:
            weights_end = self._layers[-1].stop  # weights first, then every bias
            optimizer.update_span(0, weights_end, decay)
            optimizer.update_span(weights_end, self.params.size)
        else:
            optimizer.update_span(0, self.params.size)
        return loss, correct

    def _forward_loss(self, X: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        logits = self._forward(X, True)
        return self.output_loss.value_gradient_correct(logits, y, self._workspace(len(X)).deltas[-1])

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

    def _backward(self, ws: _Workspace) -> None:
        """Fill :attr:`gradients` from the output delta ``ws.deltas[-1]``."""
        outputs, deltas, activation = ws.outputs, ws.deltas, self.activation
        for index in range(self.n_layers, 0, -1):
            layer, delta = self._layers[index - 1], deltas[index]
            np.matmul(outputs[index - 1].T, delta, out=layer.grad_W)
            np.add.reduce(delta, axis=0, out=layer.grad_b)
            if index > 1:
                upstream = deltas[index - 1]
                np.matmul(delta, layer.W.T, out=upstream)
                if ws.masks:
                    upstream *= ws.masks[index - 1]
                activation.backward(upstream, ws.kept[index - 1] if ws.kept else outputs[index - 1])

    def _weight_span(self) -> slice:
        return self.params.span(self.weight_names())

    # ----- buffers -----------------------------------------------------------------------------
    def _check_input(self, X: np.ndarray) -> np.ndarray:
        if X.ndim != 2 or X.shape[1] != self.layer_sizes[0]:
            raise ValueError(f"input has shape {X.shape}; expected (batch, {self.layer_sizes[0]})")
        return X if X.dtype == self.dtype else X.astype(self.dtype)

    def _workspace(self, batch_size: int, training: bool = False) -> _Workspace:
        """The buffers for ``batch_size``; training adds deltas (and dropout masks) on first use."""
        ws = self._workspaces.get(batch_size)
        if ws is None:
            if len(self._workspaces) >= 4:  # training, last partial batch, evaluation, one spare
                self._workspaces.pop(next(iter(self._workspaces)))
            ws = self._workspaces[batch_size] = _Workspace(outputs=self._buffers(batch_size))
        if training and not ws.deltas:
            self._add_training_buffers(ws, batch_size)
        return ws

    def _buffers(self, batch_size: int, hidden_only: bool = False) -> list[np.ndarray]:
        buffers = [np.empty((0, 0), self.dtype)] + [np.empty((batch_size, units), self.dtype)
                                                     for units in self.layer_sizes[1:-1]]
        if not hidden_only:
            # logits (and their delta) in Fortran order: the loss's per-example reductions over a few
            # classes then run as full-width vector operations (see SoftmaxCrossEntropy)
            buffers.append(np.empty((batch_size, self.layer_sizes[-1]), self.dtype, order="F"))
        return buffers

    def _add_training_buffers(self, ws: _Workspace, batch_size: int) -> None:
        ws.deltas = self._buffers(batch_size)
        if self.keep_prob < 1.0:
            ws.masks = self._buffers(batch_size, hidden_only=True)
            if not self.activation.sign_only:
                ws.kept = self._buffers(batch_size, hidden_only=True)
