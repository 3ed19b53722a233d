"""Optuna samplers and pruners from their config mappings (``_target_`` plus constructor arguments).

Arguments set to null are left to Optuna's defaults. On Hydra >= 1.4, whose ``instantiate`` takes an
execution whitelist, samplers may come from ``optuna.samplers`` (and the official plugin's module)
and pruners from ``optuna.pruners``, as the official plugin allows.
"""
from __future__ import annotations

import importlib.util
import inspect
import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import optuna
from hydra.utils import instantiate

from .errors import MissingDependencyError, SweepConfigError
from .space import SearchSpace


def is_grid(spec: Mapping[str, Any]) -> bool:
    return str(spec.get("_target_", "")).rsplit(".", 1)[-1] == "GridSampler"


def build_sampler(spec: Mapping[str, Any], space: SearchSpace) -> optuna.samplers.BaseSampler:
    """The sampler for ``spec``; a grid sampler gets its grid from the search space.

    Raises
    ------
    SweepConfigError
        For a grid sampler over a continuous range, or an empty search space.
    """
    config = {k: v for k, v in spec.items() if k != "_partial_" and v is not None}
    if is_grid(spec):
        if not space.params:
            raise SweepConfigError("the grid sampler needs swept params (hydra.sweeper.params or a,b overrides)")
        config.pop("search_space", None)
        return instantiate(config, search_space=space.grid(), **_whitelist(SAMPLER_TARGETS))
    return instantiate(config, **_whitelist(SAMPLER_TARGETS))


SAMPLER_TARGETS = ("optuna.samplers.*", "hydra_plugins.hydra_optuna_sweeper.*")
PRUNER_TARGETS = ("optuna.pruners.*",)

# What a sampler imports only when it first samples (Optuna's lazy imports): module -> pip package.
REQUIREMENTS: dict[str, dict[str, str]] = {
    "CmaEsSampler": {"cmaes": "cmaes"},
    "GPSampler": {"torch": "torch", "scipy": "scipy"},
    "QMCSampler": {"scipy": "scipy"},
}


def check_requirements(spec: Mapping[str, Any]) -> None:
    """Refuse a sampler whose optional dependencies are missing, before any trial runs.

    Raises
    ------
    MissingDependencyError
        Naming the sampler, the missing packages and the pip command that installs them.
    """
    name = str(spec.get("_target_", "")).rsplit(".", 1)[-1]
    missing = [package for module, package in REQUIREMENTS.get(name, {}).items()
               if importlib.util.find_spec(module) is None]
    if missing:
        raise MissingDependencyError(f"hydra.sweeper.sampler {name} needs {', '.join(missing)}, which "
                          f"{'is' if len(missing) == 1 else 'are'} not installed: pip install {' '.join(missing)}")


@lru_cache(maxsize=1)
def _whitelist_keyword() -> str | None:
    parameters = inspect.signature(instantiate).parameters
    return next((k for k in ("_execution_whitelist_", "_target_whitelist_") if k in parameters), None)


def _whitelist(targets: tuple[str, ...]) -> dict[str, Any]:
    """``instantiate`` keyword allowing ``targets`` on Hydra >= 1.4; nothing on Hydra 1.3."""
    keyword = _whitelist_keyword()
    return {keyword: targets} if keyword else {}


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
    if not spec:
        return optuna.pruners.NopPruner()
    return instantiate({k: v for k, v in spec.items() if v is not None}, **_whitelist(PRUNER_TARGETS))


def describe(spec: Mapping[str, Any] | None) -> str:
    """``"TPESampler(seed=1, n_startup_trials=10)"`` for tags, logs and reports."""
    if not spec:
        return "none"
    name = str(spec.get("_target_", "?")).rsplit(".", 1)[-1]
    args = ", ".join(f"{k}={v!r}" for k, v in spec.items() if not k.startswith("_") and v is not None)
    return f"{name}({args})"


def grid_size(space: SearchSpace) -> int:
    """How many points the grid of ``space`` has."""
    return math.prod(len(values) for values in space.grid().values())


def effective_n_trials(n_trials: int, sampler_spec: Mapping[str, Any], space: SearchSpace) -> int:
    """``n_trials``, capped at the number of grid points for a grid sampler (as upstream)."""
    return min(n_trials, grid_size(space)) if is_grid(sampler_spec) else n_trials
