"""Learning-rate schedules: ``schedule(base_lr, epoch) -> lr`` with ``epoch`` counted from 0."""
from __future__ import annotations

import math
from abc import ABC, abstractmethod

from ._validation import check_range


class Schedule(ABC):
    """Learning rate of each epoch as a function of the initial one."""

    @abstractmethod
    def __call__(self, base_lr: float, epoch: int) -> float:
        """Learning rate for epoch ``epoch`` (0 = the first epoch)."""


class Constant(Schedule):
    def __call__(self, base_lr: float, epoch: int) -> float:
        return base_lr


class InverseTime(Schedule):
    """``base_lr / (1 + decay_rate * epoch)``."""

    def __init__(self, decay_rate: float) -> None:
        self.decay_rate = check_range("decay_rate", decay_rate, low=0.0, low_inclusive=True, high=None)

    def __call__(self, base_lr: float, epoch: int) -> float:
        return base_lr / (1 + self.decay_rate * epoch)


class StepDecay(Schedule):
    """Multiply by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = int(check_range("step_size", step_size, low=1, low_inclusive=True, high=None))
        self.gamma = check_range("gamma", gamma, low=0.0, high=1.0)

    def __call__(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class Cosine(Schedule):
    """Cosine annealing from ``base_lr`` to ``min_lr`` over ``total_epochs``."""

    def __init__(self, total_epochs: int, min_lr: float = 0.0) -> None:
        self.total_epochs = int(check_range("total_epochs", total_epochs, low=1, low_inclusive=True, high=None))
        self.min_lr = check_range("min_lr", min_lr, low=0.0, low_inclusive=True, high=None)

    def __call__(self, base_lr: float, epoch: int) -> float:
        progress = min(epoch, self.total_epochs) / self.total_epochs
        return self.min_lr + (base_lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
