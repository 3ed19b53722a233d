"""Tags that say where a run's code came from: git commit and dirty flag, host, package versions."""

from __future__ import annotations

import functools
import platform
import socket
import subprocess
from pathlib import Path

import numpy as np

import nnscratch

UNKNOWN = "unknown"


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


def source_tags(repo_dir: Path | None = None) -> dict[str, str]:
    """Tags recorded on every run.

    Parameters
    ----------
    repo_dir : Path, optional
        The checkout to describe; default: the directory that contains the ``nnscratch`` package.
    """
    repo_dir = repo_dir or Path(nnscratch.__file__).resolve().parent.parent
    return {
        **git_state(repo_dir),
        "host": socket.gethostname(),
        "nnscratch.version": nnscratch.__version__,
        "python.version": platform.python_version(),
        "numpy.version": np.__version__,
    }
