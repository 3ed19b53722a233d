"""Per-epoch metrics to MLflow in batches, as an :func:`nnscratch.fit` callback."""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Mapping

import numpy as np
from mlflow.entities import Metric, RunTag
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import MAX_METRICS_PER_BATCH


class MLflowMetricsLogger:
    """Buffer epoch metrics and send them with ``MlflowClient.log_batch``.

    A batch goes out when the time spent training since the last one is at least
    ``last_flush_cost / budget``, so logging stays below ``budget`` of the run's time however
    short the epochs are (long epochs flush every epoch), and at the end of training.
    :meth:`flush` also sends whatever is buffered (train.py calls it when a run fails).

    Parameters
    ----------
    client : MlflowClient
    run_id : str
    budget : float
        Largest share of wall time to spend logging metrics, e.g. 0.01 = 1 %.
    clock : callable
        Seconds as float (``time.perf_counter``; injectable for tests).
    """

    def __init__(self, client: MlflowClient, run_id: str, *, budget: float = 0.01,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        if not 0 < budget < 1:
            raise ValueError(f"budget={budget!r} is out of range; allowed: 0 < budget < 1")
        self.client, self.run_id, self.budget, self._clock = client, run_id, budget, clock
        self._pending: list[Metric] = []
        self._last_flush_end = clock()
        self._last_cost = 0.0
        self.seconds_logging = 0.0
        self.n_batches = 0

    def on_epoch_end(self, epoch: int, metrics: Mapping[str, float]) -> None:
        timestamp = int(time.time() * 1000)
        self._pending.extend(Metric(key, float(value), timestamp, epoch)
                             for key, value in metrics.items() if _is_number(value))
        if self._clock() - self._last_flush_end >= self._last_cost / self.budget:
            self.flush()

    def on_train_end(self, history: object) -> None:
        self.flush()

    def log(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Buffer one-off metrics (e.g. ``test/acc``) to go out with the next flush."""
        timestamp = int(time.time() * 1000)
        self._pending.extend(Metric(key, float(value), timestamp, step) for key, value in metrics.items())

    def flush(self, tags: Mapping[str, str] | None = None) -> None:
        """Send every buffered metric now, with ``tags`` (if any) in the last batch."""
        start = self._clock()
        pending_tags = [RunTag(key, value) for key, value in (tags or {}).items()]
        while self._pending or pending_tags:
            size = MAX_METRICS_PER_BATCH - len(pending_tags)  # a batch holds at most 1000 entities
            chunk, self._pending = self._pending[:size], self._pending[size:]
            last = not self._pending
            self.client.log_batch(self.run_id, metrics=chunk, tags=pending_tags if last else [])
            pending_tags = [] if last else pending_tags
            self.n_batches += 1
        self._last_flush_end = self._clock()
        self._last_cost = self._last_flush_end - start
        self.seconds_logging += self._last_cost


def _is_number(value: object) -> bool:
    """Python and NumPy ints and floats (np.float32 is not a ``float``), but not bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
