"""Where a study lives: storage strings, opening them, and a display form without passwords.

A storage string is either an SQLAlchemy URL (``sqlite:///x.db``, ``postgresql://user@host/db``,
``mysql+pymysql://...``), opened as :class:`optuna.storages.RDBStorage`, or a file path, opened as
Optuna's journal file storage (the format ``optuna-dashboard <path>`` reads as well). Journal files
are safe for several processes on one machine (appends are guarded by a lock compatible with Optuna's
that a killed worker cannot leave behind, see :class:`nnscratch.sweeper.locks.JournalAppendLock`); SQLite is
fine for one process and risky for several writers; use PostgreSQL/MySQL across machines.
"""
from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalStorage
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

JOURNAL_LOCK_GRACE_SECONDS = 30  # before breaking a plain Optuna writer's lock (ours are recovered at once)
RDB_CREATE_ATTEMPTS = 3


def is_rdb_url(storage: str) -> bool:
    """Whether ``storage`` is an SQLAlchemy URL (``scheme://...``) rather than a journal file path."""
    return "://" in storage and not storage.startswith("file://")


def normalize_storage(storage: str, base_dir: Path) -> str:
    """Absolute, driver-complete form of ``storage`` that means the same in every job directory.

    Relative journal paths and relative SQLite paths are taken from ``base_dir`` (the directory the
    sweep was started in); ``postgresql://`` gets the psycopg 3 driver when psycopg2 is missing.
    """
    if storage.startswith("file://"):
        storage = storage[len("file://"):]
    if not is_rdb_url(storage):
        return str((base_dir / Path(storage).expanduser()).resolve())
    url = make_url(storage)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        if not Path(url.database).is_absolute():
            url = url.set(database=str((base_dir / url.database).resolve()))
    if url.drivername == "postgresql" and importlib.util.find_spec("psycopg2") is None:
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def display_storage(storage: str) -> str:
    """``storage`` with any password replaced by ``***`` (for logs, tags and reports)."""
    return make_url(storage).render_as_string(hide_password=True) if is_rdb_url(storage) else storage


def journal_path(storage: str) -> Path | None:
    """The journal file of a journal storage string, else ``None``."""
    return None if is_rdb_url(storage) else Path(storage)


def sqlite_path(storage: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL, else ``None``."""
    if not is_rdb_url(storage):
        return None
    url = make_url(storage)
    return Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None


def open_storage(storage: str) -> BaseStorage:
    """The Optuna storage object for a (normalized) storage string; creates journal directories."""
    path = journal_path(storage)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        from .locks import JournalAppendLock

        lock = JournalAppendLock(str(path), grace_period=JOURNAL_LOCK_GRACE_SECONDS)
        return JournalStorage(JournalFileBackend(str(path), lock_obj=lock))  # type: ignore[arg-type]
    engine_kwargs: dict = {"pool_pre_ping": True}
    if sqlite_path(storage) is not None:
        engine_kwargs = {"connect_args": {"timeout": 60}}
    for attempt in range(RDB_CREATE_ATTEMPTS):
        try:
            return RDBStorage(storage, engine_kwargs=engine_kwargs)
        except SQLAlchemyError as error:  # workers starting together race to create Optuna's tables
            if attempt == RDB_CREATE_ATTEMPTS - 1:
                raise
            log.info("opening %s failed (%s); retrying", display_storage(storage), type(error).__name__)
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def load_study(study_name: str, storage: str, **kwargs: object) -> optuna.Study:
    """:func:`optuna.load_study` on a storage string (journal path or RDB URL)."""
    return optuna.load_study(study_name=study_name, storage=open_storage(storage), **kwargs)

