"""The PyTorch CPU side of the comparisons: the same networks and loops, written idiomatically.

Imported only when torch is installed (``pip install 'nnscratch[bench]'``). Each loop does what
``nnscratch.fit`` does per step (shuffled mini-batches, forward, loss, backward, update, and the
epoch's running loss and accuracy), so the two are timed on equal work.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn


def mlp(layer_sizes: list[int], seed: int = 0) -> nn.Sequential:
    """Linear + ReLU layers, logits out (PyTorch's default initialisation)."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def optimizer(name: str, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr)
    return torch.optim.Adam(model.parameters(), lr=lr)


class Trainer:
    """A model, its optimizer and the training data as tensors (shared with numpy, no copy)."""

    def __init__(self, layer_sizes: list[int], optimizer_name: str, lr: float, X: np.ndarray, y: np.ndarray,
                 seed: int = 0) -> None:
        self.model = mlp(layer_sizes, seed)
        self.optimizer = optimizer(optimizer_name, self.model, lr)
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.generator = torch.Generator().manual_seed(seed)
        self.loss = nn.CrossEntropyLoss()

    def step(self, X_batch: torch.Tensor, y_batch: torch.Tensor) -> tuple[float, int]:
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.model(X_batch)
        loss = self.loss(logits, y_batch)
        loss.backward()
        self.optimizer.step()
        return loss.item(), int((logits.argmax(dim=1) == y_batch).sum())

    def forward_backward(self, X_batch: torch.Tensor, y_batch: torch.Tensor) -> None:
        """A step without the update (gradients only)."""
        self.optimizer.zero_grad(set_to_none=True)
        self.loss(self.model(X_batch), y_batch).backward()

    def timed_parts(self, batch_size: int, steps: int) -> tuple[float, float]:
        """Seconds per step of forward+backward alone and of ``optimizer.step`` alone."""
        fb, update = 0.0, 0.0
        for i in range(steps):
            start = time.perf_counter()
            self.forward_backward(self.X[i * batch_size:(i + 1) * batch_size], self.y[i * batch_size:(i + 1) * batch_size])
            middle = time.perf_counter()
            self.optimizer.step()
            fb, update = fb + middle - start, update + time.perf_counter() - middle
        return fb / steps, update / steps

    def train_epoch(self, batch_size: int, n_examples: int | None = None) -> float:
        """One shuffled epoch (or its first ``n_examples``); returns its seconds."""
        start = time.perf_counter()
        n = len(self.y) if n_examples is None else n_examples
        order = torch.randperm(len(self.y), generator=self.generator)[:n]
        total_loss, correct = 0.0, 0
        for i in range(0, n, batch_size):
            index = order[i:i + batch_size]
            loss, batch_correct = self.step(self.X[index], self.y[index])
            total_loss += loss * len(index)
            correct += batch_correct
        self.last_metrics = (total_loss / n, correct / n)
        return time.perf_counter() - start

    @torch.no_grad()
    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        self.model.eval()
        predictions = torch.cat([self.model(torch.from_numpy(X[i:i + 1024])).argmax(dim=1)
                                 for i in range(0, len(X), 1024)])
        self.model.train()
        return float((predictions == torch.from_numpy(y)).double().mean())


def threads() -> int:
    return torch.get_num_threads()
