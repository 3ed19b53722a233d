"""train.py end to end on real MNIST slices: what a run records in MLflow, read back with search_runs.

In-process runs go through ``train.run(cfg)`` with a composed config; the command-line behaviour
(override errors, multirun parent/child runs) runs ``python train.py`` as a subprocess.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

import nnscratch as nn
from tests.mlflow_stores import new_store, runs, template_store, using
from tests.test_config import make

REPO = Path(__file__).resolve().parent.parent
SLICE = ["epochs=1", "data.train_size=600", "data.test_size=300", "progress=none"]
QUICK = [*SLICE, "tracking.log_model=false", "tracking.log_figures=false", "tracking.log_checkpoint=false"]
QUICK_AUTO_PROGRESS = [arg for arg in QUICK if not arg.startswith("progress=")]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return template_store(tmp_path_factory)


@pytest.fixture
def store_uri(template, tmp_path):
    """A fresh SQLite store's URI; whatever the test does to MLflow's global state is undone."""
    with using():
        yield new_store(template, tmp_path / "store")


@pytest.fixture(scope="module")
def train_module():
    import train

    return train


@pytest.fixture(scope="module")
def tracked(mnist, train_module, template, tmp_path_factory):
    """One fully tracked 1-epoch run of the default network on 600 MNIST training images."""
    directory = tmp_path_factory.mktemp("tracked")
    uri = new_store(template, directory / "store")
    cfg = make(*SLICE, f"tracking.tracking_uri={uri}", "tracking.experiment_name=smoke")
    with using():
        metrics = train_module.run(cfg)
    (row,) = runs(uri, "smoke").itertuples(index=False)
    return {"uri": uri, "metrics": metrics, "run": row._asdict(), "client": MlflowClient(uri), "dir": directory}


def test_run_returns_the_metrics_it_logs(tracked):
    metrics, client = tracked["metrics"], tracked["client"]
    run = client.get_run(tracked["run"]["run_id"])
    assert run.info.status == "FINISHED"
    assert {"train/loss", "train/acc", "val/loss", "val/acc", "test/loss", "test/acc"} <= metrics.keys()
    for key in ("train/loss", "val/acc", "test/acc", "test/loss"):
        assert run.data.metrics[key] == pytest.approx(metrics[key])
    assert metrics["test/acc"] > 0.6  # 1 epoch on 540 images


def test_params_hold_each_setting_once_under_its_command_line_name(tracked):
    run = tracked["client"].get_run(tracked["run"]["run_id"])
    params = run.data.params
    assert params["lr"] == "0.1" and params["optimizer"] == "sgd" and params["hidden_sizes"] == "[128, 64]"
    assert params["data"] == "mnist" and params["data.train_size"] == "600" and params["epochs"] == "1"
    assert {"batch_size", "keep_prob", "l2", "seed", "model", "schedule", "dtype"} <= params.keys()
    copies = ("optimizer.lr", "fit.epochs", "fit.batch_size", "fit.l2")  # fit.max_loss_ratio is its own setting
    assert not [k for k in params if k.startswith("tracking.") or "_target_" in k or k in copies]
    assert run.info.run_name.startswith("mnist sgd lr=0.1 bs=")


def test_per_epoch_metrics_and_test_metrics(tracked):
    client, run_id = tracked["client"], tracked["run"]["run_id"]
    for key in ("train/loss", "train/acc", "val/loss", "val/acc", "lr"):
        assert [m.step for m in client.get_metric_history(run_id, key)] == [1]


def test_tags_record_code_host_and_data(tracked, mnist):
    tags = tracked["client"].get_run(tracked["run"]["run_id"]).data.tags
    assert {"git.commit", "git.dirty", "host", "nnscratch.version"} <= tags.keys()
    assert tags["data.sha256"] == mnist.digest and tags["data.name"] == "mnist"
    assert float(tags["tracking.seconds"]) >= float(tags["tracking.metrics_seconds"]) >= 0


def test_dataset_input_names_the_data_and_its_sha256(tracked, mnist):
    (entry,) = tracked["client"].get_run(tracked["run"]["run_id"]).inputs.dataset_inputs
    tags = {t.key: t.value for t in entry.tags}
    assert entry.dataset.name == "mnist" and tags["sha256"] == mnist.digest
    assert (tags["n_train"], tags["n_val"], tags["n_test"]) == ("540", "60", "300")


def test_artifacts_config_evaluation_figures_checkpoint(tracked):
    client, run_id = tracked["client"], tracked["run"]["run_id"]
    local = Path(client.download_artifacts(run_id, "", str(tracked["dir"] / "artifacts")))
    files = {str(p.relative_to(local)) for p in local.rglob("*") if p.is_file()}
    assert files >= {"config/config.yaml", "config/overrides.yaml", "evaluation/confusion_matrix.csv",
                     "evaluation/confusion_matrix.json", "evaluation/per_class.csv",
                     "learning_curves.png", "confusion_matrix.png", "figures/misclassified.png",
                     "figures/first_layer_weights.png", "figures/dataset_preview.png", "figures/hidden_activations.png",
                     "checkpoint/model.npz", "checkpoint/model.json", "checkpoint/class_names.json"}
    confusion = json.loads((local / "evaluation/confusion_matrix.json").read_text())
    assert np.sum(confusion["matrix"]) == 300 and confusion["class_names"] == [str(d) for d in range(10)]
    assert "train_size: 600" in (local / "config/config.yaml").read_text()
    for png in [*local.glob("*.png"), *local.glob("figures/*.png")]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert nn.load(local / "checkpoint/model").layer_sizes == [784, 128, 64, 10]


def test_logged_model_predicts_like_the_checkpoint(tracked, mnist):
    client, run_id = tracked["client"], tracked["run"]["run_id"]
    local = Path(client.download_artifacts(run_id, "checkpoint", str(tracked["dir"] / "ckpt")))
    engine = nn.load(local / "model")
    with using(tracked["uri"]):
        pyfunc = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    X = mnist.X_test[:200]
    np.testing.assert_array_equal(pyfunc.predict(pd.DataFrame(X))["label"].to_numpy(), engine.predict(X))


def test_tracking_can_be_switched_off(mnist, train_module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    metrics = train_module.run(make(*QUICK, "tracking=none", "data.train_size=200"))
    assert 0 <= metrics["test/acc"] <= 1 and not list(tmp_path.iterdir())


@pytest.mark.parametrize("error,status", [
    (KeyboardInterrupt(), "KILLED"),
    (nn.DivergedError(1, "train/loss", math.inf), "FAILED"),
])
def test_interrupted_or_failed_training_closes_the_run(mnist, train_module, store_uri, monkeypatch, error, status):
    def broken_fit(*args, **kwargs):
        raise error

    monkeypatch.setattr(nn, "fit", broken_fit)
    with pytest.raises(type(error)):
        train_module.run(make(*QUICK, f"tracking.tracking_uri={store_uri}", "tracking.experiment_name=broken"))
    (record,) = runs(store_uri, "broken").to_dict("records")
    assert record["status"] == status and record["tags.error.type"] == type(error).__name__


# --- the command line ----------------------------------------------------------------------------

def train_cli(args: list[str], cwd: Path, uri: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNSCRATCH_MLFLOW", "MLFLOW_"))}
    env.update({"MLFLOW_TRACKING_URI": uri, "HYDRA_FULL_ERROR": "0", "PYTHONUNBUFFERED": "1"})
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def running_runs(uri: str) -> int:
    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return len(client.search_runs(experiments, filter_string="attributes.status = 'RUNNING'")) if experiments else 0


@pytest.mark.parametrize("args,message", [
    (["lr=-1"], "lr=-1.0 is invalid: must be > 0"),
    (["optimizer=adamm"], "Could not find 'optimizer/adamm'"),
    (["lr=abc"], "Value 'abc' of type 'str' could not be converted to Float"),
])
def test_rejected_overrides_fail_with_a_clear_message_and_no_run(args, message, store_uri, tmp_path):
    done = train_cli([*args, *QUICK], tmp_path, store_uri)
    assert done.returncode != 0
    assert message in done.stderr + done.stdout
    assert running_runs(store_uri) == 0 and len(runs(store_uri, "nnscratch")) == 0


def test_an_invalid_value_prints_its_message_without_a_traceback(store_uri, tmp_path):
    done = train_cli(["keep_prob=1.5", *QUICK], tmp_path, store_uri)
    assert done.returncode == 2 and "keep_prob=1.5 is invalid: must be in (0, 1]" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_help_lists_the_groups_to_choose_without_internal_schemas(tmp_path, store_uri):
    done = train_cli(["--help"], tmp_path, store_uri)
    assert done.returncode == 0
    assert "optimizer: adam, momentum, rmsprop, sgd" in done.stdout and "schema" not in done.stdout


def test_multirun_makes_one_parent_and_a_child_per_job(mnist, store_uri, tmp_path):
    done = train_cli(["-m", "optimizer=adam", "lr=0.1,0.01,0.001", *QUICK_AUTO_PROGRESS,
                      "tracking.experiment_name=sweep"],
                     tmp_path, store_uri)
    assert done.returncode == 0, done.stderr[-3000:]
    table = runs(store_uri, "sweep")
    parents = table[table["tags.nnscratch.kind"] == "sweep"]
    children = table[table["tags.nnscratch.kind"] == "train"]
    assert len(parents) == 1 and len(children) == 3 and len(table) == 4
    parent = parents.iloc[0]
    assert parent["status"] == "FINISHED" and (children["status"] == "FINISHED").all()
    assert (children["tags.mlflow.parentRunId"] == parent["run_id"]).all()
    params = children[[c for c in children.columns if c.startswith("params.")]]
    varying = sorted(c for c in params.columns if params[c].nunique() > 1)
    assert varying == ["params.lr"]
    assert sorted(params["params.lr"]) == ["0.001", "0.01", "0.1"]
    assert sorted(children["tags.mlflow.runName"]) == ["job-0 lr=0.1", "job-1 lr=0.01", "job-2 lr=1e-3"]
    assert parent["tags.best_run_id"] in set(children["run_id"])
    assert parent["metrics.best/val/acc"] == children["metrics.val/acc"].max()
    assert "epoch 1/1 train/loss=" in done.stderr + done.stdout  # one line per epoch, no progress bar
    assert (tmp_path / "multirun").is_dir()


def test_multirun_with_a_rejected_job_leaves_nothing_running(mnist, store_uri, tmp_path):
    done = train_cli(["-m", "keep_prob=1.0,0", *QUICK, "tracking.experiment_name=bad_sweep"], tmp_path, store_uri)
    assert done.returncode != 0 and "keep_prob=0.0 is invalid" in done.stderr + done.stdout
    table = runs(store_uri, "bad_sweep")
    assert running_runs(store_uri) == 0
    parent = table[table["tags.nnscratch.kind"] == "sweep"].iloc[0]
    assert parent["status"] == "FAILED"
    assert list(table[table["tags.nnscratch.kind"] == "train"]["status"]) == ["FINISHED"]


def test_ctrl_c_ends_child_and_parent_runs_killed(mnist, store_uri, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNSCRATCH_MLFLOW", "MLFLOW_"))}
    env["MLFLOW_TRACKING_URI"] = store_uri
    args = ["-m", "lr=0.1,0.01", "epochs=500", "data.train_size=300", "data.test_size=100", "progress=none",
            "tracking.experiment_name=interrupted"]
    process = subprocess.Popen([sys.executable, str(REPO / "train.py"), *args], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120  # the first job is inside fit(): its first epoch is logged
        while time.monotonic() < deadline and process.poll() is None and not _first_epoch_logged(store_uri):
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0, output[-2000:]
    table = runs(store_uri, "interrupted")
    assert running_runs(store_uri) == 0
    assert sorted(table["status"]) == ["KILLED", "KILLED"]  # the parent and the interrupted first job
    child = table[table["tags.nnscratch.kind"] == "train"].iloc[0]
    assert child["tags.error.type"] == "KeyboardInterrupt"


def _first_epoch_logged(store_uri: str) -> bool:
    table = runs(store_uri, "interrupted")
    if not len(table) or "metrics.train/loss" not in table:
        return False
    return bool(table.loc[table["tags.nnscratch.kind"] == "train", "metrics.train/loss"].notna().any())


def test_optuna_sweep_parent_is_the_study_and_trials_link_their_runs(mnist, store_uri, tmp_path):
    optuna = pytest.importorskip("optuna")
    args = ["-m", "hydra/sweeper=optuna", "hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=0",
            "hydra.sweeper.direction=maximize", "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=1",
            "hydra.sweeper.study_name=smoke", "hydra.sweeper.storage=optuna.journal",
            "lr=interval(0.01,0.1)", *QUICK, "tracking.experiment_name=optuna"]
    done = train_cli(args, tmp_path, store_uri)
    assert done.returncode == 0, done.stderr[-3000:]
    table = runs(store_uri, "optuna")
    parent = table[table["tags.nnscratch.kind"] == "sweep"].iloc[0]
    children = table[table["tags.nnscratch.kind"] == "train"]
    assert parent["tags.mlflow.runName"] == "smoke" and parent["status"] == "FINISHED"
    assert parent["params.search_space.lr"] == "interval(0.01,0.1)"
    assert len(children) == 2 and (children["tags.mlflow.parentRunId"] == parent["run_id"]).all()
    assert sorted(children["tags.optuna.trial_number"]) == ["0", "1"]
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(tmp_path / "optuna.journal")))
    study = optuna.load_study(study_name="smoke", storage=storage)
    assert study.user_attrs["mlflow_parent"]["run_id"] == parent["run_id"]
    linked = {t.user_attrs["mlflow_run_id"]: t.value for t in study.trials}
    assert linked.keys() == set(children["run_id"])
    for run_id, value in linked.items():  # the value Optuna maximizes is the run's val/acc
        assert children.set_index("run_id").loc[run_id, "metrics.val/acc"] == pytest.approx(value)
