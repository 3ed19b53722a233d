"""Throwaway MLflow stores for tests: a SQLite file in a tmp dir, copied from one initialised template.

Creating MLflow's schema takes seconds; copying an empty, migrated database takes milliseconds.
:func:`using` points MLflow's fluent API at a store and restores the previous state exactly
(``mlflow.set_tracking_uri`` also writes ``$MLFLOW_TRACKING_URI``, which must not leak into other tests).
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient
from mlflow.tracking._tracking_service import utils as tracking_utils

ENV = "MLFLOW_TRACKING_URI"


def template_store(tmp_path_factory) -> Path:
    """An empty, fully migrated MLflow SQLite database, made once per test session.

    Kept in the session's base temp directory so every test module shares it.
    """
    db = tmp_path_factory.getbasetemp() / "mlflow-template" / "template.db"
    if not db.exists():
        db.parent.mkdir(exist_ok=True)
        scratch = db.with_name("creating.db")
        MlflowClient(tracking_uri=f"sqlite:///{scratch}").search_experiments()
        scratch.rename(db)
    return db


def new_store(template: Path, directory: Path) -> str:
    """A fresh copy of ``template`` at ``directory/mlflow.db``; returns its tracking URI."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, directory / "mlflow.db")
    return f"sqlite:///{directory / 'mlflow.db'}"


@contextmanager
def using(uri: str | None = None) -> Iterator[None]:
    """Within the block MLflow may point anywhere (``uri`` to start with); afterwards it is as before."""
    saved_uri, saved_env = tracking_utils._tracking_uri, os.environ.get(ENV)
    if uri is not None:
        mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        while mlflow.active_run():
            mlflow.end_run()
        mlflow.set_tracking_uri(saved_uri)
        if saved_env is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = saved_env


def runs(uri: str, experiment: str, **kwargs):
    """``mlflow.search_runs`` of one experiment as a DataFrame (empty if it does not exist)."""
    with using(uri):
        return mlflow.search_runs(experiment_names=[experiment], **kwargs)
