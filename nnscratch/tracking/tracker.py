"""Everything one training run records in MLflow, behind a small interface train.py calls.

:class:`MLflowTracker` opens the run (a child of the sweep's parent run in multiruns), logs params,
tags, config and the dataset input at the start, per-epoch metrics in batches during :func:`fit`,
and at the end the test metrics, confusion tables, the confusion-matrix figure and the checkpoint.
A single run also gets the other figures (drawn by a forked copy of the process while this one
packages the model, :class:`~nnscratch._forked.Forked`) and the pyfunc model (the *full* set); a sweep child skips
them unless ``tracking.sweep_artifacts=full``: the sweep's best child gets them when the multirun
ends, any other child with :func:`nnscratch.tracking.completion.complete_run`. The tag
``nnscratch.artifacts`` says which set a run has (``light`` or ``full``).
:class:`~nnscratch.tracking.no_tracker.NoTracker` has the same methods and does nothing (``tracking=none``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import mlflow
import numpy as np
from omegaconf import DictConfig

import nnscratch
from nnscratch._forked import Forked
from nnscratch.tracking import artifacts
from nnscratch.tracking.artifacts import Staging
from nnscratch.tracking.datasets import log_dataset
from nnscratch.tracking.evaluation import Evaluation
from nnscratch.tracking.metrics import MLflowMetricsLogger
from nnscratch.tracking.params import config_params, log_params, resolved_container
from nnscratch.tracking.pyfunc import log_pyfunc_model
from nnscratch.tracking.runs import tracked_run
from nnscratch.tracking.store import get_or_create_experiment, redact_uri, use_store
from nnscratch.tracking.tags import source_tags

log = logging.getLogger(__name__)


ARTIFACTS_TAG = "nnscratch.artifacts"
SWEEP_ARTIFACTS = ("light", "full")


class MLflowTracker:
    """Records one training run in MLflow.

    Parameters
    ----------
    tracking_uri : str
        Resolved store URI (see :func:`nnscratch.tracking.store.resolve_tracking_uri`).
    experiment_name : str
    log_model, log_checkpoint, log_figures : bool
        Which end-of-run artifacts to write.
    max_misclassified : int
        Tiles in the misclassified-images figure (0: no such figure).
    animation_every : int
        Draw the decision regions every this many epochs into ``figures/training.gif``
        (0: off; it costs a forward pass over a grid per frame).
    sweep_artifacts : {"light", "full"}
        What a sweep child records at its end: ``light`` leaves out the pyfunc model and the figures
        under ``figures/`` (the best child gets them when the sweep ends); ``full`` records them too.
    multirun : bool
        The run is a child of a Hydra multirun (``sweep_artifacts`` applies).
    """

    def __init__(self, tracking_uri: str, experiment_name: str, *, log_model: bool = True,
                 log_checkpoint: bool = True, log_figures: bool = True, max_misclassified: int = 25,
                 animation_every: int = 0, sweep_artifacts: str = "light", multirun: bool = False) -> None:
        if sweep_artifacts not in SWEEP_ARTIFACTS:
            raise ValueError(f"tracking.sweep_artifacts={sweep_artifacts!r}; allowed: {', '.join(SWEEP_ARTIFACTS)}")
        self.tracking_uri, self.experiment_name = tracking_uri, experiment_name
        self.multirun = multirun
        self.full = not multirun or sweep_artifacts == "full"
        self.options = {"model": log_model and self.full, "checkpoint": log_checkpoint, "figures": log_figures}
        self.max_misclassified = max_misclassified
        self.client = use_store(tracking_uri)
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.metrics_logger: MLflowMetricsLogger | None = None
        self.seconds = 0.0  # wall time spent in MLflow calls outside the metrics logger
        self.animation_every = animation_every
        self.recorder: Any = None

    @classmethod
    def from_config(cls, tracking: DictConfig, tracking_uri: str, *, multirun: bool = False) -> MLflowTracker:
        return cls(tracking_uri, tracking.experiment_name, log_model=tracking.log_model,
                   log_checkpoint=tracking.log_checkpoint, log_figures=tracking.log_figures,
                   max_misclassified=tracking.max_misclassified,
                   animation_every=tracking.animation_every,
                   sweep_artifacts=tracking.get("sweep_artifacts", "light"), multirun=multirun)

    @contextmanager
    def run(self, cfg: DictConfig, *, overrides: Sequence[str] = (), run_name: str | None = None,
            tags: Mapping[str, str] | None = None, parent_run_id: str | None = None) -> Iterator[str]:
        """Open the run, log params/tags/config, yield its id; close it whatever happens."""
        start = time.perf_counter()
        if parent_run_id:
            experiment_id = self.client.get_run(parent_run_id).info.experiment_id
        else:
            experiment_id = get_or_create_experiment(self.client, self.experiment_name)
        all_tags = {**source_tags(), "nnscratch.kind": "train", ARTIFACTS_TAG: "full" if self.full else "light",
                    **(tags or {})}
        with tracked_run(experiment_id, run_name=run_name, tags=all_tags, parent_run_id=parent_run_id) as run:
            self.run_id, self.experiment_id = run.info.run_id, experiment_id
            self.metrics_logger = MLflowMetricsLogger(self.client, self.run_id)
            log_params(self.client, self.run_id, config_params(cfg))
            artifacts.log_config(resolved_container(cfg), overrides)
            log.info("MLflow run %s in experiment %r (%s)", self.run_id, self.experiment_name,
                     redact_uri(self.tracking_uri))
            self.seconds += time.perf_counter() - start
            try:
                yield self.run_id
            finally:
                # whatever was measured before a failure or pruning, with the overhead tags
                self.metrics_logger.flush(tags=self._overhead_tags())

    def log_dataset(self, dataset: Any, sizes: Mapping[str, int]) -> None:
        """The data set as an MLflow input (name, SHA-256, source) plus ``data.*`` tags."""
        start = time.perf_counter()
        size_tags = {f"n_{split}": str(n) for split, n in sizes.items()}
        log_dataset(dataset.name, dataset.digest, dataset.source, dataset.sha256, extra_tags=size_tags)
        mlflow.set_tags({"data.name": dataset.name, "data.sha256": dataset.digest, "data.source": dataset.source})
        self.seconds += time.perf_counter() - start

    def callbacks(self, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> list[Any]:
        """:func:`nnscratch.fit` callbacks that record the run (metrics logger, optional animation)."""
        assert self.metrics_logger is not None, "call inside MLflowTracker.run()"
        if self.animation_every and X_val is not None and len(X_val) > 1:
            from nnscratch.figures import DecisionRegionRecorder

            self.recorder = DecisionRegionRecorder(X_val, y_val, every=self.animation_every)
            return [self.metrics_logger, self.recorder]
        return [self.metrics_logger]

    def log_results(self, *, model: nnscratch.MLP, history: nnscratch.History, evaluation: Evaluation,
                    class_names: Sequence[str], X_test: np.ndarray, image_shape: Sequence[int],
                    title: str = "") -> None:
        """Test metrics, confusion tables, figures and checkpoint in one upload; the pyfunc model and the
        other figures (full set) after it."""
        assert self.metrics_logger is not None, "call inside MLflowTracker.run()"
        start = time.perf_counter()
        self.metrics_logger.log(evaluation.metrics, step=len(history))
        full_figures = self.options["figures"] and self.full
        with Staging() as stage, Staging() as scratch, Staging() as drawn:
            # a single run's other figures are drawn by a forked copy of this process, on the core
            # training freed, while this one uploads and packages the model (a sweep's cores are busy)
            drawing = Forked(drawn.full_figures, history.as_dict(), title, model, X_test, evaluation, class_names,
                             image_shape, self.max_misclassified, enabled=not self.multirun) \
                if full_figures else nullcontext()
            with drawing:
                stage.evaluation(evaluation.matrix, class_names)
                if self.options["figures"]:
                    stage.confusion_figure(evaluation.matrix, class_names)
                if self.recorder is not None:
                    artifacts.log_animation(self.recorder, class_names, stage)
                npz = None
                if self.options["checkpoint"] or self.options["model"]:
                    npz = (stage if self.options["checkpoint"] else scratch).checkpoint(model, class_names)
                stage.upload()
                if self.options["model"]:
                    log_pyfunc_model(npz, class_names, model.layer_sizes[0], input_example=X_test[:2])
            if full_figures:
                drawn.upload()
        self.seconds += time.perf_counter() - start

    def _overhead_tags(self) -> dict[str, str]:
        """Wall time spent on tracking (MLflow calls, figures, model packaging) as tags ``tracking.seconds``
        and, of it, per-epoch metric logging as ``tracking.metrics_seconds``."""
        assert self.metrics_logger is not None
        return {"tracking.seconds": f"{self.seconds + self.metrics_logger.seconds_logging:.3f}",
                "tracking.metrics_seconds": f"{self.metrics_logger.seconds_logging:.3f}"}
