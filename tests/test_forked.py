"""Forked: work done by a forked copy of this process while the block runs."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from nnscratch._forked import Forked


def write_pid(path: Path) -> None:
    path.write_text(str(os.getpid()))


def fail_in_a_child(path: Path, parent: int) -> None:
    if os.getpid() != parent:
        raise RuntimeError("only the child fails")
    write_pid(path)


def always_fail() -> None:
    raise ValueError("the drawing itself is wrong")


def wait_forever(started: Path) -> None:
    started.touch()
    while True:
        time.sleep(0.05)


def test_the_child_does_the_work_while_the_block_runs(tmp_path):
    out = tmp_path / "pid"
    with Forked(write_pid, out) as forked:
        assert forked.process is not None
    assert int(out.read_text()) == forked.process.pid != os.getpid()


def test_disabled_it_runs_here_before_the_block(tmp_path):
    out = tmp_path / "pid"
    with Forked(write_pid, out, enabled=False):
        assert int(out.read_text()) == os.getpid()


def test_a_failed_child_is_run_again_here_so_its_error_is_ours(tmp_path, caplog):
    out = tmp_path / "pid"
    with Forked(fail_in_a_child, out, os.getpid()):
        pass
    assert int(out.read_text()) == os.getpid()
    assert "fail_in_a_child failed in a forked process (exit code 1); running it here" in caplog.text
    with pytest.raises(ValueError, match="the drawing itself is wrong"):
        with Forked(always_fail):
            pass


def hang_in_a_child(path: Path, parent: int) -> None:
    if os.getpid() != parent:
        wait_forever(path.with_suffix(".started"))
    write_pid(path)


def test_a_child_that_hangs_is_killed_and_the_work_done_here(tmp_path, caplog):
    out = tmp_path / "pid"
    with Forked(hang_in_a_child, out, os.getpid(), timeout=0.5) as forked:
        pass
    assert int(out.read_text()) == os.getpid() and forked.process.exitcode == -signal.SIGKILL
    assert "hang_in_a_child was not done in a forked process after 0.5 s; running it here" in caplog.text


def test_an_error_in_the_block_stops_the_child(tmp_path):
    started = tmp_path / "started"
    with pytest.raises(KeyError):
        with Forked(wait_forever, started) as forked:
            while not started.exists():
                time.sleep(0.01)
            raise KeyError("the upload failed")
    assert forked.process.exitcode == -signal.SIGTERM
