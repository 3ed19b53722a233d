"""Create or load a sweep's study, and the study user attributes that describe the sweep.

Study user attributes written here (visible in optuna-dashboard and read by the report):

* ``sweeper``: sampler, pruner, search space, fixed overrides, directions, ``n_trials``, storage;
  jobs rebuild the pruner from it, since they load the study in another process;
* ``mlflow_parent``: ``{"run_id", "experiment_id", "tracking_uri"}`` of the sweep's MLflow parent run,
  written by the tracking callback through :meth:`nnscratch.sweeper.context.SweepContext.find_or_create_parent`.
"""
from __future__ import annotations

import logging
from collections import Counter
import warnings
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.exceptions import DuplicatedStudyError
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from .budget import used_budget
from .settings import StudyTarget
from .storage import display_storage, journal_path, open_storage

log = logging.getLogger(__name__)

SWEEPER_ATTR = "sweeper"
MLFLOW_PARENT_ATTR = "mlflow_parent"
WORKERS_KEY = "nnscratch:workers"  # study system attribute: how many sweeper processes have joined


def open_study(target: StudyTarget, directions: list[str], *, sampler: optuna.samplers.BaseSampler | None = None,
               pruner: optuna.pruners.BasePruner | None = None,
               load_if_exists: bool = True,
               metric_names: list[str] | None = None) -> tuple[optuna.Study, BaseStorage]:
    """Create the study, or load it when it exists; returns it with its storage object.

    ``metric_names`` (one per direction, e.g. ``["val/acc"]``) name the objectives in reports and
    optuna-dashboard instead of "Objective 0".

    Raises
    ------
    ValueError
        When an existing study has other directions.
    optuna.exceptions.DuplicatedStudyError
        When ``load_if_exists`` is False and the study already has trials.
    """
    storage = open_storage(target.storage)
    study = optuna.create_study(study_name=target.study_name, storage=storage, sampler=sampler, pruner=pruner,
                                directions=directions, load_if_exists=True)
    existing = [d.name.lower() for d in study.directions]
    if existing != directions:
        raise ValueError(f"study {target.study_name!r} in {display_storage(target.storage)} optimizes "
                         f"{existing}, the sweep asks for {directions}; use another study_name")
    if not load_if_exists and study.get_trials(deepcopy=False):
        raise DuplicatedStudyError(f"study {target.study_name!r} already has trials and "
                                   "hydra.sweeper.load_if_exists=false; choose another study_name")
    if metric_names and len(metric_names) == len(directions) and study.metric_names != list(metric_names):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(metric_names))
    return study, storage


def task_metric_names(config: Any) -> list[str] | None:
    """The task's objective names when its config says them (nnscratch: ``optimized_metric`` and
    ``extra_objectives``); None for apps without these keys."""
    from omegaconf import OmegaConf

    first = OmegaConf.select(config, "optimized_metric", default=None)
    if first is None:
        return None
    return [str(first), *(str(m) for m in OmegaConf.select(config, "extra_objectives", default=None) or [])]


def update_user_attr(study: optuna.Study, key: str, value: Mapping[str, Any]) -> None:
    """Set a study user attribute unless it already holds ``value`` (keeps journals short)."""
    if study.user_attrs.get(key) != dict(value):
        study.set_user_attr(key, dict(value))


def register_worker(study: optuna.Study, storage: BaseStorage) -> int:
    """Count this process among the study's workers; returns its 0-based ordinal (call under the study lock).

    The first sweep of a study is worker 0; a second worker, or a rerun that resumes the study, gets 1, ...
    Seeded random samplers (TPE, random, CMA-ES, NSGA-II, GP) add the ordinal to their seed, so workers
    and resumed runs do not draw the same random points again, while a single fresh sweep stays
    reproducible. Grid and QMC samplers keep the seed: it defines their point order in every worker.
    """
    study_id = storage.get_study_id_from_name(study.study_name)
    ordinal = int(storage.get_study_system_attrs(study_id).get(WORKERS_KEY, 0))
    storage.set_study_system_attr(study_id, WORKERS_KEY, ordinal + 1)
    return ordinal


def completion_notice(study: optuna.Study, target: StudyTarget, n_trials: int, *, grid: bool = False) -> str | None:
    """What to tell the user when a resumed study has nothing left to run; ``None`` otherwise.

    Names the storage (the journal file), the trials done by state, and how to run more
    (``n_trials``) or start afresh (another ``study_name``, or delete the file / the study).
    """
    trials = study.get_trials(deepcopy=False)
    if not trials or used_budget(trials) < n_trials or \
            any(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials):
        return None
    counts = ", ".join(f"{n} {state}" for state, n in sorted(Counter(t.state.name for t in trials).items()))
    where = display_storage(target.storage)
    done = (f"its grid of {n_trials} points is exhausted ({counts})." if grid else
            f"{used_budget(trials)} of n_trials={n_trials} trials are done ({counts}). To run more, raise "
            f"hydra.sweeper.n_trials (e.g. hydra.sweeper.n_trials={2 * max(n_trials, 1)}).")
    journal = journal_path(target.storage)
    fresh = (f"delete {journal}" if journal is not None else
             f"delete the study: optuna delete-study --study-name '{study.study_name}' --storage '{where}'")
    return (f"NOTHING TO RUN: study {study.study_name!r} in {where} is already complete: {done} "
            f"To start afresh, set another hydra.sweeper.study_name or {fresh}.")
