"""A small real sweep, trained once per test session and shared by the predict, serve, figures and
browser tests: ``train.py -m`` with two learning rates on an MNIST subset, tracked in a throwaway
SQLite MLflow store (one parent run, two child runs, each with a pyfunc model, checkpoint and figures:
``tracking.sweep_artifacts=full``, so every child has what only the best one gets by default).
:func:`study_store` adds a 6-trial Optuna sweep to the same store for the browser tests.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
EXPERIMENT = "view-tests"
LEARNING_RATES = ("0.001", "0.003")
SWEEP_TIMEOUT_S = 300


@dataclass(frozen=True)
class SweepStore:
    """Where the sweep lives and what it made."""

    root: Path
    tracking_uri: str
    experiment_id: str
    parent_id: str
    child_ids: tuple[str, ...]

    def env(self) -> dict[str, str]:
        """The environment for a subprocess that should use this store."""
        return {**os.environ, "MLFLOW_TRACKING_URI": self.tracking_uri,
                "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}

    def checkpoint(self, run_id: str) -> Path:
        """The run's ``checkpoint/model`` base path on disk (artifacts sit under the store)."""
        return self.root / "mlruns" / run_id / "artifacts" / "checkpoint" / "model"


def _train_sweep(root: Path) -> None:
    argv = [sys.executable, str(REPO / "train.py"), "-m", "optimizer=adam", f"lr={','.join(LEARNING_RATES)}",
            "epochs=3", "hidden_sizes=[64]", "data.train_size=8000", "data.test_size=1000", "progress=none",
            "tracking.sweep_artifacts=full", f"tracking.experiment_name={EXPERIMENT}",
            f"hydra.sweep.dir={root / 'multirun'}"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
           "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=SWEEP_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"train.py sweep failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


@functools.cache
def sweep_store() -> SweepStore:
    """Train the sweep once per process (removed at exit) and describe it."""
    from mlflow.tracking import MlflowClient

    root = Path(tempfile.mkdtemp(prefix="nnscratch-view-sweep-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    _train_sweep(root)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    children = tuple(r.info.run_id for r in runs if r.data.tags.get("mlflow.parentRunId"))
    parents = {r.data.tags["mlflow.parentRunId"] for r in runs if r.data.tags.get("mlflow.parentRunId")}
    if len(children) != len(LEARNING_RATES) or len(parents) != 1:
        raise RuntimeError(f"expected one parent and {len(LEARNING_RATES)} children, got {len(runs)} runs")
    return SweepStore(root, uri, experiment.experiment_id, parents.pop(), children)


STUDY = "view-study"
STUDY_TRIALS = 6


@dataclass(frozen=True)
class StudyStore:
    """A 6-trial Optuna sweep: its MLflow store, parent run, children, the study's journal and what the
    sweep printed."""

    root: Path
    tracking_uri: str
    experiment_id: str
    parent_id: str
    child_ids: tuple[str, ...]
    journal: Path
    console: str


@functools.cache
def study_store() -> StudyStore:
    """``train.py -m`` with the Optuna sweeper: 6 random trials over lr and batch size (in process),
    tracked in the same store as :func:`sweep_store` (experiment ``view-study``), so one server shows both."""
    from mlflow.tracking import MlflowClient

    base = sweep_store()
    root, uri = base.root / "study", base.tracking_uri
    root.mkdir()
    argv = [sys.executable, str(REPO / "train.py"), "-m", "hydra/sweeper=optuna", "hydra/sweeper/sampler=random",
            "hydra.sweeper.sampler.seed=0", "hydra.sweeper.direction=maximize",
            f"hydra.sweeper.n_trials={STUDY_TRIALS}", f"hydra.sweeper.study_name={STUDY}",
            "lr=tag(log, interval(1e-3, 1e-1))", "batch_size=choice(32, 64)", "optimizer=adam", "epochs=2",
            "hidden_sizes=[64]", "data.train_size=3000", "data.test_size=500", "progress=none",
            "tracking.log_model=false", "tracking.log_checkpoint=false", f"tracking.experiment_name={STUDY}",
            f"hydra.sweep.dir={root / 'multirun'}"]
    done = subprocess.run(argv, cwd=base.root, env=base.env(), capture_output=True, text=True,
                          timeout=2 * SWEEP_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"Optuna sweep failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(STUDY)
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    parent = next(r for r in runs if r.data.tags.get("nnscratch.kind") == "sweep")
    children = tuple(r.info.run_id for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id)
    return StudyStore(root, uri, experiment.experiment_id, parent.info.run_id, children,
                      root / "multirun" / "optuna" / f"{STUDY}.journal", done.stdout + done.stderr)
