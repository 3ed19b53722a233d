"""Plotly figures of a study (Optuna's visualizations), each either a figure or the reason it is missing."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from .analysis import Objective, quiet_target_warning

log = logging.getLogger(__name__)

MAX_CONTOUR_PAIRS = 2  # one contour per pair of the most important parameters; a grid is unreadable


@dataclass(frozen=True)
class Plot:
    title: str
    figure: Any | None  # plotly.graph_objects.Figure
    missing: str | None = None


def study_plots(study: optuna.Study, objs: list[Objective], ranked_params: list[str]) -> list[Plot]:
    """Optimization history, importances, parallel coordinates, slice, contours (most important pairs),
    intermediate values (learning curves), timeline, and the Pareto front for several objectives."""
    vis = optuna.visualization
    plots: list[Plot] = []
    multi = len(objs) > 1
    for obj in objs:
        target = {"target": obj.of, "target_name": obj.name} if multi else {"target_name": obj.name}
        suffix = f" ({obj.name}, {obj.direction})" if multi else ""
        plots += [
            _plot(f"Optimization history{suffix}", vis.plot_optimization_history, study, **target),
            _plot(f"Parameter importances{suffix}", vis.plot_param_importances, study,
                  **({"target": obj.loss, "target_name": obj.name} if multi else target)),
            _plot(f"Parallel coordinates{suffix}", vis.plot_parallel_coordinate, study, **target),
            _plot(f"Slice plots{suffix}", vis.plot_slice, study, **target),
            *_contours(study, ranked_params, suffix, target),
        ]
    if multi:
        plots.append(_plot("Pareto front", vis.plot_pareto_front, study,
                           target_names=[o.name for o in objs]))
    if any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
        plots.append(_plot("Intermediate values (per epoch; pruned trials stop early)",
                           vis.plot_intermediate_values, study))
    plots.append(_plot("Timeline (parallel jobs)", vis.plot_timeline, study))
    return plots


def _contours(study: optuna.Study, ranked_params: list[str], suffix: str, target: dict[str, Any]) -> list[Plot]:
    """Contours of the most important parameter against the next ones (``ranked_params``: by importance)."""
    if len(ranked_params) < 2:
        return [Plot(f"Contour plot{suffix}", None, "needs at least two parameters")]
    pairs = [(ranked_params[0], other) for other in ranked_params[1:1 + MAX_CONTOUR_PAIRS]]
    return [_plot(f"Contour plot of {x} and {y}{suffix}", optuna.visualization.plot_contour, study,
                  params=[x, y], **target) for x, y in pairs]


def _plot(title: str, make: Callable[..., Any], study: optuna.Study, **kwargs: Any) -> Plot:
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return Plot(title, None, "no COMPLETE trial yet")
    try:
        with quiet_target_warning():
            return Plot(title, make(study, **kwargs))
    except Exception as error:  # noqa: BLE001 - one missing figure must not stop the report
        log.info("%s not available: %s", title, error)
        return Plot(title, None, f"{type(error).__name__}: {error}")
