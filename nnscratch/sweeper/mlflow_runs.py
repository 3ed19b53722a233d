"""Close the MLflow runs of a trial whose job died before it could close them itself.

The job records its run in the trial's user attributes (``mlflow_run_id``, ``mlflow_tracking_uri``;
see :func:`nnscratch.sweeper.job.record_run_id`). A job killed between creating its run and
recording it leaves a run the trial does not name; every child run carries the tags
``optuna.study_name`` and ``optuna.trial_number`` from its creation, so such runs are found by those
tags in the experiment of the study's parent run. MLflow is imported here only when a run must be
closed, so the sweeper does not depend on MLflow otherwise.
"""
from __future__ import annotations

import logging
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from .studies import MLFLOW_PARENT_ATTR

log = logging.getLogger(__name__)

RUN_ID_ATTR = "mlflow_run_id"
TRACKING_URI_ATTR = "mlflow_tracking_uri"
EXPERIMENT_ID_ATTR = "mlflow_experiment_id"


def end_orphan_run(study: optuna.Study, trial: FrozenTrial, status: str, reason: str) -> int:
    """Terminate the trial's RUNNING MLflow runs with ``status`` (``KILLED``/``FAILED``).

    Returns
    -------
    int
        How many runs were terminated. Errors (MLflow missing, server down) are logged, not raised.
    """
    where = _where(study, trial)
    if where is None:
        return 0
    uri, experiment_id = where
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        run_ids = _running_runs(client, study.study_name, trial, experiment_id)
        for run_id in run_ids:
            client.set_tag(run_id, "nnscratch.end_reason", reason)
            client.set_terminated(run_id, status=status)
    except Exception as error:  # noqa: BLE001 - best effort; the sweep must go on
        log.warning("could not end the MLflow run of trial %d as %s: %s", trial.number, status, error)
        return 0
    for run_id in run_ids:
        log.info("MLflow run %s of a dead job ended as %s (%s)", run_id, status, reason)
    return len(run_ids)


def _where(study: optuna.Study, trial: FrozenTrial) -> tuple[str | None, str | None] | None:
    """(tracking URI, experiment id) of the trial's run: from the trial, else from the study's parent run."""
    parent: dict[str, Any] = study.user_attrs.get(MLFLOW_PARENT_ATTR) or {}
    attrs = trial.user_attrs
    if not attrs.get(RUN_ID_ATTR) and not parent:
        return None  # tracking off: no run to look for
    return (attrs.get(TRACKING_URI_ATTR) or parent.get("tracking_uri"),
            attrs.get(EXPERIMENT_ID_ATTR) or parent.get("experiment_id"))


def _running_runs(client: Any, study_name: str, trial: FrozenTrial, experiment_id: str | None) -> list[str]:
    run_id = trial.user_attrs.get(RUN_ID_ATTR)
    ids = {run_id} if run_id and client.get_run(run_id).info.status == "RUNNING" else set()
    if experiment_id is not None:
        found = client.search_runs(
            [experiment_id], max_results=100,
            filter_string=(f"tags.`optuna.study_name` = '{_quoted(study_name)}' and "
                           f"tags.`optuna.trial_number` = '{trial.number}' and attributes.status = 'RUNNING'"))
        ids.update(run.info.run_id for run in found)
    return sorted(ids)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")
