"""The official plugin's ``_impl`` names, as thin adapters over :mod:`nnscratch.sweeper`.

``create_optuna_distribution_from_override`` and ``create_params_from_overrides`` return what the
official helpers return (Optuna distributions, fixed values as text, delete overrides in their own
list); ``OptunaSweeperImpl`` is the sweeper behind the plugin class, with the official signature.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig
from optuna.distributions import BaseDistribution

from nnscratch.sweeper.legacy_space import legacy_distribution
from nnscratch.sweeper.space import parse_search_space, swept_param
from nnscratch.sweeper.sweeper import OptunaSweep

from .config import Direction, DistributionConfig, DistributionType  # noqa: F401 - official names of _impl


def create_optuna_distribution_from_override(override: Override) -> Any:
    """The Optuna distribution of a sweep override; the value text of any other override."""
    if not override.is_sweep_override():
        return override.get_value_element_as_str()
    return swept_param(override).distribution


def create_optuna_distribution_from_config(config: Mapping[str, Any]) -> BaseDistribution:
    """The distribution of one deprecated ``search_space`` entry (``DistributionConfig`` fields)."""
    return legacy_distribution("<entry>", config)


def create_params_from_overrides(
        arguments: list[str]) -> tuple[dict[str, BaseDistribution], dict[str, Any], list[str]]:
    """``(search space, fixed params, delete overrides)`` of override lines.

    ``["key1=choice(1,2)", "key2=5", "~z"]`` gives ``({"key1": CategoricalDistribution([1, 2])},
    {"key2": "5"}, ["~z"])``. Names keep their ``+`` prefix. Where a key appears twice, the last line wins.
    """
    OverridesParser.create().parse_overrides(arguments)  # the official parse errors, on the whole list
    space = parse_search_space(arguments)
    return space.distributions, space.fixed_values(), space.delete_overrides()


class OptunaSweeperImpl(Sweeper):
    """The sweeper with the official constructor; ``sampler`` is the sampler's config mapping.

    nnscratch's own options (``pruner``, ``timeout``, ...) and the deprecated ``search_space`` are
    keyword arguments.
    """

    def __init__(self, sampler: Any, direction: Any, storage: Any | None, study_name: str | None, n_trials: int,
                 n_jobs: int, max_failure_rate: float, custom_search_space: str | None,
                 params: DictConfig | None, **options: Any) -> None:
        self._sweep = OptunaSweep(sampler=sampler, direction=direction, storage=storage, study_name=study_name,
                                  n_trials=n_trials, n_jobs=n_jobs, max_failure_rate=max_failure_rate,
                                  custom_search_space=custom_search_space, params=params, **options)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self._sweep.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        self._sweep.sweep(arguments)
