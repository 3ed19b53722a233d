"""Where one training step's time goes: a phase profile of ``nnscratch.fit``'s step.

Item 2 uses it to explain its ratios. For one network, batch size and BLAS thread count it times,
per step, gathering the shuffled batch, the forward pass, the fused loss, the backward pass and the
optimizer update (the same calls, in the same order, as ``MLP._fit_step``), and, apart, the step's
matrix products alone on the same shapes: what is left above them is per-call overhead and
elementwise work.
"""
from __future__ import annotations

import contextlib
import time
from collections import Counter
from typing import Any

import numpy as np

import nnscratch as nn
from benchmarks.gemm import step_gemm_runner
from benchmarks.timing import per_call
from nnscratch._threads import training_threads
from nnscratch.training import _Batches

PHASES = ("gather", "forward", "loss", "backward", "update")


def _blas_threads(layer_sizes: list[int], batch_size: int, threads: int | None) -> contextlib.AbstractContextManager[Any]:
    """The BLAS thread count ``fit`` uses (``None``) or a forced one."""
    if threads is None:
        return training_threads(layer_sizes, batch_size)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


def profile_epoch(model: nn.MLP, optimizer: nn.Optimizer, X: np.ndarray, y: np.ndarray, batch_size: int,
                  rng: np.random.Generator) -> dict[str, float]:
    """Microseconds per step of each phase over one epoch (no L2, no dropout)."""
    batches, clock, totals, steps = _Batches(X, y, batch_size, model.dtype), time.perf_counter, Counter(), 0
    batch_iter = batches.shuffled(rng)
    while True:
        start = clock()
        batch = next(batch_iter, None)
        if batch is None:
            break
        X_batch, y_batch = batch
        gathered = clock()
        logits = model._forward(X_batch, True)
        forward = clock()
        model.output_loss.value_gradient_correct(logits, y_batch, model._workspace(len(X_batch)).deltas[-1])
        loss = clock()
        model._backward(model._workspace(len(X_batch), True))
        backward = clock()
        optimizer.begin_step(model.params)
        optimizer.update_span(0, model.params.size)
        updated = clock()
        for phase, seconds in zip(PHASES, (gathered - start, forward - gathered, loss - forward,
                                           backward - loss, updated - backward)):
            totals[phase] += seconds
        steps += 1
    return {phase: 1e6 * totals[phase] / steps for phase in PHASES}


def step_profile(layer_sizes: list[int], X: np.ndarray, y: np.ndarray, batch_size: int, lr: float,
                 threads: int | None = None, epochs: int = 2) -> dict[str, float]:
    """Median over ``epochs`` of each phase (us per step), the products alone and the step total."""
    gens = nn.make_generators(0)
    model = nn.MLP.from_layer_sizes(layer_sizes, rng=gens.init)
    optimizer = nn.SGD(lr)
    run_gemms = step_gemm_runner(layer_sizes, batch_size)
    with _blas_threads(layer_sizes, batch_size, threads):
        profiles = [profile_epoch(model, optimizer, X, y, batch_size, gens.shuffle) for _ in range(epochs)]
        gemm_seconds = per_call(run_gemms, repeats=21).median
    result = {phase: float(np.median([p[phase] for p in profiles])) for phase in PHASES}
    result["step"] = sum(result[phase] for phase in PHASES)
    result["gemms_alone"] = 1e6 * gemm_seconds
    return result
