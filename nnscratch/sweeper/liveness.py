"""Who runs a trial, whether they are still alive, and heartbeats that say so.

Optuna's own heartbeat works for RDB storages inside ``Study.optimize`` only; the sweeper uses
ask-and-tell and journal files too, so it keeps its own record in trial system attributes:

* ``nnscratch:owner`` = ``{"host", "pid", "created"}`` of the sweeper process that asked for the
  trial (``created``: its creation time, which tells a reused pid apart; liveness is checked with
  psutil on Linux, macOS and Windows alike), ``nnscratch:heartbeat`` its last heartbeat;
* ``nnscratch:job`` = the same for the job process that runs the trial (on whatever machine the
  launcher put it, plus its scheduler job id), ``nnscratch:job_heartbeat`` the job's own heartbeat.

A RUNNING trial whose job has started is judged by the job: stale when the job is a dead process on
this host (checked at once), or runs elsewhere and has not beaten for the grace period (a job that
SLURM cancelled or killed, with or without accounting). Before its job starts it is judged by the
sweeper that asked for it: stale when that is a dead process on this host, or runs elsewhere with a
heartbeat older than the grace period, or when there is no owner record and the trial started longer
than the grace period ago (a worker killed between creating the trial and recording itself; this is
why the workers of a study should all be this sweeper, not also plain ``study.optimize`` loops).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

import psutil
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

log = logging.getLogger(__name__)

OWNER_KEY = "nnscratch:owner"
HEARTBEAT_KEY = "nnscratch:heartbeat"
JOB_KEY = "nnscratch:job"
JOB_HEARTBEAT_KEY = "nnscratch:job_heartbeat"
RECORDED_KEY = "nnscratch:recorded_by_job"  # the job told the trial's outcome itself
CREATED_KEY = "created"  # the owner's process creation time; older records had "started" (clock ticks)
CREATED_TOLERANCE = 1.0  # seconds: psutil derives creation times from boot time, which may be rounded


def process_start_time(pid: int) -> float | None:
    """Creation time of ``pid`` (Unix seconds, psutil), to tell a reused pid from the original process."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


def owner_record() -> dict[str, Any]:
    """This process as a trial owner."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, CREATED_KEY: process_start_time(pid)}


def owner_alive(owner: dict[str, Any]) -> bool | None:
    """True/False for an owner on this host, ``None`` when it runs elsewhere (unknown)."""
    if owner.get("host") != socket.gethostname():
        return None
    pid = int(owner.get("pid", -1))
    if pid <= 0 or not psutil.pid_exists(pid):
        return False
    created = owner.get(CREATED_KEY)
    if created is None:
        return True
    now = process_start_time(pid)
    return now is None or abs(now - float(created)) < CREATED_TOLERANCE


def is_mine(trial: FrozenTrial, me: dict[str, Any]) -> bool:
    owner = trial.system_attrs.get(OWNER_KEY) or {}
    return owner.get("host") == me["host"] and owner.get("pid") == me["pid"]


def is_stale(trial: FrozenTrial, grace_period: float, now: float) -> bool:
    """Whether a RUNNING trial lost its job or worker (see the module docstring)."""
    if trial.state != TrialState.RUNNING:
        return False
    attrs = trial.system_attrs
    started = bool(attrs.get(JOB_KEY))
    record, beat_key = (attrs[JOB_KEY], JOB_HEARTBEAT_KEY) if started else (attrs.get(OWNER_KEY), HEARTBEAT_KEY)
    alive = owner_alive(record) if record else None
    if alive is not None:
        return not alive
    last = attrs.get(beat_key)
    if last is None:
        last = trial.datetime_start.timestamp() if trial.datetime_start else now
    return now - float(last) > grace_period


def stale_trials(trials: Iterable[FrozenTrial], grace_period: float, now: float | None = None) -> list[FrozenTrial]:
    now = time.time() if now is None else now
    return [t for t in trials if is_stale(t, grace_period, now)]


class Heartbeat:
    """Background thread that records a heartbeat for each trial this process runs.

    Parameters
    ----------
    storage : optuna.storages.BaseStorage
        The study's storage.
    interval : float
        Seconds between heartbeats.
    key : str
        The system attribute written: the sweeper's or (for the job's own beat) ``JOB_HEARTBEAT_KEY``.
    """

    def __init__(self, storage: BaseStorage, interval: float, key: str = HEARTBEAT_KEY) -> None:
        self._storage, self._interval, self._key = storage, interval, key
        self._trial_ids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nnscratch-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def add(self, trial_id: int) -> None:
        """Start beating for ``trial_id`` (records one beat at once)."""
        with self._lock:
            self._trial_ids.add(trial_id)
        self._beat([trial_id])

    def discard(self, trial_id: int) -> None:
        with self._lock:
            self._trial_ids.discard(trial_id)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                ids = list(self._trial_ids)
            self._beat(ids)

    def _beat(self, trial_ids: list[int]) -> None:
        now = time.time()
        for trial_id in trial_ids:
            try:
                self._storage.set_trial_system_attr(trial_id, self._key, now)
            except Exception as error:  # noqa: BLE001 - a finished trial or a storage hiccup; retry next beat
                log.debug("heartbeat for trial id %s skipped: %s", trial_id, error)
