"""Optuna samplers and pruners from their config mappings (``_target_`` plus constructor arguments)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from hydra.utils import instantiate

from .space import SearchSpace


def is_grid(spec: Mapping[str, Any]) -> bool:
    return str(spec.get("_target_", "")).rsplit(".", 1)[-1] == "GridSampler"


def build_sampler(spec: Mapping[str, Any], space: SearchSpace) -> optuna.samplers.BaseSampler:
    """The sampler for ``spec``; a grid sampler gets its grid from the search space.

    Raises
    ------
    ValueError
        For a grid sampler over a continuous range, or an empty search space.
    """
    config = {k: v for k, v in spec.items() if k != "_partial_"}
    if is_grid(spec):
        if not space.params:
            raise ValueError("the grid sampler needs swept params (hydra.sweeper.params or a,b overrides)")
        config.pop("search_space", None)
        return instantiate(config, search_space=space.grid())
    return instantiate(config)


# Samplers whose seed must be the same in every worker: GridSampler shuffles its grid with it (trials
# store a grid index), QMCSampler scrambles its sequence with it (trials store a sequence index).
SHARED_SEED_SAMPLERS = ("GridSampler", "QMCSampler")


def offset_seed(spec: Mapping[str, Any], offset: int) -> dict[str, Any]:
    """``spec`` with ``seed + offset`` for samplers that draw random points per process.

    Unchanged when unseeded, when ``offset`` is 0, and for :data:`SHARED_SEED_SAMPLERS`.
    """
    spec = dict(spec)
    name = str(spec.get("_target_", "")).rsplit(".", 1)[-1]
    if offset and spec.get("seed") is not None and name not in SHARED_SEED_SAMPLERS:
        spec["seed"] = int(spec["seed"]) + offset
    return spec


def build_pruner(spec: Mapping[str, Any] | None) -> optuna.pruners.BasePruner:
    """The pruner for ``spec`` (``None`` -> :class:`optuna.pruners.NopPruner`)."""
    return optuna.pruners.NopPruner() if not spec else instantiate(dict(spec))


def describe(spec: Mapping[str, Any] | None) -> str:
    """``"TPESampler(seed=1, n_startup_trials=10)"`` for tags, logs and reports."""
    if not spec:
        return "none"
    name = str(spec.get("_target_", "?")).rsplit(".", 1)[-1]
    args = ", ".join(f"{k}={v!r}" for k, v in spec.items() if not k.startswith("_") and v is not None)
    return f"{name}({args})"


def effective_n_trials(n_trials: int, sampler_spec: Mapping[str, Any], space: SearchSpace) -> int:
    """``n_trials``, capped at the number of grid points for a grid sampler (as upstream)."""
    if not is_grid(sampler_spec):
        return n_trials
    size = 1
    for values in space.grid().values():
        size *= len(values)
    return min(n_trials, size)
