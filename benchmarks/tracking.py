"""Item 5: tracking overhead, a 5-epoch ``train.py`` run with full MLflow logging vs tracking off.

Both runs are whole ``python train.py`` processes on the default config (784-128-64-10, SGD,
batch 32, MNIST): ``tracking=mlflow`` (metrics, params, figures, checkpoint, model, into a fresh
SQLite store) against ``tracking=none``. Overhead = tracked / untracked wall time - 1.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, ItemResult, Row, Settings

EPOCHS = 5


def available() -> bool:
    return (REPO / "train.py").exists() and (REPO / "conf" / "tracking" / "none.yaml").exists()


def train_run(workdir: Path, tracking: str, epochs: int, index: int) -> float:
    run_dir = workdir / f"{tracking}-{index}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    command = [sys.executable, str(REPO / "train.py"), f"epochs={epochs}", f"tracking={tracking}",
               "progress=none", f"hydra.run.dir={run_dir / 'hydra'}"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{run_dir / 'mlflow.db'}",
           "NNSCRATCH_NO_BOOTSTRAP": "1"}
    start = time.perf_counter()
    subprocess.run(command, cwd=run_dir, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def run(settings: Settings, context: dict[str, Any]) -> ItemResult:
    if not available():
        return ItemResult([Row("5 tracking", "train.py with tracking on vs off", note="skipped: train.py/conf not found")],
                          {"skipped": "train.py or conf/tracking/none.yaml missing"})
    epochs = 1 if settings.quick else EPOCHS
    workdir = settings.workdir / "tracking"
    seconds: dict[str, list[float]] = {"mlflow": [], "none": []}
    for index in range(settings.repeats):  # interleaved
        for tracking in seconds:
            seconds[tracking].append(train_run(workdir, tracking, epochs, index))
    median = {k: statistics.median(v) for k, v in seconds.items()}
    overhead = median["mlflow"] / median["none"] - 1
    details = {"epochs": epochs, "seconds": seconds, "median_seconds": median, "overhead": overhead}
    rows = [Row("5 tracking", f"train.py, {epochs} epochs, default config: wall time, s",
                nnscratch=f"{median['mlflow']:.1f} (MLflow)", other=f"{median['none']:.1f} (tracking off)",
                ratio=f"{100 * overhead:+.1f}% overhead", note="whole processes, incl. start-up and logging")]
    return ItemResult(rows, details)
