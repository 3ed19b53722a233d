"""One MLflow parent run per Hydra multirun; every job of the sweep becomes its child.

Enabled in ``conf/config.yaml`` under ``hydra.callbacks``. :class:`MLflowSweepCallback` opens the
parent run (:class:`~nnscratch.tracking.parent_run.ParentRun`) when the multirun starts and hands
its id to the jobs through the environment variable :data:`PARENT_RUN_ENV` (inherited by launcher
subprocesses) and the file :data:`PARENT_RUN_FILE` in the sweep directory (for launchers that run
jobs elsewhere); :func:`parent_run_id` is what a job calls to find it. When the multirun ends the
parent is closed FINISHED with a summary (child runs per status, the best child by
``optimized_metric``), after the best child got the full artifact set (figures and pyfunc model,
:mod:`~nnscratch.tracking.completion`). If the process exits before that (a job raised, Ctrl-C), an ``atexit`` hook
closes it KILLED if a child was killed, else FAILED.

This module imports mlflow only when a multirun starts, so single runs that fail validation do not
pay for it.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

log = logging.getLogger(__name__)

PARENT_RUN_ENV = "NNSCRATCH_MLFLOW_PARENT_RUN_ID"
PARENT_RUN_FILE = "mlflow_parent_run.json"


def _multirun_config() -> Any:
    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    return hydra_cfg if hydra_cfg.mode == RunMode.MULTIRUN else None


def _marker(hydra_cfg: Any) -> dict[str, Any]:
    path = Path(hydra_cfg.sweep.dir) / PARENT_RUN_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def parent_run_id() -> str | None:
    """The parent run of the current Hydra multirun job, or None (single runs, tracking disabled)."""
    hydra_cfg = _multirun_config()
    if hydra_cfg is None:
        return None
    # the sweep directory's file first: a worker process may outlive the sweep that started it
    return _marker(hydra_cfg).get("run_id") or os.environ.get(PARENT_RUN_ENV)


def swept_overrides() -> list[str]:
    """This job's overrides for keys the sweep varies (``lr=0.01`` of ``lr=0.1,0.01``).

    Keys swept on the command line and keys the sweeper adds itself (e.g. Optuna's samples) count;
    keys fixed on the command line do not. Names child runs by what varies. Empty outside multiruns.
    """
    hydra_cfg = _multirun_config()
    if hydra_cfg is None:
        return []
    parser = OverridesParser.create()
    sweep = {o.get_key_element(): o for o in parser.parse_overrides(_marker(hydra_cfg).get("overrides", []))}
    job = list(hydra_cfg.overrides.task)
    return [text for text, override in zip(job, parser.parse_overrides(job))
            if override.get_key_element() not in sweep or sweep[override.get_key_element()].is_sweep_override()]


class MLflowSweepCallback(Callback):
    """Hydra callback: open the sweep's MLflow parent run, close it with a summary."""

    def __init__(self) -> None:
        self.parent: Any = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not config.tracking.enabled:
            return
        from nnscratch.tracking.parent_run import ParentRun

        self.parent = ParentRun.open(config)
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / PARENT_RUN_FILE).write_text(json.dumps(
            {"run_id": self.parent.run_id, "experiment_id": self.parent.experiment_id,
             "tracking_uri": self.parent.tracking_uri, "overrides": list(config.hydra.overrides.task)}))
        os.environ[PARENT_RUN_ENV] = self.parent.run_id
        atexit.register(self._close_abandoned)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.parent is not None:
            from nnscratch.sweeper.worker_imports import preloaded_processes
            from nnscratch.tracking.completion import complete_best_child

            # children record the light artifact set; the best one gets the figures and model too
            complete_best_child(self.parent.client, self.parent.experiment_id, self.parent.run_id,
                                self.parent.optimized_metric, processes=preloaded_processes(config))
            self._close("FINISHED")

    def _close_abandoned(self) -> None:
        """atexit: the multirun did not reach its end; close the parent if it is still open."""
        if self.parent is None:
            return
        try:
            self._close(None)
        except Exception:  # the interpreter is exiting; never mask the original error
            log.exception("could not close the MLflow parent run %s", self.parent.run_id)

    def _close(self, status: str | None) -> None:
        parent, self.parent = self.parent, None
        atexit.unregister(self._close_abandoned)
        if os.environ.get(PARENT_RUN_ENV) == parent.run_id:
            del os.environ[PARENT_RUN_ENV]
        parent.close(status)
