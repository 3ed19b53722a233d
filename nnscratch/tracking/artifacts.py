"""Run artifacts: config and overrides, evaluation tables and figures, the nnscratch checkpoint."""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import yaml

import nnscratch

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_NAME = "model"


def log_config(config: Mapping[str, Any], overrides: Sequence[str]) -> None:
    """``config/config.yaml`` (resolved) and ``config/overrides.yaml`` (the command-line overrides)."""
    mlflow.log_text(yaml.safe_dump(dict(config), sort_keys=False), "config/config.yaml")
    mlflow.log_text(yaml.safe_dump(list(overrides), default_flow_style=False), "config/overrides.yaml")


def confusion_csv(matrix: np.ndarray, class_names: Sequence[str]) -> str:
    """CSV with one row per true class and one column per predicted class."""
    buffer = io.StringIO()
    buffer.write("true\\pred," + ",".join(class_names) + "\n")
    for name, row in zip(class_names, matrix):
        buffer.write(name + "," + ",".join(str(int(v)) for v in row) + "\n")
    return buffer.getvalue()


def per_class_csv(matrix: np.ndarray, class_names: Sequence[str]) -> str:
    """CSV of precision, recall, F1 and support per class."""
    scores = nnscratch.metrics.precision_recall_f1(matrix)
    support = matrix.sum(axis=1)
    lines = ["class,precision,recall,f1,support"]
    for i, name in enumerate(class_names):
        lines.append(f"{name},{scores['precision'][i]:.6f},{scores['recall'][i]:.6f},"
                     f"{scores['f1'][i]:.6f},{int(support[i])}")
    return "\n".join(lines) + "\n"


def log_confusion_tables(matrix: np.ndarray, class_names: Sequence[str]) -> None:
    """Test-set confusion matrix as ``evaluation/confusion_matrix.{json,csv}`` plus per-class scores."""
    mlflow.log_dict({"class_names": list(class_names), "rows": "true", "columns": "predicted",
                     "matrix": np.asarray(matrix).tolist()}, "evaluation/confusion_matrix.json")
    mlflow.log_text(confusion_csv(matrix, class_names), "evaluation/confusion_matrix.csv")
    mlflow.log_text(per_class_csv(matrix, class_names), "evaluation/per_class.csv")


def log_figures(history: Mapping[str, Sequence[float]], matrix: np.ndarray, class_names: Sequence[str],
                misclassified: Mapping[str, Any] | None, title: str = "") -> None:
    """Learning curves, confusion-matrix heatmap and misclassified test images under ``figures/``.

    ``misclassified`` holds the keyword arguments of :func:`nnscratch.figures.misclassified_grid`
    (None: no such figure).
    """
    from nnscratch import figures  # matplotlib is imported only when figures are wanted

    # at the artifact root: MLflow's compare view shows only root files side by side
    mlflow.log_figure(figures.learning_curves(history, title=title), "learning_curves.png")
    mlflow.log_figure(figures.confusion_matrix(matrix, class_names), "confusion_matrix.png")
    if misclassified is not None:
        mlflow.log_figure(figures.misclassified_grid(**misclassified), "figures/misclassified.png")


def log_model_figures(model: nnscratch.MLP, X_test: np.ndarray, y_test: np.ndarray,
                      class_names: Sequence[str], image_shape: Sequence[int]) -> None:
    """Test-set preview, hidden-layer activations of the first test image, first-layer weights."""
    from nnscratch import figures

    shape = tuple(image_shape)
    mlflow.log_figure(figures.dataset_preview(X_test[:9], y_test[:9], list(class_names), image_shape=shape),
                      "figures/dataset_preview.png")
    mlflow.log_figure(figures.hidden_activations(model, X_test[0], image_shape=shape),
                      "figures/hidden_activations.png")
    mlflow.log_figure(figures.first_layer_weights(model, image_shape=shape), "figures/first_layer_weights.png")


def log_animation(recorder: Any, class_names: Sequence[str]) -> None:
    """The decision-region GIF recorded during training (opt-in: ``tracking.animation=true``)."""
    from nnscratch.figures import training_animation

    with temporary_directory() as tmp:
        mlflow.log_artifact(str(training_animation(recorder, Path(tmp) / "training.gif",
                                                   class_names=list(class_names))), "figures")


def save_checkpoint(model: nnscratch.MLP, directory: Path) -> Path:
    """``nnscratch.save`` into ``directory``; returns the ``.npz`` path (its ``.json`` sits next to it)."""
    return Path(nnscratch.save(model, directory / CHECKPOINT_NAME)).with_suffix(".npz")


def log_checkpoint(npz_path: Path) -> None:
    """The ``.npz`` + ``.json`` checkpoint under ``checkpoint/``."""
    mlflow.log_artifact(str(npz_path), CHECKPOINT_DIR)
    mlflow.log_artifact(str(npz_path.with_suffix(".json")), CHECKPOINT_DIR)


def temporary_directory() -> tempfile.TemporaryDirectory[str]:
    """A scratch directory for files on their way to the artifact store."""
    return tempfile.TemporaryDirectory(prefix="nnscratch-artifacts-")
