"""What MLflow holds about one training run, read back: config, overrides, tags, metrics, weights."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from nnscratch.tracking.artifacts import CHECKPOINT_DIR, CHECKPOINT_NAME

CONFIG_ARTIFACT = "config/config.yaml"
OVERRIDES_ARTIFACT = "config/overrides.yaml"


class RecordError(LookupError):
    """The run does not exist or lacks what a rerun needs (its config artifact)."""


@dataclass(frozen=True)
class RunRecord:
    """One MLflow run as a rerun reads it.

    Attributes
    ----------
    config : dict
        ``config/config.yaml``: the resolved config the run trained with (``hydra`` node excluded).
    overrides : list of str
        ``config/overrides.yaml``: the command-line overrides (a sweep child's swept values among them).
    """

    run_id: str
    run_name: str
    experiment_id: str
    tags: dict[str, str]
    metrics: dict[str, float]
    config: dict[str, Any]
    overrides: list[str]

    @classmethod
    def load(cls, client: MlflowClient, run_id: str) -> RunRecord:
        """Read run ``run_id``; :class:`RecordError` if it is missing or has no config artifact."""
        try:
            run = client.get_run(run_id)
        except MlflowException as error:
            raise RecordError(f"no MLflow run {run_id!r} in {client.tracking_uri}: {error.message}") from None
        config = _load_yaml(client, run_id, CONFIG_ARTIFACT)
        if not isinstance(config, dict):
            raise RecordError(f"run {run_id} has no {CONFIG_ARTIFACT} artifact: it was not made by train.py "
                              "with tracking on, so its config cannot be rebuilt")
        overrides = _load_yaml(client, run_id, OVERRIDES_ARTIFACT) or []
        return cls(run_id=run_id, run_name=run.info.run_name or run_id, experiment_id=run.info.experiment_id,
                   tags=dict(run.data.tags), metrics=dict(run.data.metrics), config=config,
                   overrides=[str(o) for o in overrides])


def _load_yaml(client: MlflowClient, run_id: str, artifact: str) -> Any:
    with tempfile.TemporaryDirectory(prefix="nnscratch-record-") as scratch:
        try:
            path = client.download_artifacts(run_id, artifact, scratch)
        except (MlflowException, OSError):
            return None
        return yaml.safe_load(Path(path).read_text())


def load_weights(client: MlflowClient, run_id: str) -> dict[str, np.ndarray] | None:
    """The arrays of the run's ``checkpoint/model.npz`` (None when the run logged no checkpoint)."""
    with tempfile.TemporaryDirectory(prefix="nnscratch-record-") as scratch:
        try:
            path = client.download_artifacts(run_id, f"{CHECKPOINT_DIR}/{CHECKPOINT_NAME}.npz", scratch)
        except (MlflowException, OSError):
            return None
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
