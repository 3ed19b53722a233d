"""Epoch progress for people watching: a tqdm bar for single runs, one log line per epoch in sweeps."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

SHOWN = ("train/loss", "train/acc", "val/loss", "val/acc")


def _short(metrics: Mapping[str, float]) -> dict[str, str]:
    return {key: f"{metrics[key]:.4f}" for key in SHOWN if key in metrics}


class EpochBar:
    """A tqdm bar that advances once per epoch and shows the latest metrics."""

    def __init__(self, epochs: int, description: str = "") -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=epochs, desc=description or "epochs", unit="epoch", dynamic_ncols=True)

    def on_epoch_end(self, epoch: int, metrics: Mapping[str, float]) -> None:
        self._bar.set_postfix(_short(metrics), refresh=False)
        self._bar.update(1)

    def on_train_end(self, history: Any) -> None:
        self.close()

    def close(self) -> None:
        self._bar.close()


class EpochLines:
    """One concise INFO line per epoch: ``[job 3] epoch 2/10 train/loss=0.2314 ... (4.1s)``."""

    def __init__(self, epochs: int, prefix: str = "") -> None:
        self.epochs, self.prefix = epochs, prefix

    def on_epoch_end(self, epoch: int, metrics: Mapping[str, float]) -> None:
        values = " ".join(f"{key}={value}" for key, value in _short(metrics).items())
        seconds = metrics.get("epoch_time")
        timing = f" ({seconds:.1f}s)" if seconds is not None else ""
        log.info("%sepoch %d/%d %s%s", self.prefix, epoch, self.epochs, values, timing)

    def close(self) -> None:
        """Nothing to release."""


def make_progress(mode: str, epochs: int, *, multirun: bool, label: str = "",
                  terminal: bool | None = None) -> EpochBar | EpochLines | None:
    """The progress callback for ``progress`` = auto | bar | lines | none.

    auto: a bar for a single run on a terminal (``terminal``: default, whether stderr is one), else
    lines, so log files and sweeps never get ``\r`` bars.
    """
    if mode == "auto":
        terminal = sys.stderr.isatty() if terminal is None else terminal
        mode = "bar" if terminal and not multirun else "lines"
    if mode == "bar":
        return EpochBar(epochs, label)
    if mode == "lines":
        return EpochLines(epochs, f"[{label}] " if label else "")
    return None


@contextmanager
def announce_if_slow(message: str, *, prefix: str = "", after: float = 1.0) -> Iterator[None]:
    """Log ``message`` if the block is still running ``after`` seconds in (and how long it took), so a
    run is never silent after its last epoch line; quick blocks log nothing."""
    started = time.perf_counter()
    timer = threading.Timer(after, log.info, args=("%s%s ...", prefix, message))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if time.perf_counter() - started > after:
            log.info("%sdone in %.1f s", prefix, time.perf_counter() - started)
