"""What a Hydra job of an Optuna sweep uses: its trial, pruning, and the link to its MLflow run.

The sweeper gives every job environment variables through per-job ``hydra.job.env_set``
overrides, which Hydra applies around the job wherever it runs: the storage (its password as ``***``,
see :mod:`.redaction`), the study name, the trial number, the heartbeat interval and retries.
:func:`current_trial` rebuilds the trial from the storage, so reports and pruning decisions go
through the storage that every process shares, never through a Python object handed over in memory.

Usage in a training entry point::

    trial = current_trial()                     # None outside an Optuna sweep
    callbacks = [PruningCallback(trial, monitor="val/acc")] if trial else []
    if trial:
        record_run_id(trial, run.info.run_id, tracking_uri=mlflow.get_tracking_uri(),
                      experiment_id=run.info.experiment_id)
    fit(..., callbacks=callbacks)               # raises optuna.TrialPruned when pruned: let it propagate
"""
from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import optuna
from optuna.storages import BaseStorage

from .factories import build_pruner
from .mlflow_runs import EXPERIMENT_ID_ATTR, RUN_ID_ATTR, TRACKING_URI_ATTR
from .redaction import configured_storage, with_password
from .space import encode_value
from .storage import display_storage, open_storage
from .studies import MLFLOW_PARENT_ATTR, SWEEPER_ATTR

log = logging.getLogger(__name__)

STORAGE_ENV = "NNSCRATCH_OPTUNA_STORAGE"
STUDY_ENV = "NNSCRATCH_OPTUNA_STUDY"
TRIAL_ENV = "NNSCRATCH_OPTUNA_TRIAL"
BLAS_THREADS_ENV = "NNSCRATCH_BLAS_THREADS"
HEARTBEAT_ENV = "NNSCRATCH_HEARTBEAT_SECONDS"
MAX_RETRIES_ENV = "NNSCRATCH_MAX_RETRIES"
PRUNED_AT_ATTR = "pruned_at"


def job_env(storage: str, study_name: str, number: int, blas_threads: int | None, *,
            heartbeat_interval: float = 10, max_retries: int = 2) -> dict[str, str]:
    """The environment a trial's job gets (see the module docstring).

    ``blas_threads`` None leaves the job's threads to be decided where it runs (:mod:`.task`).
    """
    env = {STORAGE_ENV: storage, STUDY_ENV: study_name, TRIAL_ENV: str(number),
           HEARTBEAT_ENV: str(heartbeat_interval), MAX_RETRIES_ENV: str(max_retries)}
    if blas_threads is not None:
        env[BLAS_THREADS_ENV] = str(blas_threads)
    return env


def env_overrides(env: Mapping[str, str]) -> list[str]:
    """``++hydra.job.env_set.NAME=value`` overrides that put ``env`` around one job."""
    return [f"++hydra.job.env_set.{name}={encode_value(str(value))}" for name, value in env.items()]


def current_trial(environ: Mapping[str, str] | None = None) -> optuna.trial.Trial | None:
    """The trial of this Hydra job, looked up in the study storage; ``None`` outside an Optuna sweep.

    The returned trial reports intermediate values and answers ``should_prune()`` with the sweep's
    pruner (rebuilt from the study's ``sweeper`` user attribute). Its parameters were already applied
    to the job's config as overrides; do not suggest new ones from it.
    """
    env = os.environ if environ is None else environ
    storage_url, study_name, number = env.get(STORAGE_ENV), env.get(STUDY_ENV), env.get(TRIAL_ENV)
    if not (storage_url and study_name and number):
        return None
    storage = job_storage(with_password(storage_url, configured_storage()))
    study_id = storage.get_study_id_from_name(study_name)
    sweeper = storage.get_study_user_attrs(study_id).get(SWEEPER_ATTR) or {}
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=optuna.samplers.RandomSampler(),
                              pruner=build_pruner(sweeper.get("pruner")))
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, int(number))
    log.debug("job runs trial %s of study %s in %s", number, study_name, display_storage(storage_url))
    return optuna.trial.Trial(study, trial_id)


@lru_cache(maxsize=8)
def job_storage(storage: str) -> BaseStorage:
    """The storage object for ``storage``, opened once per process (jobs in one worker share it)."""
    return open_storage(storage)


class PruningCallback:
    """``fit`` callback: report ``monitor`` to the trial each epoch and stop a trial the pruner drops.

    Parameters
    ----------
    trial : optuna.trial.Trial
        The job's trial (:func:`current_trial`).
    monitor : str
        Metric name in the epoch's metrics dict, e.g. ``"val/acc"``.

    Raises
    ------
    optuna.TrialPruned
        From :meth:`on_epoch_end` when the pruner says so; the trial records ``pruned_at`` (the epoch).
        Let it propagate out of ``fit`` and the job: the sweeper marks the trial PRUNED.
    """

    def __init__(self, trial: optuna.trial.Trial, monitor: str = "val/acc") -> None:
        self.trial, self.monitor = trial, monitor
        self.multi_objective = len(trial.study.directions) > 1
        self._warned = False

    def on_epoch_end(self, epoch: int, metrics: Mapping[str, float]) -> None:
        value = metrics.get(self.monitor)
        if self.multi_objective or value is None or not math.isfinite(float(value)):
            self._warn_once(value)
            return
        self.trial.report(float(value), step=epoch)
        if self.trial.should_prune():
            self.trial.set_user_attr(PRUNED_AT_ATTR, epoch)
            raise optuna.TrialPruned(f"trial {self.trial.number} pruned at epoch {epoch} "
                                     f"({self.monitor}={float(value):.4g})")

    def _warn_once(self, value: Any) -> None:
        if self._warned:
            return
        self._warned = True
        if self.multi_objective:
            log.info("pruning is not available for multi-objective studies; reporting nothing")
        elif value is None:
            log.warning("metric %r not in the epoch metrics; nothing reported for pruning", self.monitor)


def record_run_id(trial: optuna.trial.Trial, run_id: str, *, tracking_uri: str | None = None,
                  experiment_id: str | None = None) -> None:
    """Link the trial to its MLflow run (user attributes ``mlflow_run_id``, ``mlflow_tracking_uri``, ...).

    The sweeper uses them to end the run as KILLED if the job dies; the report links to the run.
    Pass an absolute tracking URI: jobs may run in another working directory.
    """
    trial.set_user_attr(RUN_ID_ATTR, run_id)
    if tracking_uri:
        trial.set_user_attr(TRACKING_URI_ATTR, tracking_uri)
    if experiment_id is not None:
        trial.set_user_attr(EXPERIMENT_ID_ATTR, str(experiment_id))


def trial_tags(trial: optuna.trial.Trial) -> dict[str, str]:
    """MLflow tags for the trial's child run: study, trial number, storage (without password)."""
    storage = os.environ.get(STORAGE_ENV, "")
    return {"optuna.study_name": trial.study.study_name, "optuna.trial_number": str(trial.number),
            "optuna.storage": display_storage(storage) if storage else ""}


def parent_run(trial: optuna.trial.Trial) -> dict[str, Any] | None:
    """``{"run_id", "experiment_id", "tracking_uri"}`` of the sweep's MLflow parent run, if recorded."""
    return trial.study.user_attrs.get(MLFLOW_PARENT_ATTR)
