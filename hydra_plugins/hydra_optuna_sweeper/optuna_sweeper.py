"""The official plugin's class name, answered by nnscratch's sweeper (see the package docstring)."""
from typing import Any, Optional

from omegaconf import DictConfig

from hydra_plugins.nnscratch_optuna_sweeper import optuna_sweeper as _nnscratch  # a module: not re-registered


class OptunaSweeper(_nnscratch.OptunaSweeper):
    """:class:`hydra_plugins.nnscratch_optuna_sweeper.optuna_sweeper.OptunaSweeper` with the official signature.

    nnscratch's own options (``pruner``, ``timeout``, ...) and the deprecated ``search_space`` are
    keyword arguments.
    """

    def __init__(self, sampler: Any, direction: Any, storage: Optional[Any], study_name: Optional[str],
                 n_trials: int, n_jobs: int, max_failure_rate: float, custom_search_space: Optional[str],
                 params: Optional[DictConfig], **options: Any) -> None:
        super().__init__(sampler=sampler, direction=direction, storage=storage, study_name=study_name,
                         n_trials=n_trials, n_jobs=n_jobs, max_failure_rate=max_failure_rate,
                         custom_search_space=custom_search_space, params=params, **options)
