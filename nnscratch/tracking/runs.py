"""One MLflow run per training job, always closed: FINISHED, FAILED (error as tags) or KILLED (Ctrl-C)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import mlflow
from mlflow.entities import RunStatus

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 5000


def outcome(exc: BaseException) -> tuple[str, dict[str, str]]:
    """The MLflow status and tags for a run that ended with ``exc``.

    Ctrl-C (and ``SystemExit``) -> ``KILLED``; an Optuna ``TrialPruned`` -> ``FINISHED`` with tag
    ``trial_state=PRUNED`` (pruning is a normal end, not an error); anything else -> ``FAILED`` with
    the exception type and message as ``error.type`` / ``error.message``.
    """
    error_tags = {"error.type": type(exc).__name__, "error.message": str(exc)[:MAX_ERROR_LENGTH]}
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return RunStatus.to_string(RunStatus.KILLED), error_tags
    if type(exc).__name__ == "TrialPruned":
        return RunStatus.to_string(RunStatus.FINISHED), {"trial_state": "PRUNED"}
    return RunStatus.to_string(RunStatus.FAILED), error_tags


@contextmanager
def tracked_run(experiment_id: str, *, run_name: str | None = None, tags: Mapping[str, str] | None = None,
                parent_run_id: str | None = None) -> Iterator[mlflow.ActiveRun]:
    """Start an MLflow run (a child of ``parent_run_id`` if given) and end it whatever happens.

    Exceptions propagate after the run is ended with the status from :func:`outcome`.
    """
    run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=dict(tags or {}),
                           parent_run_id=parent_run_id)
    try:
        yield run
    except BaseException as exc:
        status, end_tags = outcome(exc)
        try:
            mlflow.set_tags(end_tags)
        finally:
            mlflow.end_run(status)
        log.info("MLflow run %s ended %s", run.info.run_id, status)
        raise
    mlflow.end_run(RunStatus.to_string(RunStatus.FINISHED))
