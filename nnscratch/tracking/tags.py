"""Tags that say where a run's code came from and what computed it: git commit and dirty flag, host,
package versions, and the BLAS library, kernel and thread count numpy's matrix products ran on.

Everything but the BLAS thread count is fixed for the life of a process, so it is computed once per
process and repository; the thread count is read at each call, because a sweep's worker process runs
one trial after another under different ``threadpool_limits``.
"""

from __future__ import annotations

import functools
import platform
import socket
import subprocess
from pathlib import Path

import numpy as np

import nnscratch

UNKNOWN = "unknown"

#: Tags a rerun compares between the record and now: a difference can explain different numbers.
ENVIRONMENT_KEYS = ("numpy.version", "blas.library", "blas.version", "blas.kernel", "blas.threads")


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.lru_cache(maxsize=8)  # once per process: a sweep's worker would spawn two git commands per trial
def git_state(repo_dir: Path) -> dict[str, str]:
    """``git.commit`` (``unknown`` outside a repository or before the first commit) and ``git.dirty``."""
    commit = _git(["rev-parse", "HEAD"], repo_dir)
    status = _git(["status", "--porcelain", "--untracked-files=no"], repo_dir)
    dirty = UNKNOWN if status is None else str(bool(status) or commit is None).lower()
    return {"git.commit": commit or UNKNOWN, "git.dirty": dirty}


def _blas_libraries() -> list[dict[str, object]]:
    """threadpoolctl's description of numpy's BLAS (empty without threadpoolctl).

    Other packages (PyTorch, SciPy) may load BLAS libraries of their own; the one numpy's wheels
    bundle sits in numpy's directory. Without such a library (numpy linked to a system BLAS), all
    loaded BLAS libraries are described.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    blas = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    return [info for info in blas if _bundled_with_numpy(str(info.get("filepath")))] or blas


def _bundled_with_numpy(filepath: str) -> bool:
    """Whether a library is numpy's own: in ``numpy.libs/`` (Linux wheels) or inside ``numpy/`` (macOS)."""
    path, numpy_dir = Path(filepath), Path(np.__file__).parent
    return path.parent == numpy_dir.with_name("numpy.libs") or path.is_relative_to(numpy_dir)


def _joined(libraries: list[dict[str, object]], field: str) -> str:
    return ", ".join(str(info.get(field)) for info in libraries) or UNKNOWN


def blas_tags() -> dict[str, str]:
    """``blas.library`` (e.g. ``openblas``), ``blas.version``, ``blas.kernel`` (the CPU kernel it
    picked, e.g. ``Haswell``), ``blas.threading`` and ``blas.threads`` (threads it uses now).

    Several such libraries are listed comma-separated, in load order.
    """
    libraries = _blas_libraries()
    return {"blas.library": _joined(libraries, "internal_api"), "blas.version": _joined(libraries, "version"),
            "blas.kernel": _joined(libraries, "architecture"),
            "blas.threading": _joined(libraries, "threading_layer"),
            "blas.threads": _joined(libraries, "num_threads")}


@functools.cache
def _process_tags(repo_dir: Path) -> dict[str, str]:
    """The tags that cannot change while this process runs (a git call costs ~10 ms, once)."""
    blas = blas_tags()
    return {
        **git_state(repo_dir),
        "host": socket.gethostname(),
        "nnscratch.version": nnscratch.__version__,
        "python.version": platform.python_version(),
        "numpy.version": np.__version__,
        **{key: value for key, value in blas.items() if key != "blas.threads"},
    }


def source_tags(repo_dir: Path | None = None) -> dict[str, str]:
    """Tags recorded on every run.

    Parameters
    ----------
    repo_dir : Path, optional
        The checkout to describe; default: the directory that contains the ``nnscratch`` package.
    """
    repo_dir = (repo_dir or Path(nnscratch.__file__).parent.parent).resolve()
    return {**_process_tags(repo_dir), "blas.threads": blas_tags()["blas.threads"]}
