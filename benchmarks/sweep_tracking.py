"""Item 8: what tracking costs a sweep, and our tracked sweep against PyTorch + Optuna + MLflowCallback.

Whole ``python train.py`` processes, tracked (``tracking=mlflow``, the default) against
``tracking=none``, alternated within each repeat; wall time and CPU time (the whole process tree:
workers and a joblib forkserver included, :func:`adopt_orphans`). Tracked runs write into one SQLite store created
beforehand (a user's second and later sweeps). Cases:

* ``small``: the 4-trial sweep of issue #16, ``+sweep=random_3layer hydra.sweeper.n_trials=4
  hydra.sweeper.n_jobs=2 epochs=2 data.train_size=6000 data.test_size=2000``;
* ``mnist12``: 12 trials of 2 epochs on full MNIST, 2 slots (item 6's shape: 784-128-64-10, SGD,
  batch 32, lr sampled by TPE);
* ``single``: one default ``python train.py`` (10 epochs on MNIST).

Per-trial tracking cost = (tracked - untracked CPU seconds) / trials. Then the issue's comparison:
``train.py -m +sweep=random_3layer hydra/sweeper/sampler=tpe hydra.sweeper.n_jobs=2`` (16 trials,
3 epochs, full tracking: the best child also gets the figures and the pyfunc model) against
``benchmarks/optuna_torch_sweep.py`` (the same search with a torch MLP, ``study.optimize`` and
Optuna's ``MLflowCallback``), wall time of whole processes and best val accuracy.
"""
from __future__ import annotations

import ctypes
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, ItemResult, Row, Settings

log = logging.getLogger("benchmarks")

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>

SMALL = ["-m", "+sweep=random_3layer", "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2", "epochs=2",
         "data.train_size=6000", "data.test_size=2000"]
MNIST12 = ["-m", "hydra/sweeper=optuna", "hydra/launcher=joblib", "hydra.sweeper.n_trials=12",
           "hydra.sweeper.n_jobs=2", "hydra.sweeper.direction=maximize", "hydra.sweeper.sampler.seed=0",
           "lr=tag(log, interval(0.005, 0.3))", "epochs=2"]
VERSUS_TORCH = ["-m", "+sweep=random_3layer", "hydra/sweeper/sampler=tpe", "hydra.sweeper.n_jobs=2"]
TRIALS = {"small": 4, "mnist12": 12, "single": 1}
QUICK = {"small": ["hydra.sweeper.n_trials=2", "epochs=1", "data.train_size=600", "data.test_size=300"],
         "mnist12": ["hydra.sweeper.n_trials=2", "epochs=1", "data.train_size=600", "data.test_size=300"],
         "single": ["epochs=1", "data.train_size=600", "data.test_size=300"],
         "versus": ["hydra.sweeper.n_trials=2", "epochs=1", "data.train_size=600", "data.test_size=300"]}


def _environment(store: Path) -> dict[str, str]:
    return {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}", "NNSCRATCH_NO_BOOTSTRAP": "1",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


def adopt_orphans() -> None:
    """Become the reaper of this process's orphaned descendants (Linux): a joblib sweep's forkserver
    outlives the sweep by a moment and its parent never waits for it, so its CPU time (and its
    workers') reaches ``RUSAGE_CHILDREN`` only when this process reaps it."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        log.warning("cannot adopt orphaned processes here: CPU times leave out a forkserver's workers")


def reap_descendants(timeout: float = 30.0) -> None:
    """Wait (at most ``timeout`` seconds) for every process left over from the last command (a
    forkserver and its workers end once the sweep's process has)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)
    log.warning("processes of the last command still run after %.0f s; their CPU time is left out", timeout)


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (the whole process tree, see :func:`adopt_orphans`) and stdout of ``command``."""
    shutil.rmtree(cwd, ignore_errors=True)
    cwd.mkdir(parents=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    reap_descendants()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def train_command(case: str, tracking: str, quick: bool) -> list[str]:
    args = {"small": SMALL, "mnist12": MNIST12, "single": []}[case]
    return [sys.executable, str(REPO / "train.py"), *args, *(QUICK[case] if quick else []), f"tracking={tracking}",
            "progress=none"]


def create_store(store: Path) -> None:
    code = "import mlflow; mlflow.MlflowClient().search_experiments()"
    subprocess.run([sys.executable, "-c", code], env=_environment(store), check=True, capture_output=True)


def tracking_ratios(settings: Settings, workdir: Path, store: Path) -> dict[str, Any]:
    """Every case, tracked and untracked alternated, ``settings.repeats`` times."""
    env = _environment(store)
    results: dict[str, Any] = {}
    for case in [c for c in TRIALS if not settings.cases or c in settings.cases]:
        samples: dict[str, dict[str, list[float]]] = {t: {"wall": [], "cpu": []} for t in ("mlflow", "none")}
        for index in range(settings.repeats):
            for tracking in samples:
                wall, cpu, _ = timed(train_command(case, tracking, settings.quick), workdir / f"{case}-{tracking}-{index}", env)
                samples[tracking]["wall"].append(wall)
                samples[tracking]["cpu"].append(cpu)
        median = {t: {k: statistics.median(v) for k, v in s.items()} for t, s in samples.items()}
        trials = 2 if settings.quick and case != "single" else TRIALS[case]
        results[case] = {"samples": samples, "median": median, "trials": trials,
                         "wall_ratio": median["mlflow"]["wall"] / median["none"]["wall"],
                         "cpu_ratio": median["mlflow"]["cpu"] / median["none"]["cpu"],
                         "cpu_s_per_trial": (median["mlflow"]["cpu"] - median["none"]["cpu"]) / trials}
        log.info("%s: %s", case, json.dumps(results[case]))
    return results


def best_val(store: Path, experiment: str) -> float:
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{store}")
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], order_by=["start_time DESC"], max_results=1000)
    parent = next(r for r in runs if r.data.tags.get("nnscratch.kind") == "sweep")
    return max(r.data.metrics.get("val/acc", 0.0) for r in runs
               if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id)


def versus_torch(settings: Settings, workdir: Path) -> dict[str, Any]:
    """Our tracked TPE sweep against the PyTorch + optuna.optimize + MLflowCallback script, alternated."""
    quick = settings.quick
    ours = [sys.executable, str(REPO / "train.py"), *VERSUS_TORCH, *(QUICK["versus"] if quick else []), "progress=none"]
    theirs_args = ["--trials", "2", "--epochs", "1", "--train-size", "600"] if quick else []
    samples: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": [], "best_val": []} for n in ("ours", "torch")}
    for index in range(settings.repeats):
        store = workdir / f"versus-{index}.db"
        env = _environment(store)
        create_store(store)
        wall, cpu, _ = timed(ours, workdir / f"ours-{index}", env)
        samples["ours"]["wall"].append(wall)
        samples["ours"]["cpu"].append(cpu)
        samples["ours"]["best_val"].append(best_val(store, "sweep_random_3layer"))
        theirs = [sys.executable, str(REPO / "benchmarks" / "optuna_torch_sweep.py"), *theirs_args,
                  "--tracking-uri", f"sqlite:///{workdir / f'torch-{index}.db'}"]
        create_store(workdir / f"torch-{index}.db")
        wall, cpu, out = timed(theirs, workdir / f"torch-{index}", {**env, "PYTHONPATH": str(REPO)})
        samples["torch"]["wall"].append(wall)
        samples["torch"]["cpu"].append(cpu)
        samples["torch"]["best_val"].append(json.loads(out.strip().splitlines()[-1])["best_val_acc"])
        log.info("versus torch, repeat %d: %s", index, json.dumps(samples))
    median = {n: {k: statistics.median(v) for k, v in s.items()} for n, s in samples.items()}
    return {"samples": samples, "median": median, "wall_ratio": median["ours"]["wall"] / median["torch"]["wall"],
            "best_val_gap_points": 100 * (median["torch"]["best_val"] - median["ours"]["best_val"])}


def torch_available() -> bool:
    try:
        import optuna_integration  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def run(settings: Settings, context: dict[str, Any]) -> ItemResult:
    adopt_orphans()
    workdir = settings.workdir / "sweep_tracking"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    store = workdir / "mlflow.db"
    create_store(store)
    details: dict[str, Any] = {"cases": tracking_ratios(settings, workdir, store)}
    labels = {"small": "4-trial sweep (6000 images, 2 epochs, 2 slots)", "mnist12": "12-trial sweep, full MNIST, 2 epochs, 2 slots",
              "single": "one default train.py run (10 epochs)"}
    limits = {"small": "<= 1.15x", "mnist12": "<= 1.10x", "single": "<= 1.25x"}
    rows = []
    for case, result in details["cases"].items():
        m = result["median"]
        rows.append(Row("8 sweep tracking", f"{labels[case]}: wall s / CPU s",
                        nnscratch=f"{m['mlflow']['wall']:.1f} / {m['mlflow']['cpu']:.1f} (tracked)",
                        other=f"{m['none']['wall']:.1f} / {m['none']['cpu']:.1f} (tracking=none)",
                        ratio=f"{result['wall_ratio']:.2f}x / {result['cpu_ratio']:.2f}x",
                        note=f"target {limits[case]}; tracking {result['cpu_s_per_trial']:.2f} CPU-s per "
                             f"{'run' if case == 'single' else 'trial'}"))
    if settings.cases and "versus" not in settings.cases:
        return ItemResult(rows, details)
    if settings.torch and torch_available():
        versus = details["versus_torch"] = versus_torch(settings, workdir)
        m = versus["median"]
        rows.append(Row("8 sweep tracking", "16-trial TPE sweep, 3 epochs: wall s (best val acc)",
                        nnscratch=f"{m['ours']['wall']:.1f} ({m['ours']['best_val']:.4f})",
                        pytorch=f"{m['torch']['wall']:.1f} ({m['torch']['best_val']:.4f})",
                        ratio=f"{versus['wall_ratio']:.2f}x",
                        note="target <= 0.7x, best val within 0.3 points; theirs: torch MLP + optuna.optimize "
                             "+ optuna-integration MLflowCallback"))
    else:
        rows.append(Row("8 sweep tracking", "vs PyTorch + Optuna MLflowCallback", note="skipped: torch or optuna-integration missing"))
    return ItemResult(rows, details)
