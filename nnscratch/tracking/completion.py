"""The full artifact set for a run that recorded the light one: the sweep's best child, at sweep end.

A sweep child records params, curves, metrics, confusion tables, ``confusion_matrix.png`` and its
checkpoint (tag ``nnscratch.artifacts=light``). :func:`complete_run` adds the rest
(``learning_curves.png``, the figures under ``figures/`` and the pyfunc model) and tags the run ``full``; :func:`complete_best_child` does it for the best child of a sweep's parent run.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any

from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from nnscratch.tracking.tracker import ARTIFACTS_TAG

log = logging.getLogger(__name__)


def complete_run(run_id: str, tracking_uri: str, *, processes: BaseContext | None = None) -> None:
    """Draw the figures run ``run_id`` lacks and log its pyfunc model; tag it ``nnscratch.artifacts=full``.

    With ``processes`` (a multiprocessing context whose processes start with MLflow imported: the
    sweep's preloaded forkserver) the model is packaged in one of its processes while this one draws
    the figures, on the core the sweep's last trials freed.
    """
    from nnscratch.figures.from_run import regenerate, run_dataset

    start = time.perf_counter()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep the console to our lines
    client = MlflowClient(tracking_uri=tracking_uri)
    dataset = run_dataset(client.get_run(run_id).data.params)
    example = None if dataset is None else dataset.X_test[:2]
    if processes is None:
        drawn = regenerate(run_id, tracking_uri, missing_only=True, dataset=dataset)
        model = log_model(run_id, tracking_uri, example)
    else:
        with ProcessPoolExecutor(max_workers=1, mp_context=processes) as pool:
            packaging = pool.submit(log_model, run_id, tracking_uri, example)
            drawn = regenerate(run_id, tracking_uri, missing_only=True, dataset=dataset)
            model = packaging.result()
    client.set_tag(run_id, ARTIFACTS_TAG, "full")
    log.info("run %s: full artifact set (figures %s; pyfunc model %s) in %.1f s", run_id,
             ", ".join(drawn) or "none missing", model, time.perf_counter() - start)


def log_model(run_id: str, tracking_uri: str, input_example: Any) -> str:
    """:func:`~nnscratch.tracking.model.log_run_model`, also in a process of its own; returns ``models:/<id>``."""
    from nnscratch.tracking.model import log_run_model

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return log_run_model(run_id, tracking_uri, input_example=input_example)


def best_child(client: MlflowClient, experiment_id: str, parent_run_id: str, metric: str) -> Any:
    """The FINISHED, unpruned child of ``parent_run_id`` with the best ``metric`` (``*loss`` minimized), or None."""
    order = "ASC" if metric.endswith("loss") else "DESC"
    children = client.search_runs(
        [experiment_id], max_results=20, order_by=[f"metrics.`{metric}` {order}"],
        filter_string=f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent_run_id}' and attributes.status = 'FINISHED'")
    scored = [c for c in children if metric in c.data.metrics and c.data.tags.get("trial_state") != "PRUNED"]
    return scored[0] if scored else None


def complete_best_child(client: MlflowClient, experiment_id: str, parent_run_id: str, metric: str, *,
                        processes: BaseContext | None = None) -> str | None:
    """Give the sweep's best child the full artifact set (if it lacks it; ``processes`` as in
    :func:`complete_run`); returns its run id.

    Never raises: a figure or model that cannot be made must not lose the sweep's summary.
    """
    try:
        best = best_child(client, experiment_id, parent_run_id, metric)
        if best is None:
            return None
        if best.data.tags.get(ARTIFACTS_TAG) != "full":
            complete_run(best.info.run_id, client.tracking_uri, processes=processes)
        return best.info.run_id
    except Exception as error:  # noqa: BLE001
        log.warning("could not give the best child of %s its full artifact set: %s", parent_run_id, error)
        return None
