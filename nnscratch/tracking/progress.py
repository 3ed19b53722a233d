"""Epoch progress for people watching: a tqdm bar for single runs, one log line per epoch in sweeps."""

from __future__ import annotations

import logging
from collections.abc import Mapping
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


def make_progress(mode: str, epochs: int, *, multirun: bool, label: str = "") -> EpochBar | EpochLines | None:
    """The progress callback for ``progress`` = auto | bar | lines | none (auto: bar unless ``multirun``)."""
    if mode == "auto":
        mode = "lines" if multirun else "bar"
    if mode == "bar":
        return EpochBar(epochs, label)
    if mode == "lines":
        return EpochLines(epochs, f"[{label}] " if label else "")
    return None
