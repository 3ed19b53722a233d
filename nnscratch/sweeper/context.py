"""What the sweep's MLflow parent run needs to know, for a Hydra callback that runs before the sweeper.

Hydra calls ``Callback.on_multirun_start(config)`` before it instantiates the sweeper, so the callback
cannot ask the sweeper. :func:`sweep_context` derives the same study name, storage, sampler, pruner and
search space from the multirun config, and :meth:`SweepContext.attach_mlflow_parent` stores the parent
run in the study's user attributes, where every job (in any process) finds it::

    ctx = sweep_context(config)            # None unless hydra.sweeper is this sweeper
    if ctx is not None:
        previous = ctx.mlflow_parent()     # set when the study is being resumed
        run = mlflow.start_run(run_id=previous["run_id"] if previous else None,
                               run_name=ctx.study_name, tags=ctx.tags())
        mlflow.log_params(ctx.params())
        ctx.attach_mlflow_parent(run.info.run_id, run.info.experiment_id, mlflow.get_tracking_uri())
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from .factories import describe, effective_n_trials
from .settings import SweepSettings, StudyTarget, is_nnscratch_sweeper, resolve_target
from .space import sweep_search_space
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

    def attach_mlflow_parent(self, run_id: str, experiment_id: str | None = None,
                             tracking_uri: str | None = None) -> None:
        """Record the parent run in the study (creating the study if the sweeper has not yet)."""
        study, _ = open_study(StudyTarget(self.study_name, self.storage), self.directions)
        update_user_attr(study, MLFLOW_PARENT_ATTR,
                         {"run_id": run_id, "experiment_id": experiment_id, "tracking_uri": tracking_uri})

    def mlflow_parent(self) -> dict[str, Any] | None:
        """The parent run recorded by an earlier invocation of this study, if any."""
        study, _ = open_study(StudyTarget(self.study_name, self.storage), self.directions)
        return study.user_attrs.get(MLFLOW_PARENT_ATTR)


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
