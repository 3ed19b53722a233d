"""The task function as the launcher runs it for a trial: BLAS threads capped for the job's duration.

N jobs running at once with every BLAS library using all cores would oversubscribe the machine. The
sweeper sets ``NNSCRATCH_BLAS_THREADS`` per job (``max(1, cores // N)`` with N the jobs running on
this machine, this sweep's and other workers' of the same study, unless configured); this
wrapper applies it with threadpoolctl in the job's own process, which also covers joblib workers that
were started earlier (environment variables such as ``OMP_NUM_THREADS`` only act when BLAS loads).
"""
from __future__ import annotations

import os
from typing import Any

from hydra.types import TaskFunction
from omegaconf import DictConfig

from .job import BLAS_THREADS_ENV


class TrialTask:
    """Picklable wrapper of a Hydra task function (joblib sends it to its workers)."""

    def __init__(self, task_function: TaskFunction) -> None:
        self.task_function = task_function

    def __call__(self, cfg: DictConfig) -> Any:
        threads = os.environ.get(BLAS_THREADS_ENV)
        if not threads:
            return self.task_function(cfg)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=int(threads)):
            return self.task_function(cfg)


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
