"""Tables about a study: every trial, the best ones, per-parameter summaries, importances (pandas)."""
from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from nnscratch.tracking.ui_links import UiLinks, run_fragment

from .job import PRUNED_AT_ATTR
from .mlflow_runs import EXPERIMENT_ID_ATTR, RUN_ID_ATTR, TRACKING_URI_ATTR
from .recovery import FAIL_REASON_ATTR, RETRY_OF_ATTR

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Objective:
    """One objective of the study: its column in the trials table and how to read it from a trial."""

    name: str
    direction: str
    index: int

    def of(self, trial: FrozenTrial) -> float:
        """The objective's value of a finished trial (an Optuna ``target`` function)."""
        return trial.values[self.index]

    def loss(self, trial: FrozenTrial) -> float:
        """The value turned into something to minimize (importance evaluators look for low targets)."""
        return -trial.values[self.index] if self.direction == "maximize" else trial.values[self.index]


def objectives(study: optuna.Study, names: list[str] | None = None) -> list[Objective]:
    """The study's objectives, named by ``names``, else the study's metric names (``val/acc``), else
    ``value`` (one) or ``value_0``, ``value_1``..."""
    directions = [d.name.lower() for d in study.directions]
    names = names or study.metric_names
    if names is None:
        names = ["value"] if len(directions) == 1 else [f"value_{i}" for i in range(len(directions))]
    return [Objective(name, direction, i) for i, (name, direction) in enumerate(zip(names, directions))]


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, objective value(s), params, duration, epochs run, pruned at,
    MLflow run id, failure reason, retry of (``NaN``/``None`` where not applicable)."""
    objs = objectives(study)
    rows = [_row(t, objs) for t in study.get_trials(deepcopy=False)]
    return pd.DataFrame(rows).set_index("number") if rows else pd.DataFrame(columns=["state"])


def _row(trial: FrozenTrial, objs: list[Objective]) -> dict[str, Any]:
    row: dict[str, Any] = {"number": trial.number, "state": trial.state.name}
    for obj in objs:
        row[obj.name] = trial.values[obj.index] if trial.values else np.nan
    row.update({f"params_{k}": v for k, v in trial.params.items()})
    duration = trial.duration
    steps = sorted(trial.intermediate_values)
    row["duration_s"] = duration.total_seconds() if duration is not None else np.nan
    row["epochs_run"] = len(steps)
    row["pruned_at"] = trial.user_attrs.get(PRUNED_AT_ATTR, steps[-1] if steps else None) \
        if trial.state == TrialState.PRUNED else None
    row["mlflow_run_id"] = trial.user_attrs.get(RUN_ID_ATTR)
    row["fail_reason"] = trial.user_attrs.get(FAIL_REASON_ATTR)
    row["retry_of"] = trial.user_attrs.get(RETRY_OF_ATTR)
    row["started"] = trial.datetime_start
    return row


def best_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The best trial (one objective) or the Pareto front (several); empty without COMPLETE trials."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return []
    return [study.best_trial] if len(study.directions) == 1 else list(study.best_trials)


def categorical_params(study: optuna.Study) -> set[str]:
    """Parameters the search space samples from a list of choices (``choice(...)``, ``a,b,c``)."""
    return {name for t in study.get_trials(deepcopy=False) for name, d in t.distributions.items()
            if isinstance(d, CategoricalDistribution)}


def numeric_param_summary(table: pd.DataFrame, objective: Objective, categorical: set[str]) -> pd.DataFrame:
    """Per numeric (not ``categorical``) parameter over COMPLETE trials: count, min, median, max, the
    best trial's value, and the Spearman correlation with the objective."""
    done = table[table["state"] == "COMPLETE"]
    rows = []
    for column in _param_columns(done):
        values = pd.to_numeric(done[column], errors="coerce")
        if column.removeprefix("params_") in categorical or values.isna().all():
            continue
        best = _best_row(done, objective)
        corr = values.corr(done[objective.name], method="spearman") if values.nunique() > 1 else np.nan
        rows.append({"param": column.removeprefix("params_"), "n": int(values.notna().sum()),
                     "min": values.min(), "median": values.median(), "max": values.max(),
                     "best_trial_value": best[column] if best is not None else np.nan,
                     f"spearman_vs_{objective.name}": corr})
    return pd.DataFrame(rows)


def categorical_param_summary(table: pd.DataFrame, objective: Objective, categorical: set[str]) -> pd.DataFrame:
    """Per ``categorical`` parameter and choice: trials, mean and best objective."""
    done = table[table["state"] == "COMPLETE"]
    rows = []
    for column in _param_columns(done):
        values = done[column]
        if column.removeprefix("params_") not in categorical:
            continue
        for choice, group in done.groupby(values.astype(str)):
            scores = group[objective.name]
            rows.append({"param": column.removeprefix("params_"), "choice": choice, "n": len(group),
                         "mean": scores.mean(), "best": scores.max() if objective.direction == "maximize"
                         else scores.min()})
    return pd.DataFrame(rows)


@contextmanager
def quiet_target_warning() -> Iterator[None]:
    """Silence Optuna's reminder that importances look for low targets (``Objective.loss`` is one)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*computes the importances of params to achieve low")
        yield


def importances(study: optuna.Study, objective: Objective) -> dict[str, float]:
    """Optuna's parameter importances for one objective; empty when they cannot be computed."""
    try:
        target = objective.loss if len(study.directions) > 1 else None
        with quiet_target_warning():
            return optuna.importance.get_param_importances(study, target=target)
    except (ValueError, RuntimeError, ZeroDivisionError) as error:
        log.info("parameter importances not available: %s", error)
        return {}


def mlflow_url(user_attrs: dict[str, Any]) -> str | None:
    """The trial's run page in the MLflow UI (for a local store: ``mlflow ui`` on 127.0.0.1:5000)."""
    run_id = user_attrs.get(RUN_ID_ATTR)
    if not run_id:
        return None
    return UiLinks(user_attrs.get(TRACKING_URI_ATTR) or "").base + "/" + run_fragment(
        user_attrs.get(EXPERIMENT_ID_ATTR), run_id)


def mlflow_link(user_attrs: dict[str, Any]) -> str | None:
    """Where to see a trial's MLflow run: a UI URL for http(s) tracking servers, else ``runs:/<id>``
    plus the ``mlflow ui`` command that serves it."""
    url = mlflow_url(user_attrs)
    if url is None:
        return None
    hint = UiLinks(user_attrs.get(TRACKING_URI_ATTR) or "").serve_hint
    return url if hint is None else f"runs:/{user_attrs[RUN_ID_ATTR]} (open with `{hint}`, then {url})"


def _param_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c.startswith("params_")]


def _best_row(done: pd.DataFrame, objective: Objective) -> pd.Series | None:
    if done.empty:
        return None
    scores = done[objective.name]
    return done.loc[scores.idxmax() if objective.direction == "maximize" else scores.idxmin()]
