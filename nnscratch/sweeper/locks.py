"""A lock shared by every worker of one study, held while a worker counts trials and asks for one.

Counting the study's trials and creating the next one must happen as one step, or two workers that
both see one trial missing would both start one and overshoot ``n_trials``. The lock is taken at the
storage level, so it holds across threads, processes and (for PostgreSQL/MySQL) machines:

* journal file / SQLite: ``flock`` on the storage file itself (released by the kernel if the holder dies);
* PostgreSQL: a session advisory lock; MySQL: ``GET_LOCK``; both released when the connection drops;
* anything else: a process-local lock only (``exact`` is False; the sweeper then re-checks after asking).

:class:`JournalAppendLock` is the journal file's own write lock (see its docstring).
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from .storage import is_rdb_url, journal_path, sqlite_path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


class _Backend(Protocol):
    exact: bool

    def acquire(self) -> Any: ...

    def release(self, token: Any) -> None: ...


class StudyLock:
    """Context manager: exclusive section for one study across all of its workers.

    Parameters
    ----------
    storage : str
        Normalized storage string (see :func:`nnscratch.sweeper.storage.normalize_storage`).
    study_name : str
        The study; workers of other studies on the same storage are not blocked (database locks).
    """

    def __init__(self, storage: str, study_name: str) -> None:
        self._threads = threading.Lock()
        self._backend = _backend_for(storage, study_name)
        self._tokens = threading.local()

    @property
    def exact(self) -> bool:
        """True when the lock excludes other processes too (not only other threads)."""
        return self._backend.exact

    def __enter__(self) -> StudyLock:
        self._threads.acquire()
        try:
            self._tokens.value = self._backend.acquire()
        except BaseException:
            self._threads.release()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            self._backend.release(self._tokens.value)
        finally:
            self._threads.release()


def lock_key(study_name: str) -> int:
    """A signed 64-bit key for database advisory locks, stable across processes."""
    digest = hashlib.sha256(f"nnscratch-sweeper:{study_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _backend_for(storage: str, study_name: str) -> _Backend:
    path = journal_path(storage) or sqlite_path(storage)
    if path is not None:
        return _FileLock(path) if fcntl is not None else _LocalOnly()
    if is_rdb_url(storage):
        backend = make_url(storage).get_backend_name()
        if backend == "postgresql":
            return _DatabaseLock(storage, "SELECT pg_advisory_lock(:k)", "SELECT pg_advisory_unlock(:k)",
                                 {"k": lock_key(study_name)})
        if backend in ("mysql", "mariadb"):
            name = f"nnscratch-{lock_key(study_name) & 0xFFFFFFFF:x}"
            return _DatabaseLock(storage, "SELECT GET_LOCK(:k, -1)", "SELECT RELEASE_LOCK(:k)", {"k": name})
    return _LocalOnly()


class _FileLock:
    exact = True

    def __init__(self, path: Path) -> None:
        self._path = path

    def acquire(self) -> Any:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self._path, "ab")  # noqa: SIM115 - closed in release
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        return handle

    def release(self, token: Any) -> None:
        try:
            fcntl.flock(token.fileno(), fcntl.LOCK_UN)
        finally:
            token.close()


class _DatabaseLock:
    exact = True

    def __init__(self, url: str, lock_sql: str, unlock_sql: str, params: dict[str, Any]) -> None:
        self._engine = create_engine(url, poolclass=NullPool)
        self._lock, self._unlock, self._params = text(lock_sql), text(unlock_sql), params

    def acquire(self) -> Any:
        connection = self._engine.connect()
        try:
            connection.execute(self._lock, self._params)
            connection.commit()
        except BaseException:
            connection.close()
            raise
        return connection

    def release(self, token: Any) -> None:
        try:
            token.execute(self._unlock, self._params)
            token.commit()
        finally:
            token.close()


class _LocalOnly:
    exact = False

    def acquire(self) -> Any:
        return None

    def release(self, token: Any) -> None:
        return None


class JournalAppendLock:
    """Lock for appends to a journal file that a killed worker cannot leave behind.

    Optuna's :class:`~optuna.storages.journal.JournalFileSymlinkLock` marks the lock with a symlink
    ``<journal>.lock``; a worker killed while appending leaves it, and every other worker then waits
    for the grace period before breaking it. This lock keeps that symlink (so plain Optuna processes
    and optuna-dashboard still exclude us and we them) but takes an ``flock`` on
    ``<journal>.nnscratch.lock`` first, which the kernel releases when its holder dies. A symlink with
    our marker target found while holding the flock can only belong to a dead nnscratch worker and is
    removed at once; a foreign symlink is waited for, then broken after ``grace_period`` as Optuna does.
    """

    def __init__(self, journal: str, grace_period: float = 30.0) -> None:
        self._journal = journal
        self._symlink = journal + ".lock"
        self._marker = "./" + Path(journal).name  # resolves to the journal, like Optuna's target
        self._flock_path = journal + ".nnscratch.lock"
        self._grace = grace_period
        self._threads = threading.Lock()
        self._handle: Any = None

    def acquire(self) -> bool:
        self._threads.acquire()
        try:
            self._handle = open(self._flock_path, "ab")  # noqa: SIM115 - closed in release
            if fcntl is not None:
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_EX)
            self._take_symlink()
        except BaseException:
            self._drop_flock()
            self._threads.release()
            raise
        return True

    def release(self) -> None:
        try:
            _unlink_quietly(self._symlink)
        finally:
            self._drop_flock()
            self._threads.release()

    def _take_symlink(self) -> None:
        delay, waited_since = 0.001, time.monotonic()
        while True:
            try:
                os.symlink(self._marker, self._symlink)
                return
            except FileExistsError:
                pass
            try:
                target = os.readlink(self._symlink)
            except OSError:
                continue  # released meanwhile
            if target == self._marker and fcntl is not None:
                log.info("removing the journal lock of a killed worker: %s", self._symlink)
                _unlink_quietly(self._symlink)
                continue
            if time.monotonic() - waited_since > self._grace:
                log.warning("breaking journal lock %s held for more than %ss", self._symlink, self._grace)
                _unlink_quietly(self._symlink)
                waited_since = time.monotonic()
                continue
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _drop_flock(self) -> None:
        if self._handle is not None:
            if fcntl is not None:
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
