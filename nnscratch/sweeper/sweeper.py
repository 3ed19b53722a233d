"""The sweep: build the search space, open the study, run the missing trials, write the results."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.types import HydraContext, TaskFunction
from hydra.utils import get_method
from omegaconf import DictConfig
from optuna.storages import BaseStorage

from .factories import build_pruner, build_sampler, describe, effective_n_trials, grid_size, is_grid, offset_seed
from .loop import TrialLoop, slots_for
from .results import results_summary, write_results
from .settings import SweepSettings, StudyTarget, resolve_target
from .space import SearchSpace, sweep_search_space
from .storage import display_storage, sqlite_path
from .locks import StudyLock
from .studies import SWEEPER_ATTR, completion_notice, open_study, register_worker, task_metric_names, update_user_attr
from .task import TrialTask, cpu_count
from .trial_setup import trial_setup

log = logging.getLogger(__name__)


class OptunaSweep:
    """What the Hydra plugin class delegates to; keyword options as in ``OptunaSweeperConf``."""

    def __init__(self, **options: Any) -> None:
        self.settings = SweepSettings.from_options(options)
        self.config: DictConfig | None = None
        self.launcher: Any = None
        self.target: StudyTarget | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=TrialTask(task_function), config=config)
        self.target = resolve_target(self.settings, config)

    def sweep(self, arguments: list[str]) -> None:
        """Run the study's missing trials (``arguments`` are the command-line overrides).

        Every check of the input (search space, sampler and pruner arguments, ``custom_search_space``)
        runs before the study is created.
        """
        assert self.config is not None and self.target is not None, "setup() must run first"
        settings, target = self.settings, self.target
        space = sweep_search_space(settings.params, settings.search_space, arguments)
        n_trials = effective_n_trials(settings.n_trials, settings.sampler, space)
        if n_trials < settings.n_trials:
            log.info("Updating num of trials to %d due to using GridSampler.", n_trials)
        sampler, pruner = build_sampler(settings.sampler, space), build_pruner(settings.pruner)
        custom = get_method(settings.custom_search_space) if settings.custom_search_space else None
        study, storage, lock = self._open(space, sampler, pruner)
        update_user_attr(study, SWEEPER_ATTR, self._describe(space, n_trials))
        slots = slots_for(self.launcher, settings.n_jobs, cpu_count())
        self._log_start(study, space, n_trials, slots)
        notice = completion_notice(study, target, n_trials,
                                   grid=is_grid(settings.sampler) and n_trials == grid_size(space))
        if notice:
            log.warning(notice)
        loop = TrialLoop(study=study, storage=storage, lock=lock, target=target, space=space, settings=settings,
                         n_trials=n_trials, launcher=self.launcher, config=self.config, cpus=cpu_count(),
                         blas_threads=settings.blas_threads,
                         custom_search_space=trial_setup(space.fixed_values(), custom))
        try:
            loop.run(slots)
        finally:
            write_results(results_summary(study, space, target.storage, n_trials),
                          Path(str(self.config.hydra.sweep.dir)))

    def _open(self, space: SearchSpace, sampler: optuna.samplers.BaseSampler,
              pruner: optuna.pruners.BasePruner) -> tuple[optuna.Study, BaseStorage, StudyLock]:
        """Create or load the study and join it as a worker (whose seeded sampler gets its own seed)."""
        settings, target = self.settings, self.target
        assert target is not None
        study, storage = open_study(target, settings.directions, load_if_exists=settings.load_if_exists,
                                    metric_names=task_metric_names(self.config))
        lock = StudyLock(target.storage, target.study_name)
        with lock:
            worker = register_worker(study, storage)
        sampler_spec = offset_seed(settings.sampler, worker)
        if sampler_spec != settings.sampler:
            sampler = build_sampler(sampler_spec, space)
            log.info("worker %d of study %s: sampler seed offset by %d", worker, study.study_name, worker)
        study.sampler, study.pruner = sampler, pruner
        return study, storage, lock

    def _describe(self, space: SearchSpace, n_trials: int) -> dict[str, Any]:
        settings, target = self.settings, self.target
        assert target is not None
        return {"sampler": describe(settings.sampler), "sampler_config": settings.sampler,
                "pruner": settings.pruner, "pruner_name": describe(settings.pruner),
                "search_space": space.describe(), "fixed": list(space.fixed.values()),
                "directions": settings.directions, "n_trials": n_trials,
                "storage": display_storage(target.storage), "plugin": "nnscratch"}

    def _log_start(self, study: optuna.Study, space: SearchSpace, n_trials: int, slots: int) -> None:
        assert self.target is not None
        storage = display_storage(self.target.storage)
        log.info("Study name: %s", study.study_name)
        log.info("Storage: %s   (browse: optuna-dashboard %s)", storage, storage)
        log.info("Sampler: %s; pruner: %s", describe(self.settings.sampler), describe(self.settings.pruner))
        threads = self.settings.blas_threads or f"{cpu_count()} cores / jobs running here"
        log.info("Directions: %s; n_trials: %d; jobs at once: %d; BLAS threads per job: %s",
                 self.settings.directions, n_trials, slots, threads)
        log.info("Search space: %s", space.describe())
        if sqlite_path(self.target.storage) is not None and slots > 1:
            log.warning("SQLite is risky with several processes writing; prefer the journal file default "
                        "(storage: null) or PostgreSQL for parallel jobs")
        if len(self.settings.directions) > 1 and self.settings.pruner and \
                not str(self.settings.pruner.get("_target_", "")).endswith("NopPruner"):
            log.warning("Optuna pruners do not support multi-objective studies; trials will not be pruned")
