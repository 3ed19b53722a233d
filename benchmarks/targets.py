"""The issue's targets, as ratios between figures of one run, checked against the results."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    name: str
    item: str
    measure: Callable[[dict[str, Any]], float | None]  # from the items' details; None = not measured
    limit: float
    at_most: bool = True  # value <= limit (else >= limit)
    unit: str = "x"

    def check(self, items: dict[str, Any]) -> dict[str, Any]:
        try:
            value = self.measure(items)
        except (KeyError, TypeError):
            value = None
        met = None if value is None else (value <= self.limit if self.at_most else value >= self.limit)
        return {"target": self.name, "item": self.item, "value": value, "limit": self.limit,
                "comparison": "<=" if self.at_most else ">=", "unit": self.unit, "met": met}


def _f32_f64_gap(items: dict[str, Any]) -> float:
    return max(abs(b["float32_minus_float64_points"]) for b in items["2"]["batches"].values())


TARGETS = [
    Target("784-128-64-10 epoch time vs PyTorch, batch 256", "2", lambda i: i["2"]["batches"]["256"]["ratio_to_pytorch"], 0.6),
    Target("784-128-64-10 epoch time vs PyTorch, batch 32", "2", lambda i: i["2"]["batches"]["32"]["ratio_to_pytorch"], 0.4),
    Target("deep net step: fraction of the GEMM peak (its products alone, interleaved)", "3",
           lambda i: i["3"]["fraction_of_shape_set_peak"], 0.9, at_most=False),
    Target("deep net step: Adam's share", "3", lambda i: i["3"]["adam_share"], 0.08),
    Target("deep net step time vs PyTorch", "3", lambda i: i["3"]["ratio_to_pytorch"], 0.7),
    Target("tracking overhead, whole 5-epoch run", "5", lambda i: i["5"]["overhead"], 0.02),
    Target("tracking overhead, per-epoch metric logging", "5", lambda i: i["5"]["metrics_logging_share"], 0.02),
    Target("sweep throughput, 2 workers vs 1", "6", lambda i: i["6"]["speedup_2_workers"], 1.5, at_most=False),
    Target("peak RSS / computed working set", "7", lambda i: i["7"]["ratio"], 1.3),
    Target("float32 vs float64 test accuracy, |difference|", "2", _f32_f64_gap, 0.3, unit=" points"),
    Target("4-trial sweep, tracked / untracked wall", "8", lambda i: i["8"]["cases"]["small"]["wall_ratio"], 1.15),
    Target("4-trial sweep, tracked / untracked CPU", "8", lambda i: i["8"]["cases"]["small"]["cpu_ratio"], 1.15),
    Target("12-trial full-MNIST sweep, tracked / untracked wall", "8",
           lambda i: i["8"]["cases"]["mnist12"]["wall_ratio"], 1.10),
    Target("one default train.py run, tracked / untracked wall", "8",
           lambda i: i["8"]["cases"]["single"]["wall_ratio"], 1.25),
    Target("tracked TPE sweep vs PyTorch + Optuna MLflowCallback, wall", "8",
           lambda i: i["8"]["versus_torch"]["wall_ratio"], 0.7),
    Target("best val accuracy, PyTorch minus ours", "8",
           lambda i: i["8"]["versus_torch"]["best_val_gap_points"], 0.3, unit=" points"),
]


def check_all(items: dict[str, Any]) -> list[dict[str, Any]]:
    return [target.check(items) for target in TARGETS]
