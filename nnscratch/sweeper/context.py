"""What the sweep's MLflow parent run needs to know, for a Hydra callback that runs before the sweeper.

Hydra calls ``Callback.on_multirun_start(config)`` before it instantiates the sweeper, so the callback
cannot ask the sweeper. :func:`sweep_context` derives the same study name, storage, sampler, pruner and
search space from the multirun config, and :meth:`SweepContext.find_or_create_parent` finds or creates
the study's one parent run under the study lock and records it in the study's user attributes, where
every worker and every job (in any process, on any machine) finds it::

    ctx = sweep_context(config)            # None unless hydra.sweeper is this sweeper
    if ctx is not None:                    # one parent per study, however many workers start at once
        run_id = ctx.find_or_create_parent(reopen=reopen_run, create=create_run, tracking_uri=uri)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from .factories import describe, effective_n_trials
from .settings import SweepSettings, StudyTarget, is_nnscratch_sweeper, resolve_target
from .space import sweep_search_space
from .locks import StudyLock
from .storage import display_storage
from .studies import MLFLOW_PARENT_ATTR, open_study, update_user_attr


@dataclass(frozen=True)
class SweepContext:
    """A sweep as the parent MLflow run describes it (all strings/JSON, no Optuna objects)."""

    study_name: str
    storage: str
    directions: list[str]
    n_trials: int
    sampler: dict[str, Any]
    pruner: dict[str, Any] | None
    search_space: dict[str, str]
    fixed: list[str]

    @property
    def storage_display(self) -> str:
        """The storage without its password."""
        return display_storage(self.storage)

    def tags(self) -> dict[str, str]:
        """MLflow tags for the parent run."""
        return {
            "optuna.study_name": self.study_name,
            "optuna.storage": self.storage_display,
            "optuna.sampler": describe(self.sampler),
            "optuna.pruner": describe(self.pruner),
            "optuna.directions": ",".join(self.directions),
            "optuna.n_trials": str(self.n_trials),
            "optuna.search_space": "; ".join(f"{k}={v}" for k, v in self.search_space.items()),
        }

    def params(self) -> dict[str, str]:
        """MLflow params for the parent run: one ``search_space.<name>`` per swept key (``+w`` -> ``w``:
        MLflow names allow no ``+`` or ``@``)."""
        return {f"search_space.{k.lstrip('+').replace('@', '_')}": v for k, v in self.search_space.items()}

    def find_or_create_parent(self, *, reopen: Callable[[dict[str, Any] | None], str | None],
                              create: Callable[[], tuple[str, str]], tracking_uri: str) -> str:
        """The study's one parent run: the recorded one (``reopen(record)``), else ``create()``d and recorded.

        Runs under the study lock, so workers that start at the same instant find one parent.
        ``create`` returns ``(run_id, experiment_id)``.
        """
        study, _ = open_study(StudyTarget(self.study_name, self.storage), self.directions)
        with StudyLock(self.storage, self.study_name):
            run_id = reopen(study.user_attrs.get(MLFLOW_PARENT_ATTR))
            if run_id is None:
                run_id, experiment_id = create()
                update_user_attr(study, MLFLOW_PARENT_ATTR,
                                 {"run_id": run_id, "experiment_id": experiment_id, "tracking_uri": tracking_uri})
        return run_id


def sweep_context(config: DictConfig) -> SweepContext | None:
    """The :class:`SweepContext` of a multirun ``config``; ``None`` if another sweeper is configured."""
    node = OmegaConf.select(config, "hydra.sweeper")
    if not is_nnscratch_sweeper(node):
        return None
    settings = SweepSettings.from_options(node)
    target = resolve_target(settings, config)
    task = list(OmegaConf.select(config, "hydra.overrides.task", default=[]) or [])
    space = sweep_search_space(settings.params, settings.search_space, task)
    return SweepContext(study_name=target.study_name, storage=target.storage, directions=settings.directions,
                        n_trials=effective_n_trials(settings.n_trials, settings.sampler, space),
                        sampler=settings.sampler, pruner=settings.pruner, search_space=space.describe(),
                        fixed=list(space.fixed.values()))
