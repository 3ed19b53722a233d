"""Where runs go: the tracking URI and the experiment (created with its artifacts next to a SQLite store)."""

from __future__ import annotations

import logging
import os
import tempfile
import urllib.error
import urllib.request
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


#: Seconds a store check waits for a server or database to answer.
CHECK_TIMEOUT = 5.0


class StoreUnavailableError(RuntimeError):
    """The MLflow store cannot be reached or written; the message names it and says what to do."""


def check_store(uri: str, timeout: float = CHECK_TIMEOUT) -> None:
    """Fail in seconds, before any training, when the store at ``uri`` cannot record a run.

    SQLite and file stores: the directory must exist and accept a new file (and an existing database
    file must be writable); tracking servers (``http(s)://``) must answer within ``timeout``;
    databases (``postgresql://``, ``mysql://``, ...) must accept a connection within ``timeout``.
    Other schemes (``databricks``, plugins) are left to MLflow.

    Raises
    ------
    StoreUnavailableError
        One line naming the URI (credentials redacted) or path, the reason and what to do.
    """
    scheme = uri.partition(":")[0].lower() if "://" in uri or uri.startswith("sqlite:") else ""
    if scheme == "sqlite":
        path = sqlite_path(uri)
        if path is not None:
            _check_writable(path.parent, path, uri)
    elif scheme in ("", "file"):
        directory = Path(uri.removeprefix("file://") if scheme else uri)
        _check_writable(directory if directory.exists() else directory.parent, None, uri)
    elif scheme in ("http", "https"):
        _check_server(uri, timeout)
    elif scheme.partition("+")[0] in ("postgresql", "mysql", "mssql"):
        _check_database(uri, timeout)


_FIX = "set tracking.tracking_uri=... (or MLFLOW_TRACKING_URI) to a store you can write, or tracking=none"


def _check_writable(directory: Path, database: Path | None, uri: str) -> None:
    if not directory.is_dir():
        raise StoreUnavailableError(f"MLflow store {uri}: directory {directory} does not exist; create it or {_FIX}")
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
        if database is not None and database.exists():
            with open(database, "r+b"):
                pass
    except OSError as error:
        where = database if database is not None and database.exists() else directory
        raise StoreUnavailableError(f"MLflow store {uri}: cannot write {where} ({error.strerror or error}); "
                                    f"fix its permissions or {_FIX}") from None


def _check_server(uri: str, timeout: float) -> None:
    health = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(health, timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # it answered: a server is there (authentication and the rest are MLflow's business)
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise StoreUnavailableError(f"MLflow tracking server {redact_uri(uri)} is unreachable ({reason}; waited at "
                                    f"most {timeout:g} s); start it (mlflow server ...) or {_FIX}") from None


def _check_database(uri: str, timeout: float) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    timeout_arg = {"connect_timeout": int(max(1, timeout))}
    try:
        engine = create_engine(uri, poolclass=NullPool, connect_args=timeout_arg)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, ImportError, ValueError) as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise StoreUnavailableError(f"MLflow store {redact_uri(uri)}: cannot connect ({redact_uri(reason)}; waited at "
                                    f"most {timeout:g} s); start the database or {_FIX}") from None
