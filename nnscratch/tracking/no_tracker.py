"""``tracking=none``: the tracker interface train.py calls, recording nothing and importing no mlflow."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omegaconf import DictConfig


class NoTracker:
    """Tracking disabled: same interface as :class:`~nnscratch.tracking.tracker.MLflowTracker`, records nothing."""

    run_id: str | None = None
    tracking_uri: str | None = None
    experiment_id: str | None = None

    @contextmanager
    def run(self, cfg: DictConfig, **kwargs: Any) -> Iterator[None]:
        yield None

    def log_dataset(self, dataset: Any, sizes: Mapping[str, int]) -> None:
        """Nothing to record."""

    def callbacks(self, X_val: Any = None, y_val: Any = None) -> list[Any]:
        return []

    def log_results(self, **kwargs: Any) -> None:
        """Nothing to record."""
