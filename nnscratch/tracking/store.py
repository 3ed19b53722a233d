"""Where runs go: the tracking URI and the experiment (created with its artifacts next to a SQLite store)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import mlflow
from filelock import FileLock
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

DEFAULT_DB_NAME = "mlflow.db"


def resolve_tracking_uri(configured: str | None, base_dir: str | os.PathLike[str]) -> str:
    """The tracking URI a run uses.

    ``configured`` (``tracking.tracking_uri``, which defaults to ``$MLFLOW_TRACKING_URI``) wins;
    otherwise ``sqlite:///<base_dir>/mlflow.db`` (``base_dir`` = where train.py was started).
    """
    if configured:
        return str(configured)
    return f"sqlite:///{Path(base_dir).resolve() / DEFAULT_DB_NAME}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or None for other stores."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix):]) if uri.startswith(prefix) else None


def redact_uri(uri: str) -> str:
    """``scheme://user:secret@host/db`` -> ``scheme://user:***@host/db`` (for logs and params)."""
    scheme, sep, rest = uri.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return uri
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{location}"


def open_client(uri: str) -> MlflowClient:
    """A client for ``uri``; a new SQLite store's schema is created by one process at a time.

    MLflow creates the tables of a fresh SQLite file when a client first opens it. Two first runs
    starting together (the jobs of a parallel sweep) would both run that migration and one dies
    (``table trace_info already exists``), so the first opening holds a file lock beside the
    database; later ones find the tables and take it only briefly.
    """
    db = sqlite_path(uri)
    if db is None:
        return MlflowClient(tracking_uri=uri)
    with FileLock(f"{db}.lock"):
        return MlflowClient(tracking_uri=uri)  # creates (or checks) the schema inside the lock


def use_store(uri: str) -> MlflowClient:
    """Point the fluent MLflow API at ``uri`` and return a client for the same store."""
    mlflow.set_tracking_uri(uri)
    return open_client(uri)


EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}


def get_or_create_experiment(client: MlflowClient, name: str) -> str:
    """The id of experiment ``name``, creating it if needed.

    A new experiment on a SQLite store keeps its artifacts in ``mlruns/`` next to the database
    file (MLflow's default would be ``./mlruns`` under whatever directory the first run started in).
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id
    db = sqlite_path(client.tracking_uri)
    location = (db.resolve().parent / "mlruns").as_uri() if db is not None else None
    try:
        # MLflow 3's UI opens an experiment on its GenAI views unless told it holds model training runs
        return client.create_experiment(name, artifact_location=location, tags=EXPERIMENT_TAGS)
    except mlflow.exceptions.MlflowException:
        # Another job of the same sweep created it in the meantime.
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id
