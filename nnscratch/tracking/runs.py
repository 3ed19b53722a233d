"""One MLflow run per training job, always closed: FINISHED, FAILED (error as tags) or KILLED (Ctrl-C).

A run that fails while logging a model (a full disk, say) also marks that half-logged model FAILED, so no
model is left PENDING and nothing picks it up as the run's model."""

from __future__ import annotations

import logging
import shutil
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import mlflow
from mlflow.entities import LoggedModelStatus, RunStatus
from mlflow.tracking import MlflowClient
from mlflow.utils.file_utils import local_file_uri_to_path

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 5000


def outcome(exc: BaseException) -> tuple[str, dict[str, str]]:
    """The MLflow status and tags for a run that ended with ``exc``.

    Ctrl-C (and ``SystemExit``) -> ``KILLED``; an Optuna ``TrialPruned`` -> ``FINISHED`` with tag
    ``trial_state=PRUNED`` (pruning is a normal end, not an error); anything else -> ``FAILED`` with
    the exception type and message as ``error.type`` / ``error.message``, and as ``error.cause`` the
    first exception of the chain when it was raised while handling another.
    """
    error_tags = {"error.type": type(exc).__name__, "error.message": str(exc)[:MAX_ERROR_LENGTH]}
    cause = first_cause(exc)
    if cause is not exc:  # e.g. the store's own write failing while MLflow handled a full disk
        error_tags["error.cause"] = f"{type(cause).__name__}: {cause}"[:MAX_ERROR_LENGTH]
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return RunStatus.to_string(RunStatus.KILLED), error_tags
    if type(exc).__name__ == "TrialPruned":
        return RunStatus.to_string(RunStatus.FINISHED), {"trial_state": "PRUNED"}
    return RunStatus.to_string(RunStatus.FAILED), error_tags


def first_cause(exc: BaseException) -> BaseException:
    """The exception that started a chain of exceptions raised while handling one another."""
    seen = {id(exc)}
    while (earlier := exc.__context__ or exc.__cause__) is not None and id(earlier) not in seen:
        exc = earlier
        seen.add(id(exc))
    return exc


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
        close_failed_run(run, status, end_tags)
        raise
    mlflow.end_run(RunStatus.to_string(RunStatus.FINISHED))


def close_failed_run(run: mlflow.ActiveRun, status: str, tags: Mapping[str, str]) -> None:
    """End ``run`` with ``status`` after a failure, each step on its own so that one failing write does not
    skip the others. Unfinished models go first: removing their partial files frees the space a full disk
    needs for the store's last writes (the reason as tags, then the status).
    """
    run_id = run.info.run_id
    steps = [("mark its unfinished models FAILED", lambda: fail_pending_models(run_id, run.info.experiment_id)),
             ("record why it ended", lambda: mlflow.set_tags(tags)),
             (f"end it {status}", lambda: mlflow.end_run(status))]
    for what, step in steps:
        try:
            step()
        except Exception as error:  # keep closing; the original exception is what the caller sees
            log.error("could not %s for MLflow run %s: %s", what, run_id, error)
    if mlflow.active_run() is not None:
        log.error("MLflow run %s is left RUNNING: the store cannot be written; free space there, then end it "
                  "with MlflowClient().set_terminated(%r, %r)", run_id, run_id, status)
        return
    log.info("MLflow run %s ended %s", run_id, status)


def fail_pending_models(run_id: str, experiment_id: str) -> list[str]:
    """Mark the run's logged models still PENDING (their upload did not finish) FAILED, after removing their
    partial files from a local artifact store; returns their ids."""
    client = MlflowClient()
    pending = [m for m in client.search_logged_models(
        experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'")
        if m.status == LoggedModelStatus.PENDING]
    for model in pending:
        _remove_local_artifacts(model.artifact_location)
        client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
        log.info("logged model %s of run %s marked FAILED (its upload did not finish)", model.model_id, run_id)
    return [model.model_id for model in pending]


def _remove_local_artifacts(location: str) -> None:
    scheme = urllib.parse.urlparse(location).scheme
    if scheme in ("file", ""):
        shutil.rmtree(local_file_uri_to_path(location), ignore_errors=True)
