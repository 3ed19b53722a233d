"""Work done by a forked copy of this process while this one goes on with something else.

The child starts with everything this process imported and computed (no import cost, nothing to
send), so it suits work that only writes files, such as drawing figures into a directory while this
process talks to MLflow. The child must not touch what this process keeps open (database
connections): it only runs the function and leaves with ``os._exit``, as multiprocessing's fork
children do.
"""
from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)


class Forked:
    """``with Forked(function, *args, enabled=True): ...`` runs ``function(*args)`` in a forked child
    while the block runs, and waits for it at the end of the block.

    Without ``enabled`` (or where ``fork`` does not exist) the function runs here, before the block.
    If the child fails, or is not done ``timeout`` seconds after the block (a lock another thread held
    at the fork can hang it), the function runs again here, so its error is raised as if there had
    been no child. If the block raises, the child is stopped.
    """

    def __init__(self, function: Callable[..., Any], *args: Any, enabled: bool = True, timeout: float = 300.0) -> None:
        self.function, self.args, self.timeout = function, args, timeout
        self.enabled = enabled and "fork" in multiprocessing.get_all_start_methods()
        self.process: Any = None

    def __enter__(self) -> Forked:
        if not self.enabled:
            self.function(*self.args)
            return self
        self.process = multiprocessing.get_context("fork").Process(target=self.function, args=self.args,
                                                                   name=getattr(self.function, "__name__", "forked"))
        self.process.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.process is None:
            return
        if kind is not None:
            self.process.terminate()
            self.process.join()
            return
        self.process.join(self.timeout)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()
            log.warning("%s was not done in a forked process after %g s; running it here", self.process.name,
                        self.timeout)
            self.function(*self.args)
        elif self.process.exitcode != 0:
            log.warning("%s failed in a forked process (exit code %s); running it here",
                        self.process.name, self.process.exitcode)
            self.function(*self.args)
