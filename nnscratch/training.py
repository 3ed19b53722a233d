"""Mini-batch training loop with per-epoch metrics and callbacks."""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from ._threads import training_threads
from .metrics import evaluate
from .network import MLP
from .optimizers import Optimizer
from .schedules import Constant, Schedule


class StopTraining(Exception):
    """Raised by a callback to end training after the current epoch, keeping the history."""


#: Default of ``fit(max_loss_ratio=...)``: an epoch's loss this many times above the chance-level loss, or
#: above the first epoch's loss, is divergence.
MAX_LOSS_RATIO = 10.0


class DivergedError(RuntimeError):
    """Training produced a non-finite loss, or a runaway one (see ``fit(max_loss_ratio=...)``)."""

    def __init__(self, epoch: int, metric: str, value: float, reason: str = "") -> None:
        super().__init__(
            f"training diverged at epoch {epoch}: {metric} = {value:.4g}{f' {reason}' if reason else ''}; "
            f"try a smaller lr or a different init"
        )
        self.epoch, self.metric, self.value = epoch, metric, value


class _RunawayCheck:
    """Divergence by a finite but runaway epoch loss (data loss, without the L2 term).

    The loss must stay below ``ratio`` times the chance-level loss ``ln(n_classes)`` (what predicting every
    class as equally likely scores) and, from the second epoch on, ``ratio`` times the first epoch's loss.
    """

    def __init__(self, ratio: float | None, n_classes: int) -> None:
        self.ratio, self.chance = ratio, math.log(max(n_classes, 2))
        self.first: float | None = None

    def __call__(self, epoch: int, loss: float) -> None:
        if self.ratio is None:
            return
        bounds = [(self.ratio * self.chance, f"the chance-level loss ln({math.exp(self.chance):.0f}) = "
                                             f"{self.chance:.3g}")]
        if self.first is not None:
            bounds.append((self.ratio * self.first, f"the first epoch's {self.first:.4g}"))
        for bound, what in sorted(bounds):  # the tighter bound gives the reason
            if loss > bound:
                raise DivergedError(epoch, "train/loss", loss,
                                    f"(data loss, without L2) is over {self.ratio:g} x {what} (max_loss_ratio)")
        self.first = loss if self.first is None else self.first


class Callback(Protocol):
    """Hooks called by :func:`fit`; implement any subset (missing ones are skipped)."""

    def on_train_begin(self, model: MLP) -> None: ...

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None: ...

    def on_train_end(self, history: History) -> None: ...


class History:
    """Per-epoch metrics with slash-named keys (``train/loss``, ``val/acc``, ``lr``, ...)."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def append(self, metrics: dict[str, float]) -> None:
        self.epochs.append(dict(metrics))

    def __getitem__(self, key: str) -> list[float]:
        return [epoch[key] for epoch in self.epochs if key in epoch]

    def __len__(self) -> int:
        return len(self.epochs)

    @property
    def last(self) -> dict[str, float]:
        return self.epochs[-1] if self.epochs else {}

    def as_dict(self) -> dict[str, list[float]]:
        """Metric name -> values per epoch."""
        keys = dict.fromkeys(key for epoch in self.epochs for key in epoch)
        return {key: self[key] for key in keys}


def fit(
    model: MLP,
    optimizer: Optimizer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int | None = None,
    l2: float = 0.0,
    schedule: Schedule | None = None,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    rng: np.random.Generator | None = None,
    callbacks: Sequence[Any] = (),
    max_loss_ratio: float | None = MAX_LOSS_RATIO,
) -> History:
    """Train ``model`` on (X (n, features), y (n,)) and return its :class:`History`.

    ``batch_size=None`` trains full-batch. Examples are reshuffled every epoch with ``rng``.
    Raises :class:`DivergedError` as soon as a batch loss is not finite, and after an epoch whose
    loss (without the L2 term) exceeds ``max_loss_ratio`` times the chance-level loss ``ln(C)`` or
    the first epoch's loss (``None``: only non-finite losses count).
    """
    _check_fit_arguments(model, X, y, epochs, batch_size, l2, validation)
    if max_loss_ratio is not None and not max_loss_ratio > 1:
        raise ValueError(f"max_loss_ratio={max_loss_ratio!r} is out of range; allowed: > 1 or None")
    runaway = _RunawayCheck(max_loss_ratio, model.n_classes)
    schedule = schedule or Constant()
    rng = rng if rng is not None else np.random.default_rng()
    base_lr, history = optimizer.lr, History()
    _call(callbacks, "on_train_begin", model)
    batches = _Batches(X, y, batch_size, model.dtype)
    for epoch in range(1, epochs + 1):
        optimizer.lr = schedule(base_lr, epoch - 1)
        # overflow on the way to a non-finite loss is reported once, as DivergedError, not as warnings
        with np.errstate(over="ignore", invalid="ignore"):
            metrics, data_loss = _train_epoch(model, optimizer, batches, l2, rng, epoch)
        runaway(epoch, data_loss)
        if validation is not None:
            metrics.update({f"val/{k}": v for k, v in evaluate(model, *validation).items()})
        history.append(metrics)
        try:
            _call(callbacks, "on_epoch_end", epoch, metrics)
        except StopTraining:
            break
    optimizer.lr = base_lr
    _call(callbacks, "on_train_end", history)
    return history


def _train_epoch(
    model: MLP, optimizer: Optimizer, batches: _Batches, l2: float, rng: np.random.Generator, epoch: int
) -> tuple[dict[str, float], float]:
    start = time.perf_counter()
    total_loss, correct = 0.0, 0
    step = _step_function(model, optimizer, l2)
    with training_threads(model.layer_sizes, batches.batch_size):
        for X_batch, y_batch in batches.shuffled(rng):
            loss, batch_correct = step(X_batch, y_batch)
            if not math.isfinite(loss):
                raise DivergedError(epoch, "train/loss", loss)
            total_loss += loss * len(y_batch)
            correct += batch_correct
    n = batches.n_examples
    return {
        "train/loss": total_loss / n + model.l2_penalty(l2, batches.batch_size),
        "train/acc": correct / n,
        "lr": optimizer.lr,
        "epoch_time": time.perf_counter() - start,
    }, total_loss / n


def _step_function(model: MLP, optimizer: Optimizer, l2: float) -> Callable[[np.ndarray, np.ndarray], tuple[float, int]]:
    """``(X_batch, y_batch) -> (loss, correct)`` doing one training step with the update.

    Optimizers that keep the base class's ``step`` get the fused step (the L2 term added inside the
    optimizer's blocked update); one that overrides ``step`` is called as such.
    """
    if type(optimizer).step is Optimizer.step:
        return lambda X_batch, y_batch: model._fit_step(X_batch, y_batch, optimizer, l2)

    def step(X_batch: np.ndarray, y_batch: np.ndarray) -> tuple[float, int]:
        result = model.train_step(X_batch, y_batch, l2)
        optimizer.step(model.params)
        return result

    return step


class _Batches:
    """Shuffled mini-batches gathered into one preallocated buffer (no per-step allocation)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, batch_size: int | None, dtype: np.dtype) -> None:
        self.X = X if X.dtype == dtype else X.astype(dtype)
        self.y = np.asarray(y, dtype=np.int64)
        self.n_examples = len(X)
        self.batch_size = min(batch_size or self.n_examples, self.n_examples)
        self.full_batch = self.batch_size == self.n_examples
        if not self.full_batch:
            self.X_buffer = np.empty((self.batch_size, X.shape[1]), dtype=dtype)
            self.y_buffer = np.empty(self.batch_size, dtype=np.int64)

    def shuffled(self, rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if self.full_batch:  # order does not change a full-batch gradient
            yield self.X, self.y
            return
        order = rng.permutation(self.n_examples)
        for start in range(0, self.n_examples, self.batch_size):
            index = order[start:start + self.batch_size]
            X_batch, y_batch = self.X_buffer[: len(index)], self.y_buffer[: len(index)]
            # mode="clip" (the indices are valid anyway) writes straight into out=; "raise" buffers a copy
            np.take(self.X, index, axis=0, out=X_batch, mode="clip")
            np.take(self.y, index, out=y_batch, mode="clip")
            yield X_batch, y_batch


def train_val_split(
    X: np.ndarray, y: np.ndarray, val_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out a random ``val_fraction`` of (X, y) for validation: (X_train, y_train, X_val, y_val)."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction={val_fraction!r} is out of range; allowed: [0, 1)")
    order = rng.permutation(len(X))
    n_val = int(round(val_fraction * len(X)))
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    return X[train], y[train], X[val], y[val]


def _check_fit_arguments(
    model: MLP,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int | None,
    l2: float,
    validation: tuple[np.ndarray, np.ndarray] | None,
) -> None:
    if epochs < 1:
        raise ValueError(f"epochs={epochs!r} is out of range; allowed: integers >= 1")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} is out of range; allowed: integers >= 1 or None (full batch)")
    if not l2 >= 0:
        raise ValueError(f"l2={l2!r} is out of range; allowed: [0, inf)")
    _check_data(model, X, y, "X", "y")
    if validation is not None:
        if len(validation) != 2:
            raise ValueError("validation must be a pair (X_val, y_val) or None")
        _check_data(model, *validation, "validation X", "validation y")


def _check_data(model: MLP, X: np.ndarray, y: np.ndarray, x_name: str, y_name: str) -> None:
    if X.ndim != 2 or X.shape[1] != model.layer_sizes[0]:
        raise ValueError(f"{x_name} has shape {X.shape}; the model expects (n, {model.layer_sizes[0]})")
    if len(X) != len(y):
        raise ValueError(f"{x_name} has {len(X)} rows but {y_name} has {len(y)} labels")
    labels = np.unique(y)
    if len(labels) and (labels[0] < 0 or labels[-1] >= model.n_classes):
        raise ValueError(
            f"{y_name} has labels {labels[0]}..{labels[-1]}; the model predicts classes 0..{model.n_classes - 1}"
        )


def _call(callbacks: Sequence[Any], hook: str, *args: Any) -> None:
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(*args)
