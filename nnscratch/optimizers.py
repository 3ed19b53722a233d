"""Gradient-descent optimizers that update a :class:`ParameterBuffer` in place.

Each optimizer owns its state (moments) as flat arrays laid out like the parameter buffer, so one
update is a few vectorised calls over every parameter; :meth:`Optimizer.state_dict` exposes the
state keyed by parameter name (``"dense1.W/m"``).
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ._validation import check_range
from .parameters import ParameterBuffer

# Elementwise updates run over blocks that fit in cache: each block is read from memory once
# instead of once per arithmetic pass (this matters for the 20M-parameter deep net).
BLOCK = 1 << 15


class Optimizer(ABC):
    """Base class: holds the learning rate and per-parameter state.

    Parameters
    ----------
    lr : learning rate, > 0. Schedules change :attr:`lr` between epochs.
    """

    state_names: tuple[str, ...] = ()

    def __init__(self, lr: float) -> None:
        self.lr = float(check_range("lr", lr, low=0.0))
        self.steps = 0
        self._state: dict[str, np.ndarray] = {}
        self._buffer: ParameterBuffer | None = None

    def step(self, params: ParameterBuffer) -> None:
        """Apply one update to ``params.data`` from ``params.grad``."""
        if self._buffer is not params:
            self._bind(params)
        self.steps += 1
        for start in range(0, params.size, BLOCK):
            block = slice(start, start + BLOCK)
            self._update(params.data[block], params.grad[block], {k: v[block] for k, v in self._state.items()})

    @abstractmethod
    def _update(self, values: np.ndarray, grads: np.ndarray, state: dict[str, np.ndarray]) -> None:
        """Update one block of flat ``values`` in place from ``grads`` and this block's state."""

    def hyperparameters(self) -> dict[str, float]:
        """Constructor arguments (for checkpoints and tracking)."""
        return {"lr": self.lr}

    def state_dict(self) -> dict[str, np.ndarray]:
        """A snapshot (copies) of the state, keyed ``"<parameter>/<moment>"``, plus ``"steps"``."""
        out: dict[str, np.ndarray] = {"steps": np.array(self.steps)}
        if self._buffer is not None:
            for moment, flat in self._state.items():
                for name, view in self._buffer.views(flat).items():
                    out[f"{name}/{moment}"] = view.copy()
        return out

    def load_state_dict(self, state: dict[str, np.ndarray], params: ParameterBuffer) -> None:
        """Restore state saved by :meth:`state_dict` for the parameters ``params``."""
        self._bind(params)
        self.steps = int(state["steps"])
        for moment, flat in self._state.items():
            for name, view in params.views(flat).items():
                key = f"{name}/{moment}"
                if key in state:
                    view[...] = state[key]
                elif self.steps > 0:  # an optimizer that never stepped has no moments yet (zeros)
                    raise ValueError(f"optimizer state lacks {key!r} after {self.steps} steps")

    def _bind(self, params: ParameterBuffer) -> None:
        self._buffer = params
        self._state = {name: np.zeros_like(params.data) for name in self.state_names}
        self._scratch = np.empty(min(BLOCK, params.size), dtype=params.dtype)

    def _tmp(self, like: np.ndarray) -> np.ndarray:
        return self._scratch[: like.size]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Plain gradient descent: ``w -= lr * g``."""

    def _update(self, values: np.ndarray, grads: np.ndarray, state: dict[str, np.ndarray]) -> None:
        tmp = np.multiply(grads, self.lr, out=self._tmp(grads))
        values -= tmp


class Momentum(Optimizer):
    """Heavy-ball momentum ``v = momentum * v + g; w -= lr * v`` (optionally Nesterov)."""

    state_names = ("velocity",)

    def __init__(self, lr: float, momentum: float = 0.9, nesterov: bool = False) -> None:
        super().__init__(lr)
        self.momentum = float(check_range("momentum", momentum, low=0.0, high=1.0, low_inclusive=True, high_inclusive=False))
        self.nesterov = bool(nesterov)

    def hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}

    def _update(self, values: np.ndarray, grads: np.ndarray, state: dict[str, np.ndarray]) -> None:
        velocity, tmp = state["velocity"], self._tmp(grads)
        velocity *= self.momentum
        velocity += grads
        if self.nesterov:
            np.multiply(velocity, self.momentum, out=tmp)
            tmp += grads
        else:
            np.copyto(tmp, velocity)
        tmp *= self.lr
        values -= tmp


class RMSprop(Optimizer):
    """``s = rho * s + (1 - rho) * g**2; w -= lr * g / (sqrt(s) + eps)``."""

    state_names = ("square_avg",)

    def __init__(self, lr: float, rho: float = 0.9, eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.rho = float(check_range("rho", rho, low=0.0, high=1.0, high_inclusive=False))
        self.eps = float(check_range("eps", eps, low=0.0))

    def hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "rho": self.rho, "eps": self.eps}

    def _update(self, values: np.ndarray, grads: np.ndarray, state: dict[str, np.ndarray]) -> None:
        square_avg, tmp = state["square_avg"], self._tmp(grads)
        np.multiply(grads, grads, out=tmp)
        tmp *= 1 - self.rho
        square_avg *= self.rho
        square_avg += tmp
        np.sqrt(square_avg, out=tmp)
        tmp += self.eps
        np.divide(grads, tmp, out=tmp)
        tmp *= self.lr
        values -= tmp


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba, 2015)."""

    state_names = ("m", "v")

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.beta1 = float(check_range("beta1", beta1, low=0.0, high=1.0, low_inclusive=True, high_inclusive=False))
        self.beta2 = float(check_range("beta2", beta2, low=0.0, high=1.0, low_inclusive=True, high_inclusive=False))
        self.eps = float(check_range("eps", eps, low=0.0))

    def hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def step(self, params: ParameterBuffer) -> None:
        # bias corrections depend only on the step count: fold them into two scalars per step
        t = self.steps + 1
        # (Python floats, so float32 state is never upcast)
        self._step_size = float(self.lr * np.sqrt(1 - self.beta2**t) / (1 - self.beta1**t))
        self._eps_hat = float(self.eps * np.sqrt(1 - self.beta2**t))
        super().step(params)

    def _update(self, values: np.ndarray, grads: np.ndarray, state: dict[str, np.ndarray]) -> None:
        m, v, tmp = state["m"], state["v"], self._tmp(grads)
        # m += (1 - beta1) * (g - m)
        np.subtract(grads, m, out=tmp)
        tmp *= 1 - self.beta1
        m += tmp
        # v += (1 - beta2) * (g*g - v)
        np.multiply(grads, grads, out=tmp)
        tmp -= v
        tmp *= 1 - self.beta2
        v += tmp
        # w -= step_size * m / (sqrt(v) + eps_hat), the bias-corrected update
        np.sqrt(v, out=tmp)
        tmp += self._eps_hat
        np.divide(m, tmp, out=tmp)
        tmp *= self._step_size
        values -= tmp


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "momentum": Momentum, "rmsprop": RMSprop, "adam": Adam}
