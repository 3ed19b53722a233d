"""Everything one training run records in MLflow, behind a small interface train.py calls.

:class:`MLflowTracker` opens the run (a child of the sweep's parent run in multiruns), logs params,
tags, config and the dataset input at the start, per-epoch metrics in batches during :func:`fit`,
and the evaluation, figures, checkpoint and pyfunc model at the end. :class:`NoTracker` has the same
methods and does nothing (``tracking=none``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from omegaconf import DictConfig

import nnscratch
from nnscratch.tracking import artifacts
from nnscratch.tracking.datasets import log_dataset
from nnscratch.tracking.evaluation import Evaluation
from nnscratch.tracking.metrics import MLflowMetricsLogger
from nnscratch.tracking.params import config_params, log_params, resolved_container
from nnscratch.tracking.pyfunc import log_pyfunc_model
from nnscratch.tracking.runs import tracked_run
from nnscratch.tracking.store import get_or_create_experiment, redact_uri, use_store
from nnscratch.tracking.tags import source_tags

log = logging.getLogger(__name__)


class NoTracker:
    """Tracking disabled: same interface as :class:`MLflowTracker`, records nothing."""

    run_id: str | None = None
    tracking_uri: str | None = None
    experiment_id: str | None = None

    @contextmanager
    def run(self, cfg: DictConfig, **kwargs: Any) -> Iterator[None]:
        yield None

    def log_dataset(self, dataset: Any, sizes: Mapping[str, int]) -> None:
        """Nothing to record."""

    def callbacks(self, X_val: Any = None, y_val: Any = None) -> list[Any]:
        return []

    def log_results(self, **kwargs: Any) -> None:
        """Nothing to record."""


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
    """

    def __init__(self, tracking_uri: str, experiment_name: str, *, log_model: bool = True,
                 log_checkpoint: bool = True, log_figures: bool = True, max_misclassified: int = 25,
                 animation_every: int = 0) -> None:
        self.tracking_uri, self.experiment_name = tracking_uri, experiment_name
        self.options = {"model": log_model, "checkpoint": log_checkpoint, "figures": log_figures}
        self.max_misclassified = max_misclassified
        self.client = use_store(tracking_uri)
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.metrics_logger: MLflowMetricsLogger | None = None
        self.seconds = 0.0  # wall time spent in MLflow calls outside the metrics logger
        self.animation_every = animation_every
        self.recorder: Any = None

    @classmethod
    def from_config(cls, tracking: DictConfig, tracking_uri: str) -> MLflowTracker:
        return cls(tracking_uri, tracking.experiment_name, log_model=tracking.log_model,
                   log_checkpoint=tracking.log_checkpoint, log_figures=tracking.log_figures,
                   max_misclassified=tracking.max_misclassified,
                   animation_every=tracking.animation_every)

    @contextmanager
    def run(self, cfg: DictConfig, *, overrides: Sequence[str] = (), run_name: str | None = None,
            tags: Mapping[str, str] | None = None, parent_run_id: str | None = None) -> Iterator[str]:
        """Open the run, log params/tags/config, yield its id; close it whatever happens."""
        start = time.perf_counter()
        if parent_run_id:
            experiment_id = self.client.get_run(parent_run_id).info.experiment_id
        else:
            experiment_id = get_or_create_experiment(self.client, self.experiment_name)
        all_tags = {**source_tags(), "nnscratch.kind": "train", **(tags or {})}
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
                self.metrics_logger.flush()  # whatever was measured before a failure or pruning
                self._log_overhead()

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
        """Test metrics, confusion tables, figures, checkpoint and pyfunc model."""
        assert self.metrics_logger is not None, "call inside MLflowTracker.run()"
        start = time.perf_counter()
        self.metrics_logger.log(evaluation.metrics, step=len(history))
        self.metrics_logger.flush()
        artifacts.log_confusion_tables(evaluation.matrix, class_names)
        if self.options["figures"]:
            misclassified = None if self.max_misclassified == 0 else {
                "images": X_test, "true": evaluation.y_true, "pred": evaluation.y_pred,
                "confidence": evaluation.proba, "class_names": list(class_names),
                "image_shape": tuple(image_shape), "max_images": self.max_misclassified}
            artifacts.log_figures(history.as_dict(), evaluation.matrix, class_names, misclassified, title)
            artifacts.log_model_figures(model, X_test, evaluation.y_true, class_names, image_shape)
        if self.recorder is not None:
            artifacts.log_animation(self.recorder, class_names)
        if self.options["checkpoint"] or self.options["model"]:
            self._log_model(model, class_names, X_test)
        self.seconds += time.perf_counter() - start

    def _log_model(self, model: nnscratch.MLP, class_names: Sequence[str], X_test: np.ndarray) -> None:
        with artifacts.temporary_directory() as scratch:
            npz_path = artifacts.save_checkpoint(model, Path(scratch))
            if self.options["checkpoint"]:
                artifacts.log_checkpoint(npz_path)
                mlflow.log_text(json.dumps(list(class_names)), f"{artifacts.CHECKPOINT_DIR}/class_names.json")
            if self.options["model"]:
                log_pyfunc_model(npz_path, class_names, model.layer_sizes[0], input_example=X_test[:2])

    def _log_overhead(self) -> None:
        """Wall time spent on tracking (MLflow calls, figures, model packaging) as tags ``tracking.seconds``
        and, of it, per-epoch metric logging as ``tracking.metrics_seconds``."""
        assert self.metrics_logger is not None
        mlflow.set_tags({"tracking.seconds": f"{self.seconds + self.metrics_logger.seconds_logging:.3f}",
                         "tracking.metrics_seconds": f"{self.metrics_logger.seconds_logging:.3f}"})
