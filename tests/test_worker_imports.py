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


def _share(launcher_class: str, loky_method: str | None = None, tracking: bool = True) -> list[str]:
    """Run share_worker_imports in a fresh interpreter (it sets process-wide state); its result, loky's start
    method and the forkserver's preload list."""
    code = f"""
import multiprocessing
from multiprocessing import forkserver
from joblib.externals.loky.backend import context
from nnscratch.sweeper.worker_imports import share_worker_imports
if {loky_method!r}:
    context.set_start_method({loky_method!r})
launcher = type({launcher_class!r}, (), {{}})()
print(share_worker_imports(launcher, tracking={tracking}))
print(context.get_start_method())
print(",".join(forkserver._forkserver._preload_modules))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return done.stdout.splitlines()


def test_tracked_jobs_get_mlflow_and_its_store_preloaded():
    shared, method, preload = _share("JoblibLauncher")
    assert (shared, method) == ("True", "forkserver")
    assert {"numpy", "nnscratch.training", "nnscratch.tracking.tracker",
            "mlflow.store.tracking.sqlalchemy_store"} <= set(preload.split(","))
    assert preload.split(",")[-1] == "nnscratch.sweeper.frozen_heap"  # freezes what the others imported
    assert "mlflow.store.tracking.sqlalchemy_store" not in _share("JoblibLauncher", tracking=False)[2]


def test_other_launchers_and_a_start_method_the_user_chose_are_left_alone():
    assert _share("BasicLauncher")[:2] == ["False", "None"]
    assert _share("JoblibLauncher", loky_method="spawn")[:2] == ["False", "spawn"]
