"""How many BLAS threads a training loop should use for its matrix products.

OpenBLAS splits every product above a tiny size over all its threads. For the small products of a
small network at a small batch that costs more than it gains: measured on 2 cores, 784-128-64-10
trains 1.35x faster per step at batch 32 with one BLAS thread than with two (1.2x at batch 64),
while from about 10 million multiply-adds per product two threads win (1.2x at batch 256, 1.5x for
the deep net). The rule depends only on the network and batch size, so a configuration always
runs the same way (and gives the same numbers). The limit needs threadpoolctl; without it, or when
it does not apply, the loop runs with the BLAS as configured.

:func:`available_cpus` is what a job may use where it runs (a SLURM allocation, a Ray task, a CPU
affinity mask), never the core count of the machine that submitted it.
"""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

#: Steps whose largest product has fewer multiply-adds than this run with one BLAS thread.
SINGLE_THREAD_MACS = 1 << 23
#: OpenBLAS itself runs products below 4 * 65536 multiply-adds on one thread: no limit needed.
BLAS_OWN_THRESHOLD = 1 << 18


def largest_product(layer_sizes: Sequence[int], batch_size: int) -> int:
    """Multiply-adds of the biggest matrix product of one training step."""
    return batch_size * max(n_in * n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))


def training_threads(layer_sizes: Sequence[int], batch_size: int) -> contextlib.AbstractContextManager[Any]:
    """A context in which to run the training steps of this network at this batch size."""
    macs = largest_product(layer_sizes, batch_size)
    if not BLAS_OWN_THRESHOLD <= macs < SINGLE_THREAD_MACS:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def available_cpus(environ: Mapping[str, str] | None = None) -> int:
    """CPUs this process may use: SLURM's ``SLURM_CPUS_PER_TASK``, the Ray task's CPUs, else its affinity."""
    env = os.environ if environ is None else environ
    slurm = env.get("SLURM_CPUS_PER_TASK", "")
    if slurm.isdigit() and int(slurm) > 0:
        return int(slurm)
    ray_cpus = _ray_task_cpus()
    if ray_cpus:
        return ray_cpus
    return _affinity_cpus()


def _ray_task_cpus() -> int | None:
    ray = sys.modules.get("ray")  # only inside a Ray worker, where ray is imported already
    try:
        if ray is None or not ray.is_initialized():
            return None
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    except Exception:  # noqa: BLE001 - the driver, or a Ray version without this API
        return None
    return max(1, int(cpus)) if cpus else None


def _affinity_cpus() -> int:
    try:
        import psutil

        return len(psutil.Process().cpu_affinity()) or 1
    except (ImportError, AttributeError, OSError):  # macOS has no affinity: every core
        return os.cpu_count() or 1
