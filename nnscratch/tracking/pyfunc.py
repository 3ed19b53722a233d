"""The trained network as an MLflow pyfunc model, logged from code (nothing of ours is pickled).

``mlflow models predict -m runs:/<id>/model -i pixels.csv -t csv --env-manager local`` and
``mlflow.pyfunc.load_model("runs:/<id>/model").predict(rows)`` take rows of ``n_features`` pixel
values in [0, 1] (a CSV/JSON table or an array) and return one row per input: the predicted class
id ``label``, its ``class_name`` and the model's ``confidence`` in it.

The weights travel as the nnscratch checkpoint (``.npz`` + ``.json``, read with
``allow_pickle=False``); the model's code is :mod:`nnscratch.tracking.pyfunc_code`, which MLflow
executes at load time ("models from code"), so nnscratch must be importable where the model is
served (use ``--env-manager local`` / ``env_manager="local"``).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.environment_variables import MLFLOW_EXPERIMENT_ID
from mlflow.models import Model, ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types import ColSpec, Schema

MODEL_NAME = "model"
CODE_FILE = Path(__file__).with_name("pyfunc_code.py")
WEIGHTS, ARCHITECTURE, CLASS_NAMES = "weights", "architecture", "class_names"


class NNScratchPyfunc(PythonModel):
    """Pyfunc wrapper around a checkpointed :class:`nnscratch.MLP`."""

    def __init__(self) -> None:
        self.model: Any = None
        self.class_names: list[str] = []

    def load_context(self, context: Any) -> None:
        import nnscratch  # the serving environment needs nnscratch installed

        self.model = nnscratch.load(context.artifacts[WEIGHTS])
        self.class_names = json.loads(Path(context.artifacts[CLASS_NAMES]).read_text())

    def predict(self, context: Any, model_input: np.ndarray, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Rows ``(n, n_features)`` of pixels in [0, 1] -> DataFrame ``label``, ``class_name``, ``confidence``."""
        X = as_pixel_rows(model_input, self.model.layer_sizes[0], self.model.dtype)
        proba = self.model.predict_proba(X)
        labels = proba.argmax(axis=1)
        return pd.DataFrame({
            "label": labels.astype(np.int64),
            "class_name": [self.class_names[i] for i in labels],
            "confidence": proba[np.arange(len(labels)), labels].astype(np.float64),
        })


def as_pixel_rows(model_input: Any, n_features: int, dtype: Any) -> np.ndarray:
    """A DataFrame, array or nested list as a ``(n, n_features)`` array of ``dtype``, checked.

    Raises
    ------
    ValueError
        Wrong number of columns, or values outside [0, 1] (raw 0-255 bytes must be divided by 255).
    """
    values = model_input.to_numpy() if isinstance(model_input, pd.DataFrame) else np.asarray(model_input)
    X = np.asarray(values, dtype=dtype).reshape(len(values), -1)
    if X.shape[1] != n_features:
        raise ValueError(f"expected rows of {n_features} pixel values, got {X.shape[1]} columns")
    if X.size and (np.nanmin(X) < 0 or np.nanmax(X) > 1 or np.isnan(X).any()):
        raise ValueError("pixel values must be finite and in [0, 1]; divide raw 0-255 bytes by 255")
    return X


def model_signature(n_features: int) -> ModelSignature:
    """Input: ``n_features`` unnamed numeric columns (matched by position, so a CSV header is free and
    int, float32 or float64 values all pass); output: ``label``, ``class_name``, ``confidence`` columns.
    """
    inputs = Schema([ColSpec("double") for _ in range(n_features)])
    outputs = Schema([ColSpec("long", "label"), ColSpec("string", "class_name"), ColSpec("double", "confidence")])
    return ModelSignature(inputs=inputs, outputs=outputs)


def pip_requirements() -> list[str]:
    """Pinned requirements of the serving environment (nnscratch itself is not on PyPI)."""
    requirements = []
    for package in ("mlflow", "numpy", "pandas"):
        try:
            requirements.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            requirements.append(package)
    return requirements


def log_pyfunc_model(npz_path: Path, class_names: Sequence[str], n_features: int, *,
                     input_example: np.ndarray | None = None, name: str = MODEL_NAME,
                     run_id: str | None = None) -> Any:
    """Log the checkpoint at ``npz_path`` as a pyfunc model; returns MLflow's ModelInfo.

    The model goes to run ``run_id`` (default: the active run), which may have ended already.
    ``input_example`` (a few rows of pixels) is stored with the model and shown by MLflow as the
    request format of ``mlflow models serve``.
    """
    with tempfile.TemporaryDirectory(prefix="nnscratch-pyfunc-") as scratch, _experiment_of(run_id), _quiet_pyfunc():
        names_path = Path(scratch) / "class_names.json"
        names_path.write_text(json.dumps(list(class_names)))
        # Model.log is what mlflow.pyfunc.log_model calls; it alone takes a run id
        return Model.log(
            None,  # artifact_path: deprecated in favour of name
            name=name,
            flavor=mlflow.pyfunc,
            run_id=run_id,
            python_model=str(CODE_FILE),
            artifacts={WEIGHTS: str(npz_path), ARCHITECTURE: str(Path(npz_path).with_suffix(".json")),
                       CLASS_NAMES: str(names_path)},
            signature=model_signature(n_features),
            input_example=input_example,
            pip_requirements=pip_requirements(),
            metadata={"class_names": list(class_names), "n_features": int(n_features)},
        )


@contextmanager
def _quiet_pyfunc() -> Iterator[None]:
    """Keep MLflow's "Validating input example against model signature" (INFO, every model) off the console."""
    logger = logging.getLogger("mlflow.pyfunc")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _experiment_of(run_id: str | None) -> Iterator[None]:
    """Outside an active run, MLflow files a logged model under the fluent API's experiment
    (``$MLFLOW_EXPERIMENT_ID``, else Default): point it at the experiment of ``run_id`` meanwhile."""
    if run_id is None or mlflow.active_run() is not None:
        yield
        return
    previous = os.environ.get(MLFLOW_EXPERIMENT_ID.name)
    os.environ[MLFLOW_EXPERIMENT_ID.name] = mlflow.MlflowClient().get_run(run_id).info.experiment_id
    try:
        yield
    finally:
        if previous is None:
            del os.environ[MLFLOW_EXPERIMENT_ID.name]
        else:
            os.environ[MLFLOW_EXPERIMENT_ID.name] = previous
