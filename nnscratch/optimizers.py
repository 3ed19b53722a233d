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

import math
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
#: Steps between two flushes of parameters heading to zero (see :meth:`Optimizer.update_span`); a
#: flush step costs about one more elementwise pass over the parameters.
FLUSH_EVERY = 100
#: Per dtype, the magnitude below which a parameter that its update moves toward 0 is set to 0 (other
#: dtypes: below the smallest normal number). 2**-50 is 2**27 below float32's resolution at 1 and
#: above the weights whose L2 gradient (decay * w, decay ~1e-4) squares to a subnormal in Adam.
FLUSH_BELOW = {np.dtype(np.float32): 2.0**-50}

# (values, grads, state, tmp, decayed, previous): views of one block, plus the owning thread's scratch
_Block = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]


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
    #: State that scales as a squared gradient and enters the update as ``sqrt(state) + eps``.
    squared_state: tuple[str, ...] = ()
    #: Whether a weight heading to 0 is flushed below :data:`FLUSH_BELOW` (else only when subnormal):
    #: true where such a weight keeps shrinking once it is that small (see :meth:`_flush`).
    flushes_normal_values = True

    def __init__(self, lr: float) -> None:
        self.lr = float(check_range("lr", lr, low=0.0))
        self.steps = 0
        self._state: dict[str, np.ndarray] = {}
        self._buffer: ParameterBuffer | None = None
        self._plans: dict[tuple[int, int], list[list[_Block]]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._flushing = False

    def step(self, params: ParameterBuffer) -> None:
        """Apply one update to ``params.data`` from ``params.grad``."""
        self.begin_step(params)
        self.update_span(0, params.size)

    def begin_step(self, params: ParameterBuffer) -> None:
        """Start a step on ``params``: count it and prepare its step-dependent constants."""
        if self._buffer is not params:
            self._bind(params)
        self._flushing = self.steps % FLUSH_EVERY == 0 and self.steps > 0
        self.steps += 1
        self._prepare_step()

    def _flush(self, values: np.ndarray, previous: np.ndarray, state: dict[str, np.ndarray]) -> None:
        """After a block's update: zero what is on its way to 0 and what cannot change any result.

        A weight whose only gradient is the L2 term (from a pixel that is always 0, or into a ReLU unit
        that never fires) shrinks toward 0 and, with IEEE arithmetic, ends *subnormal*. CPUs multiply
        subnormals through a slow microcode path: measured here, a 256x2500 @ 2500x2000 product with half
        its weights subnormal took 1.77 s instead of 57 ms, and on its way down such a weight makes Adam's
        ``g * g`` subnormal too (13x slower per operation); the deep8 net's epochs crept from 42 s to 150 s
        (``python -m benchmarks.flush_creep``). So, every :data:`FLUSH_EVERY` steps:

        * a parameter that this update moved toward 0 without crossing it is set to 0 with its first
          moments once it is below :data:`FLUSH_BELOW` (:attr:`flushes_normal_values`: SGD, momentum and
          Adam, whose long second-moment memory keeps such a weight shrinking), else once it is subnormal
          (RMSprop). 0 is where it is going, and there it stays (zero gradient, zero update). A weight the
          update pushes back out is left alone: RMSprop's step, normalised over ~10 steps, does that to
          an L2-only weight passing near 0, and zeroing it at 2**-50 pinned it at 0 for good (11,284
          weights of a 784-256-128-10 net in 2 epochs, largest weight difference 0.129);
        * a squared-gradient state below ``(eps * resolution / 4) ** 2`` is set to 0: ``sqrt(v) + eps``
          rounds to the same value either way, so no result changes.
        """
        magnitude, reference = np.abs(values), np.abs(previous)
        heading = magnitude < self._flush_below
        heading &= magnitude <= reference
        heading &= np.signbit(values) == np.signbit(previous)
        np.copyto(values, 0, where=heading)
        for name, part in state.items():
            if name in self.squared_state:
                np.copyto(part, 0, where=np.abs(part) < self._negligible_square)
            else:
                np.copyto(part, 0, where=heading)

    @property
    def _flush_below(self) -> float:
        dtype = self._buffer.dtype
        tiny = float(np.finfo(dtype).tiny)
        return max(FLUSH_BELOW.get(dtype, 0.0), tiny) if self.flushes_normal_values else tiny

    @property
    def _negligible_square(self) -> float:
        """Squared-gradient state below this leaves ``sqrt(state) + eps`` unchanged (at least subnormals)."""
        info = np.finfo(self._buffer.dtype)
        return max(float(info.tiny), (self._smallest_eps() * float(info.eps) / 4) ** 2)

    def _smallest_eps(self) -> float:
        """The smallest ``eps`` added to ``sqrt`` of :attr:`squared_state` in any step (0: none)."""
        return 0.0

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
        update, flushing = self._update, self._flushing
        for values, grads, state, tmp, decayed, previous in blocks:
            if flushing:
                np.copyto(previous, values)
            if decay:
                np.multiply(values, decay, out=decayed)
                decayed += grads
                update(values, decayed, state, tmp)
            else:
                update(values, grads, state, tmp)
            if flushing:
                self._flush(values, previous, state)

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
            scratch = [np.empty(min(BLOCK, hi - lo), dtype) for _ in range(3)]  # tmp, decayed, previous
            parts.append([self._block(s, min(s + BLOCK, hi), scratch) for s in range(lo, hi, BLOCK)])
        return parts

    def _block(self, lo: int, hi: int, scratch: list[np.ndarray]) -> _Block:
        buffer = self._buffer
        assert buffer is not None
        state = {name: flat[lo:hi] for name, flat in self._state.items()}
        tmp, decayed, previous = (part[: hi - lo] for part in scratch)
        return buffer.data[lo:hi], buffer.grad[lo:hi], state, tmp, decayed, previous

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
    # its step is normalised by a ~1/(1 - rho)-step memory: an L2-only weight near 0 is pushed back out
    flushes_normal_values = False

    def __init__(self, lr: float, rho: float = 0.9, eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.rho = float(check_range("rho", rho, low=0.0, high=1.0, high_inclusive=False))
        self.eps = float(check_range("eps", eps, low=0.0))

    def hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "rho": self.rho, "eps": self.eps}

    def _smallest_eps(self) -> float:
        return self.eps

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

    def _smallest_eps(self) -> float:
        return self.eps * math.sqrt(1 - self.beta2)  # eps_hat at step 1; it only grows after

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
