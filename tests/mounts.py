"""Small real file systems for tests: a tmpfs that fills up, or one mounted read-only (root and Linux only)."""
from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(options: str) -> Iterator[Path]:
    """Mount a tmpfs with ``options`` (``"size=16m"``, ``"ro,size=1m"``); skip where mount is not allowed,
    fail instead under CI."""
    target = Path(tempfile.mkdtemp(prefix="nnscratch-tmpfs-"))  # outside tmp_path, which pytest removes
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True)
    if done.returncode != 0:
        target.rmdir()
        message = f"cannot mount a tmpfs ({options}): {done.stderr.decode().strip()}"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(f"{message}; needs root")
    try:
        yield target
    finally:
        subprocess.run(["umount", "--lazy", str(target)], check=True)  # MLflow may still hold a database open
        target.rmdir()
