"""The standard multi-machine deployment, end to end, on 127.0.0.1.

Optuna on PostgreSQL, an MLflow tracking server with a PostgreSQL backend store and its artifacts in
an S3-compatible store (moto's server), the data set read from that store too, and two train.py
workers started at the same instant: exactly ``n_trials``, one parent run, every child under it,
artifacts read back from S3 through the server, and the study report on PostgreSQL.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from optuna.trial import TrialState

from nnscratch.sweeper.space import encode_value

sys.path.insert(0, str(Path(__file__).parent))
from shared_stores import mlflow_server, moto_s3, s3_env  # noqa: E402
from sweeper_app.harness import load  # noqa: E402
from test_data_s3 import upload_fashion_mnist  # noqa: E402
from test_sweeper_parallel import postgres_storage, postgres_url  # noqa: E402,F401 - fixture

pytestmark = pytest.mark.postgres
REPO = Path(__file__).resolve().parent.parent
BUCKET = "team-store"


@pytest.fixture()
def mlflow_database(postgres_storage):  # noqa: F811 - needs the server (fails in CI without it)
    from sqlalchemy import create_engine, text

    name = f"mlflow_{uuid.uuid4().hex[:10]}"
    engine = create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    yield postgres_url().rsplit("/", 1)[0] + f"/{name}"
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    engine.dispose()


@pytest.fixture()
def stores(postgres_storage, mlflow_database, fashion_mnist, tmp_path):  # noqa: F811
    import boto3

    s3 = moto_s3(tmp_path / "moto.log")
    env = s3_env(s3.url)
    client = boto3.client("s3", endpoint_url=s3.url, aws_access_key_id="test", aws_secret_access_key="test",
                          region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    upload_fashion_mnist(client, BUCKET, "datasets/fashion_mnist")
    try:
        mlflow = mlflow_server(mlflow_database, f"s3://{BUCKET}/mlflow", tmp_path / "mlflow.log", env)
    except RuntimeError:
        s3.stop()
        raise
    yield {"study": postgres_storage, "tracking": mlflow.url, "env": env, "s3": client}
    mlflow.stop()
    s3.stop()


def worker(stores, tmp_path: Path, name: str) -> subprocess.Popen:
    args = ["-m", "hydra/sweeper=optuna", "hydra/sweeper/sampler=random", "hydra.sweeper.direction=maximize",
            "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=1", "hydra.sweeper.study_name=shared",
            f"hydra.sweeper.storage={encode_value(stores['study'])}", "lr=interval(0.01,0.1)", "data=fashion_mnist",
            f"data.data_dir=s3://{BUCKET}/datasets", "data.train_size=300", "data.test_size=100", "epochs=1",
            "progress=none", f"tracking.tracking_uri={stores['tracking']}", "tracking.experiment_name=shared",
            "tracking.log_model=false", "tracking.log_figures=false", f"hydra.sweep.dir={tmp_path / name}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNSCRATCH_", "MLFLOW_"))}
    env.update(stores["env"], NNSCRATCH_CACHE_DIR=str(tmp_path / f"cache-{name}"), HYDRA_FULL_ERROR="1")
    return subprocess.Popen([sys.executable, str(REPO / "train.py"), *args], cwd=tmp_path, env=env,
                            stdout=open(tmp_path / f"{name}.log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115


def test_two_workers_on_postgresql_mlflow_server_and_s3(stores, tmp_path):
    from mlflow.tracking import MlflowClient

    workers = [worker(stores, tmp_path, name) for name in ("a", "b")]  # the same instant
    codes = [w.wait(timeout=600) for w in workers]
    logs = "".join((tmp_path / f"{n}.log").read_text()[-2500:] for n in ("a", "b"))
    assert codes == [0, 0], logs
    trials = load(stores["study"], "shared").get_trials()
    assert len(trials) == 4 and all(t.state == TrialState.COMPLETE for t in trials), logs

    client = MlflowClient(tracking_uri=stores["tracking"])
    runs = client.search_runs([client.get_experiment_by_name("shared").experiment_id], max_results=100)
    parents = [r for r in runs if r.data.tags.get("nnscratch.kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("nnscratch.kind") == "train"]
    assert len(parents) == 1 and len(children) == 4, logs
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert load(stores["study"], "shared").user_attrs["mlflow_parent"]["run_id"] == parents[0].info.run_id

    child = children[0].info.run_id
    assert children[0].info.artifact_uri.startswith("mlflow-artifacts:")  # served, not written by the workers
    downloaded = Path(client.download_artifacts(child, "checkpoint", str(tmp_path / "download")))
    assert ".npz" in {p.suffix for p in downloaded.iterdir()}
    keys = [o["Key"] for o in stores["s3"].list_objects_v2(Bucket=BUCKET, Prefix="mlflow/")["Contents"]]
    assert any(child in key and key.endswith(".npz") for key in keys)  # the bytes live in S3

    report = subprocess.run([sys.executable, "-m", "nnscratch.report", "shared", "--storage", stores["study"],
                             "--out", str(tmp_path / "report")], capture_output=True, text=True, timeout=300,
                            env={**os.environ, **stores["env"]})
    assert report.returncode == 0, report.stderr[-3000:]
    assert (tmp_path / "report" / "report.html").is_file()
    logged = [a.path for a in client.list_artifacts(parents[0].info.run_id, "optuna_report")]
    assert "optuna_report/report.html" in logged
