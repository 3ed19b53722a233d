"""Close the MLflow run of a trial whose job died before it could close the run itself.

The job records its run in the trial's user attributes (``mlflow_run_id``, ``mlflow_tracking_uri``;
see :func:`nnscratch.sweeper.job.record_run_id`). MLflow is imported here only when such a run must be
closed, so the sweeper does not depend on MLflow otherwise.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

RUN_ID_ATTR = "mlflow_run_id"
TRACKING_URI_ATTR = "mlflow_tracking_uri"
EXPERIMENT_ID_ATTR = "mlflow_experiment_id"


def end_orphan_run(user_attrs: Mapping[str, Any], status: str, reason: str) -> bool:
    """Terminate the trial's MLflow run with ``status`` (``KILLED``/``FAILED``) if it is still RUNNING.

    Returns
    -------
    bool
        Whether a run was terminated. Errors (MLflow missing, server down) are logged, not raised.
    """
    run_id = user_attrs.get(RUN_ID_ATTR)
    if not run_id:
        return False
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=user_attrs.get(TRACKING_URI_ATTR))
        if client.get_run(run_id).info.status != "RUNNING":
            return False
        client.set_tag(run_id, "nnscratch.end_reason", reason)
        client.set_terminated(run_id, status=status)
    except Exception as error:  # noqa: BLE001 - best effort; the sweep must go on
        log.warning("could not end MLflow run %s as %s: %s", run_id, status, error)
        return False
    log.info("MLflow run %s of a dead job ended as %s (%s)", run_id, status, reason)
    return True
