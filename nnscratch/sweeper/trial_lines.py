"""The two console lines of a trial: when it starts (short params) and when it ends (result or pruned-at)."""
from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from nnscratch.tracking.naming import short_setting


def started(number: int, params: Mapping[str, Any]) -> str:
    """``trial 7 started: lr=2.61e-3 bs=32 h=128x64``."""
    return f"trial {number} started: " + " ".join(short_setting(k, v) for k, v in params.items())


def finished(number: int, names: Sequence[str] | None, values: Sequence[float] | None,
             start: datetime.datetime | None) -> str:
    """``trial 7 finished: val/acc=0.9712 (41 s)``."""
    names = list(names or []) or (["value"] if len(values or []) == 1 else [f"value_{i}" for i in range(len(values or []))])
    result = " ".join(f"{n}={v:.4f}" for n, v in zip(names, values or []))
    return f"trial {number} finished: {result}{_took(start)}"


def pruned(number: int, epoch: Any, start: datetime.datetime | None) -> str:
    """``trial 7 pruned at epoch 3 (12 s)``."""
    return f"trial {number} pruned at epoch {epoch if epoch is not None else '?'}{_took(start)}"


def _took(start: datetime.datetime | None) -> str:
    if start is None:
        return ""
    return f" ({(datetime.datetime.now() - start).total_seconds():.0f} s)"


#: Launchers that log every job they start; in a sweep they would repeat each trial's line (with the
#: env overrides and full-precision floats), so the loop quiets them (plain ``-m`` keeps Hydra's lines).
LAUNCHER_LOGGERS = ("hydra._internal.core_plugins.basic_launcher", "hydra_plugins.hydra_joblib_launcher")


@contextmanager
def quiet_launchers() -> Iterator[None]:
    """The launchers' per-job INFO lines off for the block."""
    loggers = [logging.getLogger(name) for name in LAUNCHER_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
