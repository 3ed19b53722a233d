"""Item 5: tracking overhead, a 5-epoch ``train.py`` run with full MLflow logging vs tracking off.

Both runs are whole ``python train.py`` processes on the default config (784-128-64-10, SGD,
batch 32, MNIST): ``tracking=mlflow`` (metrics, params, figures, checkpoint, model) against
``tracking=none``. Overhead = tracked / untracked wall time - 1.

The tracked runs write into one SQLite store created beforehand, as a user's second and later
runs do; creating a new store (MLflow's schema migrations) is timed on its own. Each tracked run
tags how long its MLflow calls took (``tracking.seconds``) and, of that, how long its per-epoch
metric logging took (``tracking.metrics_seconds``), which splits the overhead into a part that
grows with training time and a fixed part (start-up imports, figures, model packaging).
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


def _environment(store: Path) -> dict[str, str]:
    return {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}", "NNSCRATCH_NO_BOOTSTRAP": "1"}


def create_store(store: Path) -> float:
    """Seconds to create an empty SQLite tracking store in a fresh process (import included)."""
    code = "import mlflow; mlflow.MlflowClient().search_experiments()"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=_environment(store), check=True, capture_output=True)
    return time.perf_counter() - start


def train_run(workdir: Path, store: Path, tracking: str, epochs: int, index: int) -> float:
    run_dir = workdir / f"{tracking}-{index}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    command = [sys.executable, str(REPO / "train.py"), f"epochs={epochs}", f"tracking={tracking}",
               "progress=none", f"hydra.run.dir={run_dir / 'hydra'}"]
    start = time.perf_counter()
    subprocess.run(command, cwd=run_dir, env=_environment(store), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def tracked_costs(store: Path) -> list[dict[str, float]]:
    """Per tracked run: training seconds (sum of epoch times), MLflow seconds, metric-logging seconds."""
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{store}")
    costs = []
    for run in client.search_runs([e.experiment_id for e in client.search_experiments()]):
        history = client.get_metric_history(run.info.run_id, "epoch_time")
        costs.append({"training_s": sum(m.value for m in history),
                      "tracking_s": float(run.data.tags["tracking.seconds"]),
                      "metrics_s": float(run.data.tags["tracking.metrics_seconds"])})
    return costs


def run(settings: Settings, context: dict[str, Any]) -> ItemResult:
    if not available():
        return ItemResult([Row("5 tracking", "train.py with tracking on vs off", note="skipped: train.py/conf not found")],
                          {"skipped": "train.py or conf/tracking/none.yaml missing"})
    epochs = 1 if settings.quick else EPOCHS
    workdir = settings.workdir / "tracking"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    store = workdir / "mlflow.db"
    store_creation = create_store(store)
    seconds: dict[str, list[float]] = {"mlflow": [], "none": []}
    for index in range(settings.repeats):  # interleaved
        for tracking in seconds:
            seconds[tracking].append(train_run(workdir, store, tracking, epochs, index))
    median = {k: statistics.median(v) for k, v in seconds.items()}
    overhead = median["mlflow"] / median["none"] - 1
    costs = tracked_costs(store)
    training = statistics.median(c["training_s"] for c in costs)
    metrics_share = statistics.median(c["metrics_s"] / c["training_s"] for c in costs)
    in_run_fixed = statistics.median(c["tracking_s"] - c["metrics_s"] for c in costs)
    fixed = median["mlflow"] - median["none"] - statistics.median(c["metrics_s"] for c in costs)
    details = {"epochs": epochs, "seconds": seconds, "median_seconds": median, "overhead": overhead,
               "store_creation_s": store_creation, "tracked_runs": costs, "training_s": training,
               "metrics_logging_share": metrics_share, "fixed_s": fixed, "fixed_in_run_s": in_run_fixed,
               # how long a run must train before the whole overhead falls to 2 %
               "break_even_training_s_for_2pct": fixed / 0.02}
    rows = [
        Row("5 tracking", f"train.py, {epochs} epochs, default config: wall time, s",
            nnscratch=f"{median['mlflow']:.1f} (MLflow)", other=f"{median['none']:.1f} (tracking off)",
            ratio=f"{100 * overhead:+.1f}% overhead", note="whole processes into an existing store"),
        Row("5 tracking", "per-epoch metric logging, % of training time",
            nnscratch=f"{100 * metrics_share:.2f}%", other=f"training {training:.1f} s per run",
            note="grows with training time"),
        Row("5 tracking", "fixed cost per run, s",
            nnscratch=f"{fixed:.1f}", other=f"of it in MLflow calls, figures, model: {in_run_fixed:.1f}; "
                                          f"new store once: {store_creation:.1f}",
            note=f"whole overhead <= 2% for runs training >= {fixed / 0.02 / 60:.0f} min"),
    ]
    return ItemResult(rows, details)
