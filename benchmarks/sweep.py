"""Item 6: sweep throughput, 8 trials of 784-128-64-10: 2 workers x 1 BLAS thread vs 1 worker x 2.

Mode ``optuna`` (used when the sweeper plugin and ``train.py`` are present) runs the product's own
sweep: ``python train.py -m hydra/sweeper=optuna hydra/launcher=joblib`` with ``n_jobs`` workers and
``blas_threads`` per job, tracking off, learning rate sampled by TPE, into a fresh sweep directory.
Mode ``plain`` runs each trial as a ``python -m nnscratch train`` process (what a worker does minus
Hydra/Optuna), thread counts set with ``OPENBLAS_NUM_THREADS``. Throughput is trials per minute of
wall time for the 8 trials, start-up included.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, SMALL_NET, ItemResult, Row, Settings

TRIALS = 8
LEARNING_RATES = [0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01, 0.005]
CONFIGS = {"2 workers x 1 thread": (2, 1), "1 worker x 2 threads": (1, 2)}


def optuna_available() -> bool:
    return (REPO / "train.py").exists() and (REPO / "hydra_plugins" / "nnscratch_optuna_sweeper").is_dir()


def optuna_sweep(workers: int, threads: int, epochs: int, workdir: Path) -> float:
    """Wall seconds of one ``train.py -m`` Optuna sweep of ``TRIALS`` trials."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    command = [sys.executable, str(REPO / "train.py"), "-m", "hydra/sweeper=optuna", "hydra/launcher=joblib",
               f"hydra.sweeper.n_trials={TRIALS}", f"hydra.sweeper.n_jobs={workers}",
               f"hydra.sweeper.blas_threads={threads}", "hydra.sweeper.direction=maximize",
               "hydra.sweeper.sampler.seed=0", "lr=tag(log, interval(0.005, 0.3))", f"epochs={epochs}",
               "tracking=none", "progress=none", f"hydra.sweep.dir={workdir / 'multirun'}"]
    env = {**os.environ, "NNSCRATCH_NO_BOOTSTRAP": "1", "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}"}
    start = time.perf_counter()
    subprocess.run(command, cwd=workdir, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def plain_sweep(workers: int, threads: int, epochs: int, hidden: list[int]) -> float:
    """Wall seconds for ``TRIALS`` ``python -m nnscratch train`` processes, ``workers`` at a time."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}

    def trial(lr: float) -> None:
        command = [sys.executable, "-m", "nnscratch", "train", "--dataset", "mnist", "--epochs", str(epochs),
                   "--hidden-sizes", *map(str, hidden), "--lr", str(lr), "--batch-size", "32", "--seed", "0"]
        subprocess.run(command, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(trial, LEARNING_RATES[:TRIALS]))
    return time.perf_counter() - start


def run(settings: Settings, context: dict[str, Any]) -> ItemResult:
    epochs = 1 if settings.quick else 2
    mode = "optuna" if optuna_available() else "plain"
    seconds: dict[str, list[float]] = {name: [] for name in CONFIGS}
    for repeat in range(settings.repeats):  # interleaved
        for name, (workers, threads) in CONFIGS.items():
            if mode == "optuna":
                seconds[name].append(optuna_sweep(workers, threads, epochs, settings.workdir / "sweep" / f"{workers}x{threads}"))
            else:
                seconds[name].append(plain_sweep(workers, threads, epochs, SMALL_NET[1:-1]))
    median = {name: statistics.median(v) for name, v in seconds.items()}
    per_minute = {name: 60 * TRIALS / s for name, s in median.items()}
    two, one = per_minute["2 workers x 1 thread"], per_minute["1 worker x 2 threads"]
    details = {"mode": mode, "trials": TRIALS, "epochs_per_trial": epochs, "seconds": seconds,
               "median_seconds": median, "trials_per_minute": per_minute, "speedup_2_workers": two / one}
    how = ("train.py -m hydra/sweeper=optuna hydra/launcher=joblib, tracking off" if mode == "optuna"
           else "plain processes (python -m nnscratch train); the Optuna sweeper was not found")
    rows = [Row("6 sweep", f"{TRIALS} trials x {epochs} epoch(s), {'-'.join(map(str, SMALL_NET))} SGD batch 32: trials/min",
                nnscratch=f"{two:.1f} (2 workers x 1 thread)", other=f"{one:.1f} (1 worker x 2 threads)",
                ratio=f"{two / one:.2f}x", note=how)]
    return ItemResult(rows, details)
