"""``optimization_results.yaml`` in the sweep directory, in the official plugin's format.

Single objective: ``name``, ``best_params``, ``best_value``; several objectives: ``name`` and
``solutions`` (the Pareto front, each with ``params`` and ``values``). Extra keys (``study_name``,
``storage``, ``n_trials``, trial counts by state, ``best_trial``) are added; readers of the
official file ignore them.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
from omegaconf import OmegaConf
from optuna.trial import TrialState

from nnscratch.tracking.naming import short_setting

from .space import SearchSpace
from .storage import display_storage

log = logging.getLogger(__name__)

RESULTS_FILE = "optimization_results.yaml"


def results_summary(study: optuna.Study, space: SearchSpace, storage: str, n_trials: int) -> dict[str, Any]:
    """The results mapping (see the module docstring); best entries are empty without a COMPLETE trial."""
    trials = study.get_trials(deepcopy=False)
    summary: dict[str, Any] = {"name": "optuna"}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if len(study.directions) == 1:
        best = study.best_trial if complete else None
        summary["best_params"] = space.python_values(best.params) if best else {}
        summary["best_value"] = best.value if best else None
        summary["best_trial"] = best.number if best else None
    else:
        front = study.best_trials if complete else []
        summary["solutions"] = [{"params": space.python_values(t.params), "values": list(t.values),
                                 "trial": t.number} for t in front]
    summary.update(metric_names=study.metric_names, study_name=study.study_name, storage=display_storage(storage),
                   n_trials=n_trials,
                   trials={state: n for state, n in sorted(Counter(t.state.name for t in trials).items())})
    return summary


def write_results(summary: dict[str, Any], sweep_dir: Path) -> Path:
    """Write ``optimization_results.yaml`` into ``sweep_dir`` and log the best result."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    path = sweep_dir / RESULTS_FILE
    OmegaConf.save(OmegaConf.create(summary), path)
    if "best_value" in summary and summary["best_value"] is None:
        log.info("No trial completed, so there are no best parameters yet; run the same command again to "
                 "run the rest of the study")
    elif "best_value" in summary:
        metric = (summary.get("metric_names") or ["value"])[0]
        log.info("Best trial %s: %s=%.4f %s", summary["best_trial"], metric, summary["best_value"],
                 " ".join(short_setting(k, v) for k, v in summary["best_params"].items()))
    else:
        log.info("Number of Pareto solutions: %d", len(summary["solutions"]))
        for solution in summary["solutions"]:
            log.info("    Values: %s, Params: %s", solution["values"], solution["params"])
    return path
