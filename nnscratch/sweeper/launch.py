"""Launch one trial's job and watch it: until it returns, its trial is settled, or the sweep stops.

Launchers that hand jobs to a scheduler (submitit, Ray) block in ``launch()`` until the scheduler
reports back, and a job that SLURM cancelled or killed without accounting never does. So every
launcher but the in-process one is called from a helper thread while the slot watches the trial in
the study. The watch ends without the launcher's answer when

* the job told its outcome itself (:mod:`.reporter`) or another worker retired the trial;
* the job stopped heart-beating for the grace period (:func:`.liveness.is_stale`): its scheduler job
  is cancelled and the slot retires the trial;
* the sweep stops (Ctrl-C, SIGTERM, the failure budget): the job is cancelled, and the slot waits
  up to the grace period for it to record itself as interrupted before retiring it.

Cancelling: ``scancel`` for a SLURM job; SIGINT for a job process on this host (not when the whole
sweep was interrupted: Ctrl-C or :mod:`.signals` reached it already).
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from .liveness import JOB_KEY, is_stale

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


class LaunchWatch:
    """Run ``launch`` for trial ``trial_id`` and watch the trial (see the module docstring).

    Parameters
    ----------
    storage : optuna.storages.BaseStorage
    trial_id : int
    grace_period : float
        Seconds without a job heartbeat before the job counts as gone; also how long a stopped
        sweep waits for a cancelled job.
    check_every : float
        Seconds between looks at the trial in the study.
    stopping, interrupted : threading.Event
        Set when the sweep stops early, and when it stops because it was interrupted.
    """

    def __init__(self, storage: BaseStorage, trial_id: int, *, grace_period: float, check_every: float,
                 stopping: threading.Event, interrupted: threading.Event) -> None:
        self.storage, self.trial_id, self.grace_period = storage, trial_id, grace_period
        self.check_every, self.stopping, self.interrupted = check_every, stopping, interrupted

    def run(self, launch: Callable[[], Any]) -> Any:
        """The launcher's return, or ``None`` when the watch ended without it (the caller settles the trial).

        Raises whatever ``launch`` raised.
        """
        box: dict[str, Any] = {}
        thread = threading.Thread(target=_into(box, launch), name=f"launch-trial-id-{self.trial_id}", daemon=True)
        thread.start()
        stopped_at: float | None = None
        next_check = time.monotonic() + self.check_every
        while True:
            thread.join(POLL_SECONDS)
            if not thread.is_alive():
                break
            now = time.monotonic()
            if self.stopping.is_set():
                if stopped_at is None:
                    stopped_at = now
                    cancel_job(self._trial(), local=not self.interrupted.is_set())
                elif now - stopped_at > self.grace_period:
                    return None
            elif now >= next_check:
                next_check = now + self.check_every
                if self._settled_or_gone():
                    return None
        if "error" in box:
            raise box["error"]
        return box.get("job")

    def _settled_or_gone(self) -> bool:
        trial = self._trial()
        if trial.state.is_finished():
            return True
        if is_stale(trial, self.grace_period, time.time()):
            log.warning("trial %d: its job stopped heart-beating for %ss; cancelling it", trial.number,
                        self.grace_period)
            cancel_job(trial, local=True)
            return True
        return False

    def _trial(self) -> FrozenTrial:
        return self.storage.get_trial(self.trial_id)


def _into(box: dict[str, Any], launch: Callable[[], Any]) -> Callable[[], None]:
    def target() -> None:
        try:
            box["job"] = launch()
        except BaseException as error:  # noqa: BLE001 - handed to the watching slot
            box["error"] = error
    return target


def cancel_job(trial: FrozenTrial, *, local: bool) -> bool:
    """Cancel the trial's running job: ``scancel`` its SLURM job, or SIGINT its process on this host."""
    record = trial.system_attrs.get(JOB_KEY) or {}
    if trial.state != TrialState.RUNNING or not record:
        return False
    slurm_id = record.get("slurm")
    if slurm_id and shutil.which("scancel"):
        done = subprocess.run(["scancel", str(slurm_id)], capture_output=True, text=True, timeout=30, check=False)
        log.info("trial %d: scancel %s%s", trial.number, slurm_id,
                 f" ({done.stderr.strip()})" if done.returncode else "")
        return done.returncode == 0
    if local and record.get("host") == socket.gethostname() and record.get("pid") not in (None, os.getpid()):
        try:
            psutil.Process(int(record["pid"])).send_signal(signal.SIGINT)
        except psutil.Error:
            return False
        log.info("trial %d: interrupted its job (pid %s)", trial.number, record["pid"])
        return True
    return False
