"""The MLflow store: safe first creation by several processes at once, and a fast, clear check before training."""
from __future__ import annotations

import multiprocessing

import pytest


def _first_run(uri: str, barrier, results) -> None:
    try:
        import mlflow

        from nnscratch.tracking.store import get_or_create_experiment, use_store

        barrier.wait(timeout=120)  # every process opens the fresh store at the same moment
        client = use_store(uri)
        experiment_id = get_or_create_experiment(client, "race")
        with mlflow.start_run(experiment_id=experiment_id):
            mlflow.log_param("ok", 1)
        results.put("ok")
    except BaseException as exc:  # reported to the test, not lost in a child's stderr
        results.put(f"{type(exc).__name__}: {exc}")


def test_several_first_runs_on_a_fresh_sqlite_store_all_succeed(tmp_path):
    n = 4
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(n), context.Queue()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    processes = [context.Process(target=_first_run, args=(uri, barrier, results)) for _ in range(n)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
    outcomes = [results.get(timeout=5) for _ in processes]
    assert outcomes == ["ok"] * n, outcomes

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("race")
    assert len(client.search_runs([experiment.experiment_id])) == n
