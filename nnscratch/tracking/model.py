"""``python -m nnscratch.tracking.model RUN_ID [--tracking-uri URI]``: give a run its pyfunc model.

A sweep child records its checkpoint (``checkpoint/model.{npz,json}``) but no MLflow pyfunc model
(the sweep's best child gets one when the sweep ends). This builds the model from the checkpoint and
logs it to the run, exactly as a single ``train.py`` run logs it, so that ``mlflow models serve -m
models:/<model_id>``, ``mlflow.pyfunc.load_model`` and ``python -m nnscratch.serve`` work for any
child. A run that has a model already is left as it is.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def logged_model_id(client: Any, run_id: str) -> str | None:
    """The id of the pyfunc model run ``run_id`` logged (MLflow 3 logged model), or None."""
    from nnscratch.tracking.pyfunc import MODEL_NAME

    run = client.get_run(run_id)
    models = client.search_logged_models(experiment_ids=[run.info.experiment_id],
                                         filter_string=f"source_run_id = '{run_id}'")
    return next((m.model_id for m in models if m.name == MODEL_NAME), None)


def log_run_model(run_id: str, tracking_uri: str, *, input_example: np.ndarray | None = None) -> str:
    """Log run ``run_id``'s checkpoint as its pyfunc model (unless it has one); returns ``models:/<id>``.

    Parameters
    ----------
    input_example : ndarray, optional
        A few rows of pixels stored with the model as its request format (default: one blank row).

    Raises
    ------
    nnscratch.model_uri.ModelNotFoundError
        The run has no checkpoint.
    """
    import nnscratch
    from nnscratch.model_uri import ModelNotFoundError
    from nnscratch.tracking.artifacts import CHECKPOINT_DIR, CHECKPOINT_NAME
    from nnscratch.tracking.pyfunc import log_pyfunc_model
    from nnscratch.tracking.store import use_store

    client = use_store(tracking_uri)  # MLflow's model logging resolves the store from the fluent API
    existing = logged_model_id(client, run_id)
    if existing is not None:
        log.info("run %s has its model already: models:/%s", run_id, existing)
        return f"models:/{existing}"
    with tempfile.TemporaryDirectory(prefix="nnscratch-model-") as tmp:
        local = Path(client.download_artifacts(run_id, CHECKPOINT_DIR, tmp))
        npz = local / f"{CHECKPOINT_NAME}.npz"
        if not npz.is_file():
            raise ModelNotFoundError(f"run {run_id} has no {CHECKPOINT_DIR}/{CHECKPOINT_NAME}.npz")
        model = nnscratch.load(local / CHECKPOINT_NAME)
        names_file = local / "class_names.json"
        names = json.loads(names_file.read_text()) if names_file.is_file() else [str(i) for i in range(model.n_classes)]
        n_features = model.layer_sizes[0]
        example = input_example if input_example is not None else np.zeros((1, n_features), dtype=np.float32)
        info = log_pyfunc_model(npz, names, n_features, input_example=example, run_id=run_id)
    log.info("logged the pyfunc model of run %s: models:/%s", run_id, info.model_id)
    return f"models:/{info.model_id}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnscratch.tracking.model",
                                     description="Log a run's checkpoint as its MLflow pyfunc model.")
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("--tracking-uri", help="MLflow store (default $MLFLOW_TRACKING_URI or ./mlflow.db)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow.exceptions import MlflowException

    from nnscratch.model_uri import ModelNotFoundError, default_tracking_uri

    try:
        print(log_run_model(args.run_id, args.tracking_uri or default_tracking_uri()))
    except MlflowException as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except ModelNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
