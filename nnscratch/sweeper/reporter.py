"""The job's own record in the study: who runs the trial, its heartbeat, and its outcome.

A trial's job runs wherever the launcher puts it (this process, a joblib worker, a SLURM node, a Ray
worker) and reaches the study through the storage named in its environment (:mod:`.job`). It
records itself (``nnscratch:job``: host, pid, scheduler job id), beats while it trains, and tells
the study its outcome itself: COMPLETE with its values, PRUNED, FAIL with the reason, or, when
interrupted (Ctrl-C, SIGTERM, ``scancel``), FAIL "interrupted" with its parameters queued again. So a
sweeper that died or was stopped loses nothing that finished, and a rerun does not train it again. A
job whose trial is no longer RUNNING when it starts (retired meanwhile, e.g. its sweeper was killed
while the job waited in a queue) does not train at all.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from optuna.trial import TrialState

from .job import HEARTBEAT_ENV, MAX_RETRIES_ENV, current_trial
from .liveness import JOB_HEARTBEAT_KEY, JOB_KEY, RECORDED_KEY, Heartbeat, owner_record
from .outcome import Outcome, outcome_of_error, outcome_of_value
from .recovery import FAIL_REASON_ATTR, retire_trial
from .signals import terminate_as_interrupt

log = logging.getLogger(__name__)

class JobInterrupted(RuntimeError):
    """The job was interrupted; its trial is retired and queued again (an Exception, so pools survive it)."""


class TrialAlreadyFinished(RuntimeError):
    """The job's trial was finished or retired before the job started; nothing was trained."""


def scheduler_job_id(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The scheduler's id of this job, for cancelling it (SLURM: ``{"slurm": "123"}`` or ``"123_4"``)."""
    env = os.environ if environ is None else environ
    job, task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    if job and task:
        return {"slurm": f"{job}_{task}"}
    return {"slurm": env["SLURM_JOB_ID"]} if env.get("SLURM_JOB_ID") else {}


class JobReporter:
    """Run the task of one trial and record it in the study (see the module docstring).

    Parameters
    ----------
    trial : optuna.trial.Trial
        The job's trial (:func:`nnscratch.sweeper.job.current_trial`).
    heartbeat_interval : float
        Seconds between the job's heartbeats.
    max_retries : int
        Re-queues allowed along a trial's chain of retries (the sweep's ``max_retries``).
    """

    def __init__(self, trial: optuna.trial.Trial, heartbeat_interval: float, max_retries: int) -> None:
        self.trial, self.heartbeat_interval, self.max_retries = trial, heartbeat_interval, max_retries
        self.study = trial.study
        self.storage = trial.study._storage

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JobReporter | None:
        """The reporter of this job's trial; ``None`` outside an Optuna sweep."""
        env = os.environ if environ is None else environ
        trial = current_trial(env)
        if trial is None:
            return None
        return cls(trial, float(env.get(HEARTBEAT_ENV, 10)), int(env.get(MAX_RETRIES_ENV, 2)))

    def run(self, task: Callable[[Any], Any], cfg: Any) -> Any:
        """``task(cfg)`` with the job's record, heartbeat and outcome written to the study."""
        self._claim()
        with terminate_as_interrupt(children=False), \
                Heartbeat(self.storage, self.heartbeat_interval, key=JOB_HEARTBEAT_KEY) as heartbeat:
            heartbeat.add(self.trial._trial_id)
            try:
                value = task(cfg)
            except KeyboardInterrupt:
                self._retire_interrupted()
                raise JobInterrupted("interrupted; its parameters are queued again") from None
            except Exception as error:
                self._tell(outcome_of_error(error))
                raise
            finally:
                heartbeat.discard(self.trial._trial_id)
        self._tell(outcome_of_value(value, len(self.study.directions), self._latest().user_attrs))
        return value

    def _claim(self) -> None:
        latest = self._latest()
        if latest.state != TrialState.RUNNING:
            raise TrialAlreadyFinished(f"{latest.state.name} already (retired while its job waited); not trained")
        self.storage.set_trial_system_attr(self.trial._trial_id, JOB_KEY,
                                           {**owner_record(), **scheduler_job_id()})

    def _tell(self, outcome: Outcome) -> None:
        trial_id = self.trial._trial_id
        try:
            if outcome.failed:
                self.storage.set_trial_user_attr(trial_id, FAIL_REASON_ATTR,
                                                 f"{type(outcome.error).__name__}: {outcome.error}"[:500])
            self.storage.set_trial_system_attr(trial_id, RECORDED_KEY, True)
            self.study.tell(self.trial.number, values=outcome.values, state=outcome.state)
        except Exception as error:  # noqa: BLE001 - e.g. retired as stale meanwhile; the sweeper decides then
            log.warning("trial %d: could not record its outcome (%s: %s)", self.trial.number,
                        type(error).__name__, error)

    def _retire_interrupted(self) -> None:
        latest = self._latest()
        if latest.state == TrialState.RUNNING:
            self.storage.set_trial_system_attr(self.trial._trial_id, RECORDED_KEY, True)
            retire_trial(self.study, self.storage, self._latest(), reason="interrupted",
                         max_retries=self.max_retries)

    def _latest(self) -> optuna.trial.FrozenTrial:
        return self.storage.get_trial(self.trial._trial_id)
