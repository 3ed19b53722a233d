"""The MLflow store: safe first creation by several processes at once, and a fast, clear check before training."""
from __future__ import annotations

import multiprocessing

import pytest

from tests.mounts import tmpfs


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


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def read_only_dir():
    """A read-only file system (even root cannot write there)."""
    with tmpfs("ro,size=1m") as target:
        yield target


def test_store_check_names_the_store_and_the_fix(tmp_path, read_only_dir):
    from nnscratch.tracking.store import StoreUnavailableError, check_store

    port = _closed_port()
    cases = {
        f"sqlite:///{tmp_path / 'missing' / 'mlflow.db'}": f"directory {tmp_path / 'missing'} does not exist",
        f"sqlite:///{read_only_dir / 'mlflow.db'}": f"cannot write {read_only_dir} (Read-only file system)",
        f"http://127.0.0.1:{port}": f"MLflow tracking server http://127.0.0.1:{port} is unreachable",
        f"postgresql+psycopg://user:secret@127.0.0.1:{port}/db": "user:***@127.0.0.1",
    }
    for uri, message in cases.items():
        with pytest.raises(StoreUnavailableError, match="tracking.tracking_uri") as raised:
            check_store(uri, timeout=2)
        text = str(raised.value)
        assert message in text and "\n" not in text and "secret" not in text, text
    check_store(f"sqlite:///{tmp_path / 'mlflow.db'}")  # a writable directory passes
    check_store(str(tmp_path / "mlruns"))


def test_unreachable_store_fails_in_seconds_before_training(mnist, monkeypatch, tmp_path):
    import nnscratch as nn
    from nnscratch.tracking.store import StoreUnavailableError
    from tests.test_config import make

    import train

    monkeypatch.setattr(nn, "fit", lambda *a, **k: pytest.fail("training started"))
    cfg = make("epochs=1", "data.train_size=600", "data.test_size=300", "progress=none",
               f"tracking.tracking_uri=http://127.0.0.1:{_closed_port()}")
    # MLflow's own client retried for 251 s: the check must answer before MLflow sends any request
    monkeypatch.setattr("mlflow.utils.rest_utils.http_request",
                        lambda *a, **k: pytest.fail("MLflow's retrying client was used"))
    with pytest.raises(StoreUnavailableError, match="is unreachable"):
        train.run(cfg)
