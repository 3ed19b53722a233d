"""Draw the full figure set of a logged MLflow run from its metrics, model and dataset.

Used by ``python -m nnscratch.figures RUN_ID`` and, for a sweep's best child, when the sweep ends. The learning curves need only the run's metric
history; the confusion matrix uses the run's ``evaluation/confusion_matrix.json``; the weight,
activation, preview and misclassified figures need the logged model, and the last three also the
run's dataset (``data.*`` params), loaded through :func:`nnscratch.data.load_dataset`. A figure whose
inputs are missing is skipped with a warning rather than failing the rest.
"""

from __future__ import annotations

import json
import shutil
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib.figure import Figure

from nnscratch.figures import (
    confusion_matrix,
    dataset_preview,
    first_layer_weights,
    hidden_activations,
    learning_curves,
    misclassified_grid,
)
from nnscratch.figures.network import square_shape

log = logging.getLogger(__name__)

HISTORY_PREFIXES = ("train/", "val/")
MAX_TEST_IMAGES = 2000
CONFUSION_ARTIFACT = "evaluation/confusion_matrix.json"


@dataclass
class RunInputs:
    """What the figures of one run are drawn from (any part may be missing)."""

    run_id: str
    title: str
    history: dict[str, list[float]]
    matrix: np.ndarray | None = None
    class_names: list[str] | None = None
    model: object | None = None
    dataset: object | None = None


def metric_history(client, run_id: str, keys: list[str]) -> dict[str, list[float]]:
    """Per-epoch values of ``keys`` ordered by step (epoch)."""
    history = {}
    for key in sorted(keys):
        points = sorted(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))
        history[key] = [m.value for m in points]
    return history


def logged_confusion(client, run_id: str) -> tuple[np.ndarray, list[str]] | None:
    """The run's ``evaluation/confusion_matrix.json`` as (matrix, class names), if logged."""
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="nnscratch-figures-") as tmp:
        try:
            path = client.download_artifacts(run_id, CONFUSION_ARTIFACT, tmp)
        except (MlflowException, OSError) as exc:
            log.warning("no %s for run %s: %s", CONFUSION_ARTIFACT, run_id, exc)
            return None
        data = json.loads(Path(path).read_text())
    return np.asarray(data["matrix"], dtype=np.int64), [str(c) for c in data["class_names"]]


def run_dataset(params: dict[str, str]):
    """The dataset named by the run's ``data.*`` params, or None if it cannot be loaded."""
    name = params.get("data") or params.get("data.name")  # runs before params were named as typed: data.name
    if not name:
        return None
    kwargs = {}
    if params.get("data.digits") not in (None, "null", "None"):
        kwargs["digits"] = tuple(json.loads(params["data.digits"]))
    try:
        from nnscratch.data import load_dataset

        return load_dataset(name, **kwargs)
    except Exception as exc:  # unavailable data must not stop the other figures
        log.warning("cannot load dataset %s for figures: %s", name, exc)
        return None


def collect(run_id: str, tracking_uri: str, *, with_data: bool = True, dataset: object | None = None) -> RunInputs:
    """Fetch metrics, confusion matrix, model and (optionally) dataset of ``run_id``.

    ``dataset`` is used instead of loading the run's dataset when given.
    """
    from mlflow.tracking import MlflowClient

    from nnscratch.model_uri import ModelNotFoundError, load_model

    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(run_id)
    keys = [k for k in run.data.metrics if k.startswith(HISTORY_PREFIXES)]
    inputs = RunInputs(run_id, run.info.run_name or run_id, metric_history(client, run_id, keys))
    confusion = logged_confusion(client, run_id)
    if confusion is not None:
        inputs.matrix, inputs.class_names = confusion
    try:
        loaded = load_model(run_id=run_id, tracking_uri=tracking_uri)
        inputs.model = loaded.model
        inputs.class_names = inputs.class_names or loaded.class_names
    except ModelNotFoundError as exc:
        log.warning("no model for run %s: %s", run_id, exc)
    if with_data:
        inputs.dataset = dataset if dataset is not None else run_dataset(run.data.params)
    return inputs


def _test_predictions(model, dataset) -> dict:
    X = dataset.X_test[:MAX_TEST_IMAGES]
    y = dataset.y_test[:MAX_TEST_IMAGES]
    proba = model.predict_proba(X)
    return {"images": X, "true": y, "pred": proba.argmax(axis=1), "confidence": proba.max(axis=1),
            "class_names": dataset.class_names, "image_shape": dataset.image_shape}


def figure_builders(inputs: RunInputs) -> dict[str, Callable[[], Figure]]:
    """File name -> function drawing it, for every figure the inputs allow."""
    builders: dict[str, Callable[[], Figure]] = {}
    if inputs.history:
        builders["learning_curves"] = lambda: learning_curves(inputs.history, title=inputs.title)
    if inputs.matrix is not None:
        builders["confusion_matrix"] = lambda: confusion_matrix(inputs.matrix, inputs.class_names)
    model, data = inputs.model, inputs.dataset
    if model is not None and square_shape(model.layer_sizes[0]):
        shape = square_shape(model.layer_sizes[0])
        builders["first_layer_weights"] = lambda: first_layer_weights(model, image_shape=shape)
    if data is not None:
        builders["dataset_preview"] = lambda: dataset_preview(
            data.X_train, data.y_train, data.class_names, image_shape=data.image_shape)
    if model is not None and data is not None:
        builders["hidden_activations"] = lambda: hidden_activations(model, data.X_test[0], data.image_shape)
        builders["misclassified"] = lambda: misclassified_grid(**_test_predictions(model, data))
    return builders


def logged_figures(client, run_id: str) -> set[str]:
    """Names of the figures the run already has (at the artifact root or under ``figures/``)."""
    from nnscratch.tracking.artifacts import FIGURES_DIR

    paths = [a.path for a in client.list_artifacts(run_id)] + [a.path for a in client.list_artifacts(run_id, FIGURES_DIR)]
    return {Path(p).stem for p in paths if p.endswith(".png")}


def regenerate(run_id: str, tracking_uri: str, out_dir: Path | None = None, *, log_to_run: bool = True,
               with_data: bool = True, missing_only: bool = False, dataset: object | None = None) -> list[str]:
    """Draw every figure the run allows and log it to the run where train.py puts it.

    ``learning_curves.png`` and ``confusion_matrix.png`` go to the artifact root, the others under
    ``figures/`` (:func:`nnscratch.tracking.artifacts.figure_path`).

    Parameters
    ----------
    out_dir : Path, optional
        Also keep the PNG files here (nothing is written outside the run without it).
    log_to_run : bool
        Log the figures to the run (False: only ``out_dir``).
    missing_only : bool
        Draw only the figures the run does not have yet.
    dataset : optional
        The run's dataset, if the caller has it loaded already.

    Returns
    -------
    list of str, the names of the figures drawn (``misclassified``, ...)
    """
    from mlflow.tracking import MlflowClient

    from nnscratch.tracking.artifacts import Staging, figure_path

    client = MlflowClient(tracking_uri=tracking_uri)
    skip = logged_figures(client, run_id) if missing_only else set()
    inputs = collect(run_id, tracking_uri, with_data=with_data, dataset=dataset)
    builders = {name: build for name, build in figure_builders(inputs).items() if name not in skip}
    with Staging() as stage:
        for name, build in builders.items():
            stage.figure(name, build())
            if out_dir is not None:
                Path(out_dir).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(stage.root / figure_path(name), Path(out_dir) / f"{name}.png")
        if log_to_run and builders:
            stage.upload(client, run_id)
    return list(builders)
