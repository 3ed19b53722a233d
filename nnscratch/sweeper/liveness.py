"""Who runs a trial, whether they are still alive, and heartbeats that say so.

Optuna's own heartbeat works for RDB storages inside ``Study.optimize`` only; the sweeper uses
ask-and-tell and journal files too, so it keeps its own record in trial system attributes:

* ``nnscratch:owner`` = ``{"host", "pid", "started"}`` of the process that asked for the trial;
* ``nnscratch:heartbeat`` = Unix time of the owner's last heartbeat.

A RUNNING trial is *stale* when its owner is a dead process on this host (checked at once, so a
rerun after ``kill -9`` recovers immediately), when its owner runs on another host and its heartbeat
is older than the grace period, or when it has no owner record and started longer than the grace
period ago (a worker killed between creating the trial and recording itself; this is why the
workers of a study should all be this sweeper, not also plain ``study.optimize`` loops).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

log = logging.getLogger(__name__)

OWNER_KEY = "nnscratch:owner"
HEARTBEAT_KEY = "nnscratch:heartbeat"


def process_start_time(pid: int) -> float | None:
    """Start time of ``pid`` in clock ticks since boot (Linux ``/proc``), to tell reused pids apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return float(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def owner_record() -> dict[str, Any]:
    """This process as a trial owner."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "started": process_start_time(pid)}


def owner_alive(owner: dict[str, Any]) -> bool | None:
    """True/False for an owner on this host, ``None`` when it runs elsewhere (unknown)."""
    if owner.get("host") != socket.gethostname():
        return None
    pid = int(owner.get("pid", -1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    started = owner.get("started")
    return started is None or process_start_time(pid) in (None, started)


def is_mine(trial: FrozenTrial, me: dict[str, Any]) -> bool:
    owner = trial.system_attrs.get(OWNER_KEY) or {}
    return owner.get("host") == me["host"] and owner.get("pid") == me["pid"]


def is_stale(trial: FrozenTrial, grace_period: float, now: float) -> bool:
    """Whether a RUNNING trial lost its worker (see the module docstring)."""
    if trial.state != TrialState.RUNNING:
        return False
    owner = trial.system_attrs.get(OWNER_KEY)
    alive = owner_alive(owner) if owner else None
    if alive is not None:
        return not alive
    last = trial.system_attrs.get(HEARTBEAT_KEY)
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
    """

    def __init__(self, storage: BaseStorage, interval: float) -> None:
        self._storage, self._interval = storage, interval
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
                self._storage.set_trial_system_attr(trial_id, HEARTBEAT_KEY, now)
            except Exception as error:  # noqa: BLE001 - a finished trial or a storage hiccup; retry next beat
                log.debug("heartbeat for trial id %s skipped: %s", trial_id, error)
