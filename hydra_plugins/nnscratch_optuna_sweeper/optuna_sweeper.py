"""The Hydra Sweeper plugin class; the work is done by :mod:`nnscratch.sweeper` (imported on first use).

``hydra/sweeper=optuna`` selects ``hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper``, the
official plugin's class name, which is a subclass of this one; configs written for earlier nnscratch
versions name this class directly.
"""
from __future__ import annotations

import importlib.metadata
import logging
from typing import Any, List

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class OptunaSweeper(Sweeper):
    """Hydra entry point; keyword arguments are the keys of ``OptunaSweeperConf``."""

    def __init__(self, **options: Any) -> None:
        from nnscratch.sweeper.sweeper import OptunaSweep

        _warn_if_official_plugin_installed()
        self._sweep = OptunaSweep(**options)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self._sweep.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Any:
        return self._sweep.sweep(arguments)


def _warn_if_official_plugin_installed() -> None:
    try:
        version = importlib.metadata.version("hydra-optuna-sweeper")
    except importlib.metadata.PackageNotFoundError:
        return
    log.warning("hydra-optuna-sweeper %s is installed next to nnscratch, which replaces it and owns "
                "hydra/sweeper=optuna; uninstall it: pip uninstall hydra-optuna-sweeper", version)
