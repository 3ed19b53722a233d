"""A finished job's result as an Optuna trial state and values.

* the task returned a number (or, for several directions, a sequence of numbers) -> COMPLETE;
* the task raised :class:`optuna.TrialPruned` (or returned after its trial recorded ``pruned_at``) -> PRUNED;
* the task raised anything else, or returned something that is not a number -> FAIL;
* the task returned NaN (train.py's answer to a diverged run) -> FAIL, but not counted toward
  ``max_failure_rate``: a learning rate that diverges is a result of the search, not a broken job
  (the official plugin, which hands NaN to Optuna, behaves the same).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from hydra.core.utils import JobReturn, JobStatus
from optuna.trial import FrozenTrial, TrialState

from .job import PRUNED_AT_ATTR
from .recovery import FAIL_REASON_ATTR


@dataclass(frozen=True)
class Outcome:
    state: TrialState
    values: list[float] | None = None
    error: BaseException | None = None
    counts_as_failure: bool = True

    @property
    def failed(self) -> bool:
        return self.state == TrialState.FAIL


def outcome_of(job: JobReturn, n_objectives: int, user_attrs: Mapping[str, Any]) -> Outcome:
    """Classify the job's return (see the module docstring)."""
    if job.status == JobStatus.FAILED:
        # JobReturn.return_value would re-raise and log "Error executing job", also for pruned trials.
        error = job._return_value
        return outcome_of_error(error if isinstance(error, BaseException) else RuntimeError(error))
    return outcome_of_value(job.return_value, n_objectives, user_attrs)


def outcome_of_error(error: BaseException) -> Outcome:
    """The outcome of a task that raised ``error``."""
    if isinstance(error, optuna.TrialPruned):
        return Outcome(TrialState.PRUNED, error=error)
    return Outcome(TrialState.FAIL, error=error)


def outcome_of_value(value: Any, n_objectives: int, user_attrs: Mapping[str, Any]) -> Outcome:
    """The outcome of a task that returned ``value``."""
    if PRUNED_AT_ATTR in user_attrs:
        return Outcome(TrialState.PRUNED)
    try:
        return Outcome(TrialState.COMPLETE, values=objective_values(value, n_objectives))
    except NaNObjective as error:
        return Outcome(TrialState.FAIL, error=error, counts_as_failure=False)
    except (TypeError, ValueError) as error:
        return Outcome(TrialState.FAIL, error=error)


def recorded_outcome(trial: FrozenTrial) -> Outcome:
    """The outcome a job recorded in its trial itself (:mod:`.reporter`)."""
    if trial.state == TrialState.COMPLETE:
        return Outcome(TrialState.COMPLETE, values=list(trial.values))
    if trial.state == TrialState.PRUNED:
        return Outcome(TrialState.PRUNED)
    reason = str(trial.user_attrs.get(FAIL_REASON_ATTR, "failed"))
    return Outcome(TrialState.FAIL, error=RuntimeError(reason),
                   counts_as_failure=not reason.startswith(NaNObjective.__name__))


def objective_values(value: Any, n_objectives: int) -> list[float]:
    """The objective value(s) of a task's return value.

    Raises
    ------
    NaNObjective
        When a value is NaN.
    ValueError
        When the value is not float-castable or has the wrong length.
    """
    if n_objectives == 1:
        items = [value]
    elif isinstance(value, Sequence) and not isinstance(value, str):
        items = list(value)
    else:
        raise ValueError(f"{n_objectives} directions need a list/tuple of {n_objectives} numbers, got {value!r}")
    if len(items) != n_objectives:
        raise ValueError(f"{n_objectives} directions, but the task returned {len(items)} values: {value!r}")
    try:
        values = [float(v) for v in items]
    except (TypeError, ValueError) as error:
        raise ValueError(f"the task must return a float-castable value, got {value!r}") from error
    if any(math.isnan(v) for v in values):
        raise NaNObjective(f"the task returned NaN (diverged?): {value!r}")
    return values


class NaNObjective(ValueError):
    """The objective is NaN."""
