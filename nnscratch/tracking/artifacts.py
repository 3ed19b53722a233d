"""Run artifacts: config and overrides, evaluation tables, figures and the nnscratch checkpoint.

The end-of-run files are written into a :class:`Staging` directory and uploaded with one
``log_artifacts`` call. The two figures people compare across runs, ``confusion_matrix.png`` and
``learning_curves.png``, sit at the artifact root (MLflow's compare view only compares root files);
the others go under ``figures/``. Every run records the confusion matrix (Pillow draws it in
milliseconds); the learning curves (MLflow charts the logged curves itself) and the other figures
belong to the full set.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
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
FIGURES_DIR = "figures"
#: Figures at the artifact root, where MLflow's compare view shows them side by side; the others go
#: under ``figures/``.
COMPARED_FIGURES = ("learning_curves", "confusion_matrix")


def figure_path(name: str) -> str:
    """Where figure ``name`` (no suffix) sits in a run's artifacts."""
    return f"{name}.png" if name in COMPARED_FIGURES else f"{FIGURES_DIR}/{name}.png"


def log_config(config: Mapping[str, Any], overrides: Sequence[str]) -> None:
    """``config/config.yaml`` (resolved) and ``config/overrides.yaml`` (the command-line overrides)."""
    with Staging() as stage:
        stage.text("config/config.yaml", yaml.safe_dump(dict(config), sort_keys=False))
        stage.text("config/overrides.yaml", yaml.safe_dump(list(overrides), default_flow_style=False))
        stage.upload()


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


def save_checkpoint(model: nnscratch.MLP, directory: Path) -> Path:
    """``nnscratch.save`` into ``directory``; returns the ``.npz`` path (its ``.json`` sits next to it)."""
    return Path(nnscratch.save(model, directory / CHECKPOINT_NAME)).with_suffix(".npz")


class Staging:
    """A scratch directory mirroring the run's artifact tree, uploaded in one call.

    Use as a context manager; the directory is removed on exit.
    """

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="nnscratch-artifacts-")
        self.root = Path(self._tmp.name)

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tmp.cleanup()

    def path(self, artifact_path: str) -> Path:
        target = self.root / artifact_path
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def text(self, artifact_path: str, text: str) -> None:
        self.path(artifact_path).write_text(text)

    def figure(self, name: str, figure: Any) -> None:
        """Figure ``name`` at its place in the run (:func:`figure_path`)."""
        from nnscratch.figures.saving import save_figure

        save_figure(figure, self.path(figure_path(name)))

    def file(self, artifact_path: str, source: Path) -> None:
        shutil.copyfile(source, self.path(artifact_path))

    def evaluation(self, matrix: np.ndarray, class_names: Sequence[str]) -> None:
        """Test-set confusion matrix as ``evaluation/confusion_matrix.{json,csv}`` plus per-class scores."""
        self.text("evaluation/confusion_matrix.json", json.dumps(
            {"class_names": list(class_names), "rows": "true", "columns": "predicted",
             "matrix": np.asarray(matrix).tolist()}))
        self.text("evaluation/confusion_matrix.csv", confusion_csv(matrix, class_names))
        self.text("evaluation/per_class.csv", per_class_csv(matrix, class_names))

    def confusion_figure(self, matrix: np.ndarray, class_names: Sequence[str]) -> None:
        """``confusion_matrix.png`` at the artifact root (drawn with Pillow: no matplotlib import)."""
        from nnscratch.figures.confusion import confusion_matrix

        self.figure("confusion_matrix", confusion_matrix(matrix, class_names))

    def full_figures(self, history: Mapping[str, Sequence[float]], title: str, model: nnscratch.MLP,
                     X_test: np.ndarray, evaluation: Any, class_names: Sequence[str], image_shape: Sequence[int],
                     max_misclassified: int) -> None:
        """``learning_curves.png`` at the root; first-layer weights, test-set preview, hidden activations
        and misclassified images under ``figures/``."""
        from nnscratch import figures  # matplotlib is imported only when these are wanted

        shape, names = tuple(image_shape), list(class_names)
        self.figure("learning_curves", figures.learning_curves(history, title=title))
        self.figure("first_layer_weights", figures.first_layer_weights(model, image_shape=shape))
        self.figure("dataset_preview", figures.dataset_preview(X_test[:9], evaluation.y_true[:9], names,
                                                               image_shape=shape))
        self.figure("hidden_activations", figures.hidden_activations(model, X_test[0], image_shape=shape))
        if max_misclassified:
            self.figure("misclassified", figures.misclassified_grid(
                X_test, evaluation.y_true, evaluation.y_pred, evaluation.proba, names, image_shape=shape,
                max_images=max_misclassified))

    def checkpoint(self, model: nnscratch.MLP, class_names: Sequence[str]) -> Path:
        """``checkpoint/model.{npz,json}`` and ``checkpoint/class_names.json``; returns the ``.npz`` path."""
        npz = save_checkpoint(model, self.path(f"{CHECKPOINT_DIR}/{CHECKPOINT_NAME}").parent)
        self.text(f"{CHECKPOINT_DIR}/class_names.json", json.dumps(list(class_names)))
        return npz

    def upload(self, client: Any = None, run_id: str | None = None) -> None:
        """Everything staged, into the active run (or ``run_id`` through ``client``)."""
        if client is None:
            mlflow.log_artifacts(str(self.root))
        else:
            client.log_artifacts(run_id, str(self.root))


def log_animation(recorder: Any, class_names: Sequence[str], stage: Staging) -> None:
    """The decision-region GIF recorded during training (opt-in: ``tracking.animation_every``)."""
    from nnscratch.figures import training_animation

    training_animation(recorder, stage.path(f"{FIGURES_DIR}/training.gif"), class_names=list(class_names))
