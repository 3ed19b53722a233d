"""Repeated timing: medians of several repeats, contenders interleaved so load drifts hit them alike."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Seconds of each repeat; :attr:`median` is the reported figure."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def spread(self) -> float:
        """(max - min) / median: how noisy the repeats were."""
        return (max(self.values) - min(self.values)) / self.median if self.median else 0.0

    def as_dict(self) -> dict[str, object]:
        return {"median_s": self.median, "repeats_s": list(self.values), "spread": self.spread}


#: Pause before each timed call: idle BLAS/OpenMP workers of the previous contender busy-wait for
#: up to ~0.1 s after their last job and would otherwise steal a core from the next one.
SETTLE_SECONDS = 0.3


def interleaved(contenders: Mapping[str, Callable[[], float | None]], repeats: int) -> dict[str, Timing]:
    """Call every contender once per round, ``repeats`` rounds; return each one's :class:`Timing`.

    A contender returns the seconds to record, or None to have its wall time recorded.
    """
    values: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            time.sleep(SETTLE_SECONDS)
            start = time.perf_counter()
            measured = run()
            values[name].append(time.perf_counter() - start if measured is None else float(measured))
    return {name: Timing(tuple(v)) for name, v in values.items()}


def per_call(run: Callable[[], object], repeats: int, number: int = 1) -> Timing:
    """Seconds per call of ``run`` (``number`` calls per repeat), one value per repeat."""
    values = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            run()
        values.append((time.perf_counter() - start) / number)
    return Timing(tuple(values))
