"""SIGTERM to a sweep does what Ctrl-C does.

Ctrl-C in a terminal sends SIGINT to the whole foreground process group: the sweeper and the job
processes it started (joblib's loky workers) are all interrupted, the jobs end their MLflow runs
KILLED, the sweeper retires the interrupted trials, records the jobs that still returned, and closes
the parent run. ``kill``, ``timeout`` and schedulers send SIGTERM to the sweeper's process only, and
Python's default for it is to die on the spot. :func:`terminate_as_interrupt` makes SIGTERM reach the
sweeper as :class:`KeyboardInterrupt` and passes SIGINT on to the sweeper's child processes, as the
terminal would have done. :func:`stop_worker_pool` then ends the loky workers, which otherwise idle
for minutes after their parent has gone.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import psutil

log = logging.getLogger(__name__)


@contextlib.contextmanager
def terminate_as_interrupt(children: bool = True) -> Iterator[None]:
    """Within the block SIGTERM interrupts this process (and its ``children``) like Ctrl-C (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        log.warning("%s received: stopping as for Ctrl-C", name)
        if children:
            interrupt_children()
        raise KeyboardInterrupt(f"stopped by {name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupt_children() -> list[int]:
    """Send SIGINT to every process this one started (directly or not); returns their pids."""
    pids = []
    for child in psutil.Process(os.getpid()).children(recursive=True):
        try:
            child.send_signal(signal.SIGINT)
            pids.append(child.pid)
        except psutil.Error:  # it ended meanwhile
            continue
    return pids


def stop_worker_pool() -> None:
    """End joblib's reusable loky worker pool now, if one was started (it outlives the sweep otherwise)."""
    try:
        from joblib.externals.loky import reusable_executor
    except ImportError:
        return
    executor = getattr(reusable_executor, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)
