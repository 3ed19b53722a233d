"""Retire trials whose worker died: mark them FAIL, queue their parameters again, close their MLflow run.

Used for stale trials (owner process gone, heartbeat too old) found at start or while sweeping, and
for trials whose job process was killed under a running sweeper (joblib's ``TerminatedWorkerError``).
A trial is re-queued at most ``max_retries`` times along its chain of retries; after that its FAIL
counts toward ``n_trials`` like any failure.
"""
from __future__ import annotations

import logging
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from .budget import REQUEUED_KEY, RETRIES_KEY
from .liveness import HEARTBEAT_KEY, JOB_HEARTBEAT_KEY, JOB_KEY, OWNER_KEY, RECORDED_KEY, stale_trials
from .mlflow_runs import end_orphan_run

log = logging.getLogger(__name__)

FAIL_REASON_ATTR = "fail_reason"
RETRY_OF_ATTR = "retry_of"
_OWN_SYSTEM_KEYS = {OWNER_KEY, HEARTBEAT_KEY, JOB_KEY, JOB_HEARTBEAT_KEY, RECORDED_KEY, REQUEUED_KEY, RETRIES_KEY}


def retire_trial(study: optuna.Study, storage: BaseStorage, trial: FrozenTrial, *, reason: str,
                 max_retries: int) -> bool:
    """FAIL the RUNNING ``trial`` (its worker is gone) and re-queue its parameters if retries are left.

    Returns
    -------
    bool
        False when another process finished or retired the trial first (nothing was changed).
    """
    trial_id = _trial_id(storage, study, trial.number)
    retries = int(trial.system_attrs.get(RETRIES_KEY, 0))
    requeue = retries < max_retries
    try:
        storage.set_trial_user_attr(trial_id, FAIL_REASON_ATTR, reason)
        if requeue:
            storage.set_trial_system_attr(trial_id, REQUEUED_KEY, True)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
    except UpdateFinishedTrialError:
        return False
    if requeue:
        study.add_trial(_retry_of(trial, retries + 1))
    log.warning("trial %d failed (%s)%s", trial.number, reason,
                "; its parameters are queued again" if requeue else f"; {max_retries} retries used, not re-queued")
    end_orphan_run(study, trial, status="KILLED", reason=reason)
    return True


def reap_stale_trials(study: optuna.Study, storage: BaseStorage, *, grace_period: float,
                      max_retries: int) -> list[int]:
    """Retire every stale RUNNING trial of the study; returns their numbers."""
    stale = stale_trials(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)), grace_period)
    return [t.number for t in stale
            if retire_trial(study, storage, t, reason="worker died (stale trial)", max_retries=max_retries)]


def _retry_of(trial: FrozenTrial, retries: int) -> FrozenTrial:
    system_attrs: dict[str, Any] = {k: v for k, v in trial.system_attrs.items() if k not in _OWN_SYSTEM_KEYS}
    system_attrs[RETRIES_KEY] = retries
    return optuna.trial.create_trial(
        state=TrialState.WAITING, params=trial.params, distributions=trial.distributions,
        user_attrs={RETRY_OF_ATTR: trial.number}, system_attrs=system_attrs)


def _trial_id(storage: BaseStorage, study: optuna.Study, number: int) -> int:
    study_id = storage.get_study_id_from_name(study.study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, number)
