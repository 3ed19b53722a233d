"""Gradient-descent optimizers that update a :class:`ParameterBuffer` in place.

Each optimizer owns its state (moments) as flat arrays laid out like the parameter buffer, so one
update is a few vectorised calls over every parameter; :meth:`Optimizer.state_dict` exposes the
state keyed by parameter name (``"dense1.W/m"``).

Performance notes. An update is a chain of elementwise passes (Adam makes twelve), so it runs over
cache-sized blocks: each block is read from memory once instead of once per pass. The views of every
block are built once per span and reused, so a step does no per-block slicing or allocation. Spans
of at least :data:`PARALLEL_MIN` elements are split between threads (numpy releases the GIL inside
its loops): a standalone Adam step over 20M parameters drops from 79 to 49 ms on 2 cores. Right
after a matrix product, OpenBLAS's idle worker busy-waits on the other core for a while (its
``OPENBLAS_THREAD_TIMEOUT``), which cancels that gain inside a training step; it is kept because it
costs nothing there and helps everywhere else.
"""
from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ._validation import check_range
from .parameters import ParameterBuffer

#: Elements per block of an elementwise update: values, gradients, state and scratch of a block
#: (1.3 MB for Adam) stay in a core's L2 cache; measured best of 16K-256K for the deep net's Adam.
BLOCK = 1 << 16
#: Spans with at least this many elements are updated by several threads.
PARALLEL_MIN = 1 << 20
#: Steps between two flushes of negligible parameters and state to zero (see
#: :meth:`Optimizer.flush_to_zero`); one flush of the deep net costs about a step's Adam update.
FLUSH_EVERY = 100
#: Per dtype, the magnitude below which :meth:`Optimizer.flush_to_zero` zeroes parameters and
#: gradient-sized state (state that scales as a squared gradient: below its square). Other dtypes
#: flush subnormals only. 2**-50 is 2**27 below float32's resolution at 1, so no sum of normal-sized
#: terms can feel such a weight; it sits above the weights whose L2 gradient (decay * w, decay
#: ~1e-4) squares to a subnormal inside Adam's update.
FLUSH_BELOW = {np.dtype(np.float32): 2.0**-50}

# (values, grads, state, tmp, decayed): views of one block, plus the owning thread's scratch
_Block = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray]


def update_threads() -> int:
    """Threads an update may use: the first of ``NNSCRATCH_NUM_THREADS``, ``NNSCRATCH_BLAS_THREADS``
    (set per sweep job), ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, so a worker given one BLAS
    thread stays on one core; else the BLAS limit of an active threadpoolctl (if already imported);
    else the usable CPUs."""
    for variable in ("NNSCRATCH_NUM_THREADS", "NNSCRATCH_BLAS_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(variable, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    threadpoolctl = sys.modules.get("threadpoolctl")
    if threadpoolctl is not None:  # respect threadpool_limits(...) without importing anything
        blas = [info["num_threads"] for info in threadpoolctl.threadpool_info() if info.get("user_api") == "blas"]
        if blas:
            return max(1, min(blas))
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


class Optimizer(ABC):
    """Base class: holds the learning rate and per-parameter state.

    Parameters
    ----------
    lr : learning rate, > 0. Schedules change :attr:`lr` between epochs.

    A step is :meth:`begin_step` followed by :meth:`update_span` over every parameter; :func:`fit`
    calls the two directly so it can add the L2 term block by block (``decay``) instead of
    materialising ``grad + decay * w`` for the whole buffer. Subclasses implement :meth:`_update`
    for one block.
    """

    state_names: tuple[str, ...] = ()
    #: State that scales as a squared gradient (flushed below the square of the threshold).
    squared_state: tuple[str, ...] = ()

    def __init__(self, lr: float) -> None:
        self.lr = float(check_range("lr", lr, low=0.0))
        self.steps = 0
        self._state: dict[str, np.ndarray] = {}
        self._buffer: ParameterBuffer | None = None
        self._plans: dict[tuple[int, int], list[list[_Block]]] = {}
        self._pool: ThreadPoolExecutor | None = None

    def step(self, params: ParameterBuffer) -> None:
        """Apply one update to ``params.data`` from ``params.grad``."""
        self.begin_step(params)
        self.update_span(0, params.size)

    def begin_step(self, params: ParameterBuffer) -> None:
        """Start a step on ``params``: count it and prepare its step-dependent constants."""
        if self._buffer is not params:
            self._bind(params)
        if self.steps % FLUSH_EVERY == 0 and self.steps:
            self.flush_to_zero()
        self.steps += 1
        self._prepare_step()

    def flush_to_zero(self) -> None:
        """Set parameters and state too small to matter to 0: below :data:`FLUSH_BELOW` of the dtype
        (its square for :attr:`squared_state`), and always below the smallest normal number.

        A weight whose only gradient is the L2 term (it leaves a ReLU unit that never fires, or a
        pixel that is always 0) collapses toward 0 under Adam and RMSprop and ends subnormal, because
        its update underflows. CPUs multiply subnormals through a slow microcode path: measured
        here, a 256x2500 @ 2500x2000 product with half its weights subnormal took 1.77 s instead of
        57 ms. On its way down such a weight also makes Adam's ``g * g`` subnormal (13x slower per
        operation). With subnormals alone flushed, the deep8 net's epochs still crept from 42 s to
        58 s over 12 epochs; with :data:`FLUSH_BELOW` they stayed at 42-46 s with the same losses
        to five digits (``python -m benchmarks.flush_creep``). Zeroing them, as a CPU's
        flush-to-zero mode would, keeps such weights at exactly 0 (zero gradient, zero moments,
        zero update). Called every :data:`FLUSH_EVERY` steps.
        """
        if self._buffer is None:
            return
        dtype = self._buffer.dtype
        tiny = float(np.finfo(dtype).tiny)
        limit = max(FLUSH_BELOW.get(dtype, 0.0), tiny)
        magnitude = np.empty(min(BLOCK, self._buffer.size), dtype)
        small = np.empty(magnitude.shape, bool)
        for name, flat in (("", self._buffer.data), *self._state.items()):
            below = dtype.type(max(limit * limit, tiny) if name in self.squared_state else limit)
            for start in range(0, flat.size, BLOCK):
                part = flat[start:start + BLOCK]
                n = len(part)
                np.abs(part, out=magnitude[:n])
                np.less(magnitude[:n], below, out=small[:n])
                np.copyto(part, 0, where=small[:n])

    def update_span(self, start: int, stop: int, decay: float = 0.0) -> None:
        """Update the flat parameters ``[start, stop)`` for the step begun by :meth:`begin_step`.

        ``decay`` > 0 updates with ``grad + decay * w`` (the gradient of an L2 penalty) without
        changing the stored gradient.
        """
        parts = self._plans.get((start, stop))
        if parts is None:
            parts = self._plans[(start, stop)] = self._plan(start, stop)
        if len(parts) == 1:
            self._run(parts[0], decay)
            return
        pool = self._pool or self._start_pool(len(parts) - 1)
        pending = [pool.submit(self._run, part, decay) for part in parts[1:]]
        self._run(parts[0], decay)
        for future in pending:
            future.result()

    def _run(self, blocks: list[_Block], decay: float) -> None:
        update = self._update
        if decay:
            for values, grads, state, tmp, decayed in blocks:
                np.multiply(values, decay, out=decayed)
                decayed += grads
                update(values, decayed, state, tmp)
        else:
            for values, grads, state, tmp, _ in blocks:
                update(values, grads, state, tmp)

    def _prepare_step(self) -> None:
        """Hook: compute constants of the current step (e.g. Adam's bias corrections)."""

    @abstractmethod
    def _update(self, values: np.ndarray, grads: np.ndarray, state: dict[str, np.ndarray], tmp: np.ndarray) -> None:
        """Update one block of flat ``values`` in place from ``grads`` and this block's state.

        ``tmp`` is scratch of the same length that the method may overwrite.
        """

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
        self._plans = {}

    def _plan(self, start: int, stop: int) -> list[list[_Block]]:
        """The blocks of ``[start, stop)``, split into one contiguous part per thread."""
        assert self._buffer is not None
        size = stop - start
        n_parts = max(1, min(update_threads(), size // (PARALLEL_MIN // 2))) if size >= PARALLEL_MIN else 1
        bounds = [start + size * k // n_parts for k in range(n_parts + 1)]
        dtype = self._buffer.dtype
        parts = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            tmp, decayed = np.empty(min(BLOCK, hi - lo), dtype), np.empty(min(BLOCK, hi - lo), dtype)
            parts.append([self._block(s, min(s + BLOCK, hi), tmp, decayed) for s in range(lo, hi, BLOCK)])
        return parts

    def _block(self, lo: int, hi: int, tmp: np.ndarray, decayed: np.ndarray) -> _Block:
        buffer = self._buffer
        assert buffer is not None
        state = {name: flat[lo:hi] for name, flat in self._state.items()}
        return buffer.data[lo:hi], buffer.grad[lo:hi], state, tmp[: hi - lo], decayed[: hi - lo]

    def _start_pool(self, workers: int) -> ThreadPoolExecutor:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nnscratch-update")
        return self._pool

    def __getstate__(self) -> dict[str, Any]:
        # views and the thread pool are rebuilt on demand; copies keep only the real state
        state = dict(self.__dict__)
        state["_plans"], state["_pool"] = {}, None
        return state

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Plain gradient descent: ``w -= lr * g``."""

    def _update(self, values: np.ndarray, grads: np.ndarray, state: dict[str, np.ndarray], tmp: np.ndarray) -> None:
        np.multiply(grads, self.lr, out=tmp)
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

    def _update(self, values: np.ndarray, grads: np.ndarray, state: dict[str, np.ndarray], tmp: np.ndarray) -> None:
        velocity = state["velocity"]
        velocity *= self.momentum
        velocity += grads
        if self.nesterov:
            np.multiply(velocity, self.momentum, out=tmp)
            tmp += grads
            tmp *= self.lr
        else:
            np.multiply(velocity, self.lr, out=tmp)
        values -= tmp


class RMSprop(Optimizer):
    """``s = rho * s + (1 - rho) * g**2; w -= lr * g / (sqrt(s) + eps)``."""

    state_names = ("square_avg",)
    squared_state = ("square_avg",)

    def __init__(self, lr: float, rho: float = 0.9, eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.rho = float(check_range("rho", rho, low=0.0, high=1.0, high_inclusive=False))
        self.eps = float(check_range("eps", eps, low=0.0))

    def hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "rho": self.rho, "eps": self.eps}

    def _update(self, values: np.ndarray, grads: np.ndarray, state: dict[str, np.ndarray], tmp: np.ndarray) -> None:
        square_avg = state["square_avg"]
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
    squared_state = ("v",)

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.beta1 = float(check_range("beta1", beta1, low=0.0, high=1.0, low_inclusive=True, high_inclusive=False))
        self.beta2 = float(check_range("beta2", beta2, low=0.0, high=1.0, low_inclusive=True, high_inclusive=False))
        self.eps = float(check_range("eps", eps, low=0.0))
        self._step_size = self._eps_hat = 0.0

    def hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def _prepare_step(self) -> None:
        # bias corrections depend only on the step count: fold them into two scalars per step
        # (Python floats, so float32 state is never upcast)
        t = self.steps
        self._step_size = float(self.lr * np.sqrt(1 - self.beta2**t) / (1 - self.beta1**t))
        self._eps_hat = float(self.eps * np.sqrt(1 - self.beta2**t))

    def _update(self, values: np.ndarray, grads: np.ndarray, state: dict[str, np.ndarray], tmp: np.ndarray) -> None:
        m, v = state["m"], state["v"]
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
