"""The children of a sweep ranked by the optimized metric: a markdown table for the parent run's
description and the winner lines the console ends a multirun with."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from nnscratch.tracking.naming import short_value
from nnscratch.tracking.ui_links import UiLinks, run_fragment

TOP_K = 10
MAX_PARAM_COLUMNS = 6


def minimized(metric: str) -> bool:
    """Losses are minimized, everything else (accuracies) maximized."""
    return metric.endswith("loss")


def short_param(text: str) -> str:
    """A param string as a person reads it: ``0.05021425736625637`` -> ``0.0502``, ``[128, 64]`` -> ``128x64``."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return short_value(value) if isinstance(value, (float, list)) else text


@dataclass
class Leaderboard:
    """``runs`` (MLflow Run objects) that logged ``metric``, best first."""

    metric: str
    ranked: list[Any]
    statuses: Counter
    minimize: bool

    @classmethod
    def of(cls, runs: Sequence[Any], metric: str, direction: str | None = None) -> Leaderboard:
        """``direction`` (minimize / maximize) as the study says; None: guessed from the metric's name."""
        minimize = minimized(metric) if direction is None else direction == "minimize"
        scored = [r for r in runs if metric in r.data.metrics]
        ranked = sorted(scored, key=lambda r: (1.0 if minimize else -1.0) * r.data.metrics[metric])
        return cls(metric, ranked, Counter(r.info.status for r in runs), minimize)

    @property
    def best(self) -> Any | None:
        return self.ranked[0] if self.ranked else None

    @property
    def direction(self) -> str:
        return "minimized" if self.minimize else "maximized"

    def varying_params(self) -> list[str]:
        """Params whose values differ between the runs (what the sweep varied)."""
        keys = sorted({k for r in self.ranked for k in r.data.params})
        return [k for k in keys if len({r.data.params.get(k) for r in self.ranked}) > 1][:MAX_PARAM_COLUMNS]

    def top_ids(self, k: int = 5) -> list[str]:
        return [r.info.run_id for r in self.ranked[:k]]

    def markdown(self, experiment_id: str, study: Sequence[str] | None = None) -> str:
        """The run description: the winner, what was optimized, the study, the top :data:`TOP_K` runs."""
        total = sum(self.statuses.values())
        states = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))
        lines = [f"Optimized **{self.metric}** ({self.direction}) over {total} runs ({states})."]
        if study:
            lines.append(f"Optuna study `{study[0]}`, storage `{study[1]}`.")
        best = self.best
        if best is None:
            return "\n\n".join([*lines, f"No run logged {self.metric}."])
        head = (f"### Best: [{_name(best)}]({run_fragment(experiment_id, best.info.run_id)}) "
                f"{self.metric} = {best.data.metrics[self.metric]:.4f}")
        params = self.varying_params()
        header = ["rank", "run", self.metric, *params]
        table = ["| " + " | ".join(header) + " |", "|" + "---:|---|---:|" + "---|" * len(params)]
        for rank, run in enumerate(self.ranked[:TOP_K], start=1):
            cells = [str(rank), f"[{_name(run)}]({run_fragment(experiment_id, run.info.run_id)})",
                     f"{run.data.metrics[self.metric]:.4f}",
                     *(short_param(run.data.params.get(p, "")) for p in params)]
            table.append("| " + " | ".join(cells) + " |")
        return "\n\n".join([head, "\n".join(table), *lines])  # the table first: the UI folds long notes

    def winner_lines(self, links: UiLinks, experiment_id: str, parent_run_id: str) -> list[str]:
        """What the console says at the end of a multirun."""
        best = self.best
        parent = links.run(experiment_id, parent_run_id)
        if best is None:
            return [f"no run logged {self.metric}; parent run: {parent}"]
        params = " ".join(f"{k}={short_param(v)}" for k, v in sorted(best.data.params.items())
                          if k in self.varying_params()) or "(no param varied)"
        lines = [f"best of {len(self.ranked)} runs: {self.metric}={best.data.metrics[self.metric]:.4f} "
                 f"'{_name(best)}' run {best.info.run_id}",
                 f"  params: {params}",
                 f"  parent run: {parent}",
                 f"  compare top {len(self.top_ids())}: {links.compare(experiment_id, self.top_ids())}"]
        if links.serve_hint:
            lines.append(f"  (start the UI first: {links.serve_hint})")
        return lines


def _name(run: Any) -> str:
    return (run.info.run_name or run.info.run_id[:8]).replace("|", "/")
