"""Threads are decided where the job runs: the SLURM allocation, the Ray task, the CPU affinity."""
from __future__ import annotations

import os

import psutil

from nnscratch._threads import available_cpus
from nnscratch.sweeper.job import BLAS_THREADS_ENV, job_env
from nnscratch.sweeper.task import job_threads


def test_slurm_allocation_beats_the_machine():
    assert available_cpus({"SLURM_CPUS_PER_TASK": "3"}) == 3


def test_without_a_scheduler_the_process_affinity_counts():
    assert available_cpus({}) == len(psutil.Process().cpu_affinity())


def test_a_job_uses_the_sweepers_count_for_this_machine_else_its_own(monkeypatch):
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "5")
    monkeypatch.setenv(BLAS_THREADS_ENV, "1")
    assert job_threads() == 1  # a local job: the sweeper divided this machine's cores
    monkeypatch.delenv(BLAS_THREADS_ENV)
    assert job_threads() == 5  # a scheduler's job: its allocation, not the submitting machine's cores
    assert BLAS_THREADS_ENV not in job_env("s.journal", "study", 0, None)  # what remote jobs are given


def test_the_job_limit_applies_to_the_affinity_of_a_restricted_process():
    if not hasattr(os, "sched_setaffinity"):
        return
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(before)})
        assert available_cpus({}) == 1
    finally:
        os.sched_setaffinity(0, before)
