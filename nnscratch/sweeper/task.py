"""The task function as the launcher runs it for a trial: threads decided here, outcome told here.

The wrapper runs in the job's own process, wherever the launcher put it. It caps the BLAS threads for
the job's duration (:func:`job_threads`; threadpoolctl also covers joblib workers started earlier, where
``OMP_NUM_THREADS`` no longer acts) and lets :class:`~.reporter.JobReporter` record the job's
heartbeat and outcome in the study, so results survive the sweeper that launched them.
"""
from __future__ import annotations

import os
from typing import Any

from hydra.types import TaskFunction
from omegaconf import DictConfig

from nnscratch._threads import available_cpus

from .job import BLAS_THREADS_ENV
from .redaction import configured_storage, password_of, scrub_job_files
from .reporter import JobReporter


class TrialTask:
    """Picklable wrapper of a Hydra task function (joblib, submitit and Ray send it to their workers)."""

    def __init__(self, task_function: TaskFunction) -> None:
        self.task_function = task_function

    def __call__(self, cfg: DictConfig) -> Any:
        from threadpoolctl import threadpool_limits

        scrub_job_files(password_of(configured_storage()))  # Hydra saved them before this job started
        reporter = JobReporter.from_env()
        with threadpool_limits(limits=job_threads()):
            if reporter is None:
                return self.task_function(cfg)
            return reporter.run(self.task_function, cfg)


def job_threads() -> int:
    """BLAS threads for this job: as the sweeper set them for its machine, else what this job may use.

    Jobs on this machine (joblib, in-process) get ``cores // jobs running here`` from the sweeper; jobs
    that a scheduler placed (SLURM, Ray) decide here from their allocation.
    """
    threads = os.environ.get(BLAS_THREADS_ENV, "")
    return int(threads) if threads.isdigit() and int(threads) > 0 else available_cpus()


def cpu_count() -> int:
    """Cores this process may use (:func:`nnscratch._threads.available_cpus`)."""
    return available_cpus()
