"""The MLflow parent run of a Hydra multirun: opened with the sweep's context, closed with a summary."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.tracking.context.registry import resolve_tags
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NOTE
from omegaconf import DictConfig, OmegaConf

from nnscratch.tracking.leaderboard import Leaderboard, minimized
from nnscratch.tracking.store import get_or_create_experiment, open_client, redact_uri, resolve_tracking_uri
from nnscratch.tracking.tags import source_tags
from nnscratch.tracking.ui_links import UiLinks

log = logging.getLogger(__name__)

KIND_TAG = "nnscratch.kind"


class ParentRun:
    """A parent run created with :meth:`open`; children find it by id (tag ``mlflow.parentRunId``).

    Parameters
    ----------
    client : MlflowClient
    run_id, experiment_id : str
    optimized_metric : str
        The children's metric that picks the best child (``*loss`` minimized, else maximized).
    study : (name, storage) of the Optuna study, storage without password; None for other sweepers
    direction : the study's (first) direction; None: ``*loss`` minimized, else maximized
    """

    def __init__(self, client: MlflowClient, run_id: str, experiment_id: str, optimized_metric: str,
                 study: tuple[str, str] | None = None, direction: str | None = None) -> None:
        self.client, self.run_id, self.experiment_id = client, run_id, experiment_id
        self.optimized_metric, self.study, self.direction = optimized_metric, study, direction

    @classmethod
    def open(cls, config: DictConfig) -> ParentRun:
        """Create the parent run of the multirun described by ``config`` (the sweep's composed config).

        Under the Optuna sweeper the run is named after the study, carries the study's tags and
        search space, and is recorded in the study; a resumed study reopens its earlier parent run.
        """
        uri = resolve_tracking_uri(config.tracking.tracking_uri, os.getcwd())
        client = open_client(uri)  # several workers may open a fresh store together
        study = optuna_context(config)

        def create() -> tuple[str, str]:
            experiment_id = get_or_create_experiment(client, config.tracking.experiment_name)
            return _create(client, experiment_id, config, study), experiment_id

        with _quiet_optuna():  # the sweeper opens the study next and says so once
            if study is None:
                run_id = create()[0]
            else:  # under the study lock: workers starting together share one parent
                run_id = study.find_or_create_parent(reopen=lambda previous: _reopen(client, previous),
                                                     create=create, tracking_uri=uri)
        experiment_id = client.get_run(run_id).info.experiment_id
        log.info("MLflow parent run %s (experiment %r, %s)", run_id, config.tracking.experiment_name,
                 redact_uri(uri))
        if study is None:
            return cls(client, run_id, experiment_id, str(config.optimized_metric))
        if (study.directions[0] == "minimize") != minimized(str(config.optimized_metric)):
            log.warning("the study will %s %s (hydra.sweeper.direction); is that what you mean?",
                        study.directions[0], config.optimized_metric)
        return cls(client, run_id, experiment_id, str(config.optimized_metric),
                   (study.study_name, study.storage_display), study.directions[0])

    @property
    def tracking_uri(self) -> str:
        return redact_uri(self.client.tracking_uri)

    def children(self) -> list[Any]:
        return self.client.search_runs([self.experiment_id],
                                       filter_string=f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{self.run_id}'",
                                       max_results=10000)

    def close(self, status: str | None = None) -> str:
        """Summarize the children (``best/*`` metrics, the leaderboard as the run's description, the
        overlay figure), end the run, and log the winner.

        ``status`` None means the multirun did not finish: KILLED if a child was killed (Ctrl-C),
        else FAILED. Returns the status used.
        """
        children = self.children()
        board = Leaderboard.of(children, self.optimized_metric, self.direction)
        if status is None:
            status = "KILLED" if board.statuses["KILLED"] else "FAILED"
        tags = [RunTag(f"sweep.n_{name.lower()}", str(n)) for name, n in board.statuses.items()]
        tags += [RunTag("sweep.n_runs", str(len(children))), RunTag("sweep.optimized_metric", self.optimized_metric),
                 RunTag(MLFLOW_RUN_NOTE, board.markdown(self.experiment_id, self.study))]
        metrics = []
        if board.best is not None:
            now = int(time.time() * 1000)
            metrics = [Metric(f"best/{key}", value, now, 0) for key, value in sorted(board.best.data.metrics.items())
                       if "/" in key]
            tags.append(RunTag("best_run_id", board.best.info.run_id))
        self.client.log_batch(self.run_id, metrics=metrics, tags=tags)
        self._log_overlay(board)
        self.client.set_terminated(self.run_id, status)
        log.info("MLflow parent run %s ended %s", self.run_id, status)
        for line in board.winner_lines(UiLinks(self.tracking_uri), self.experiment_id, self.run_id):
            log.info("%s", line)
        return status

    def _log_overlay(self, board: Leaderboard, max_runs: int = 50) -> None:
        """The children's per-epoch optimized metric on one figure (best first), as the parent's artifact."""
        metric = self.optimized_metric
        histories = {}
        for child in board.ranked[:max_runs]:
            points = sorted(self.client.get_metric_history(child.info.run_id, metric), key=lambda m: m.step)
            if points:
                histories[child.info.run_name or child.info.run_id[:8]] = {metric: [p.value for p in points]}
        if not histories:
            return
        try:
            from nnscratch.figures import overlay_learning_curves

            figure = overlay_learning_curves(histories, metric, title=f"{metric} per epoch, best first")
            self.client.log_figure(self.run_id, figure, f"overlay_{metric.replace('/', '_')}.png")
        except Exception as error:  # noqa: BLE001 - a figure must not lose the sweep's summary
            log.warning("could not log the learning-curve overlay: %s", error)


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna's "Using an existing study" INFO lines off for the block (if Optuna is in use)."""
    optuna = sys.modules.get("optuna")
    if optuna is None:
        yield
        return
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def optuna_context(config: DictConfig) -> Any:
    """The Optuna sweep's :class:`~nnscratch.sweeper.context.SweepContext`, or None for other sweepers.

    Optuna is imported only when ``hydra.sweeper`` is an Optuna sweeper.
    """
    target = str(OmegaConf.select(config, "hydra.sweeper._target_", default="") or "")
    if "optuna" not in target.lower():
        return None
    try:
        from nnscratch.sweeper.context import sweep_context
    except ImportError:
        return None
    return sweep_context(config)


def _reopen(client: MlflowClient, previous: dict[str, Any] | None) -> str | None:
    """Set an earlier parent run (of a resumed Optuna study) RUNNING again; None if there is none."""
    if not previous or not previous.get("run_id"):
        return None
    try:
        client.update_run(previous["run_id"], status="RUNNING")
    except MlflowException as error:
        log.warning("cannot reopen parent run %s (%s); starting a new one", previous["run_id"], error)
        return None
    log.info("resumed study: reopened MLflow parent run %s", previous["run_id"])
    return str(previous["run_id"])


def _create(client: MlflowClient, experiment_id: str, config: DictConfig, study: Any) -> str:
    overrides = list(config.hydra.overrides.task)
    tags = {**source_tags(), KIND_TAG: "sweep",
            "hydra.sweep.dir": str(Path(config.hydra.sweep.dir).resolve()),
            "hydra.sweeper": str(config.hydra.sweeper.get("_target_", "")),
            "hydra.launcher": str(config.hydra.launcher.get("_target_", "")),
            "hydra.overrides": " ".join(overrides), **(study.tags() if study is not None else {})}
    name = study.study_name if study is not None else _sweep_name(config)
    run_id = client.create_run(experiment_id, run_name=name, tags=resolve_tags(tags)).info.run_id  # + "Created by"
    if study is not None:
        client.log_batch(run_id, params=[Param(k, v) for k, v in study.params().items()])
    client.log_text(run_id, yaml.safe_dump(overrides), "config/overrides.yaml")
    return run_id


def _sweep_name(config: DictConfig) -> str:
    name = config.tracking.get("run_name")
    return f"{name}-sweep" if name else f"sweep-{Path(config.hydra.sweep.dir).name}"
