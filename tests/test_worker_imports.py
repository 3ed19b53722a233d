"""Joblib workers fork from one server process that imported what the jobs need (MLflow included)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from sweeper_app.harness import events, run, sweep_args  # noqa: E402


def test_joblib_jobs_fork_from_the_preloaded_server(tmp_path):
    directory = tmp_path / "sweep"
    args = sweep_args(directory, "fork", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2",
                      "hydra.sweeper.n_trials=3")
    assert run(args, cwd=tmp_path, log=tmp_path / "sweep.log") == 0, (tmp_path / "sweep.log").read_text()[-3000:]
    started = events(directory, "fork")
    assert len(started) == 3
    assert all("multiprocessing.forkserver" in e["parent"] for e in started), [e["parent"] for e in started]


JOBLIB = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
BASIC = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


def _share(launcher_target: str, loky_method: str | None = None, tracking: bool = True) -> list[str]:
    """Run share_worker_imports in a fresh interpreter (it sets process-wide state); its result, loky's start
    method, the forkserver's preload list and the start method of preloaded_processes (None: none)."""
    code = f"""
import multiprocessing
from multiprocessing import forkserver
from joblib.externals.loky.backend import context
from omegaconf import OmegaConf
from nnscratch.sweeper.worker_imports import preloaded_processes, share_worker_imports
if {loky_method!r}:
    context.set_start_method({loky_method!r})
print(share_worker_imports({launcher_target!r}, tracking={tracking}))
print(context.get_start_method())
print(",".join(forkserver._forkserver._preload_modules))
processes = preloaded_processes(OmegaConf.create({{"hydra": {{"launcher": {{"_target_": {launcher_target!r}}}}}}}))
print(processes and processes.get_start_method())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return done.stdout.splitlines()


def test_tracked_jobs_get_mlflow_and_its_store_preloaded():
    shared, method, preload, processes = _share(JOBLIB)
    assert (shared, method, processes) == ("True", "forkserver", "forkserver")
    assert {"numpy", "nnscratch.training", "nnscratch.tracking.tracker",
            "mlflow.store.tracking.sqlalchemy_store"} <= set(preload.split(","))
    assert preload.split(",")[-1] == "nnscratch.sweeper.frozen_heap"  # freezes what the others imported
    assert "mlflow.store.tracking.sqlalchemy_store" not in _share(JOBLIB, tracking=False)[2]


def test_other_launchers_and_a_start_method_the_user_chose_are_left_alone():
    shared, method, _, processes = _share(BASIC)
    assert (shared, method, processes) == ("False", "None", "None")
    shared, method, _, processes = _share(JOBLIB, loky_method="spawn")
    assert (shared, method, processes) == ("False", "spawn", "None")
