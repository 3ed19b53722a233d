"""What every child of a real ``train.py -m`` Optuna sweep records, what its best child gets at sweep end,
and the commands that give any other child the rest; read back with ``mlflow.search_runs`` / ``list_artifacts``."""
from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

import nnscratch as nn
from tests.mlflow_stores import new_store, runs, template_store, using
from tests.test_config import make
from tests.test_train import train_cli

pytestmark = pytest.mark.slow

EXPERIMENT = "sweep_random_3layer"
SWEEP = ["-m", "+sweep=random_3layer", "hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=2", "epochs=2",
         "data.train_size=600", "data.test_size=300", "progress=none"]
LIGHT = {"config/config.yaml", "config/overrides.yaml", "evaluation/confusion_matrix.json",
         "evaluation/confusion_matrix.csv", "evaluation/per_class.csv", "confusion_matrix.png",
         "checkpoint/model.npz", "checkpoint/model.json", "checkpoint/class_names.json"}
DETAIL = {"learning_curves.png", "figures/first_layer_weights.png", "figures/dataset_preview.png", "figures/hidden_activations.png",
          "figures/misclassified.png"}


@pytest.fixture(scope="module")
def sweep(mnist, tmp_path_factory):
    """One 3-trial random_3layer sweep, 2 jobs at a time, into a fresh SQLite store."""
    directory = tmp_path_factory.mktemp("sweep_tracking")
    uri = new_store(template_store(tmp_path_factory), directory / "store")
    done = train_cli(SWEEP, directory, uri, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    table = runs(uri, EXPERIMENT)
    children = table[table["tags.nnscratch.kind"] == "train"].set_index("run_id")
    parent = table[table["tags.nnscratch.kind"] == "sweep"].iloc[0]
    return {"uri": uri, "client": MlflowClient(uri), "children": children, "parent": parent, "dir": directory}


def artifact_files(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    files = set()
    for entry in client.list_artifacts(run_id, path):
        files |= artifact_files(client, run_id, entry.path) if entry.is_dir else {entry.path}
    return files


def logged_models(client: MlflowClient, run_id: str) -> list:
    experiment = client.get_run(run_id).info.experiment_id
    return client.search_logged_models([experiment], filter_string=f"source_run_id = '{run_id}'")


def test_every_child_records_params_curves_metrics_tables_figures_and_checkpoint(sweep):
    client, children = sweep["client"], sweep["children"]
    assert len(children) == 3 and (children["status"] == "FINISHED").all()
    for run_id, child in children.iterrows():
        assert {"params.lr", "params.hidden_sizes", "params.batch_size", "params.l2"} <= {
            c for c in children.columns if pd.notna(child[c])}
        for key in ("train/loss", "train/acc", "val/loss", "val/acc"):
            assert [m.step for m in client.get_metric_history(run_id, key)] == [1, 2]
        assert 0 <= child["metrics.test/acc"] <= 1 and 0 <= child["metrics.val/acc"] <= 1
        assert LIGHT <= artifact_files(client, run_id)
        (entry,) = client.get_run(run_id).inputs.dataset_inputs
        assert entry.dataset.name == "mnist"
        assert child["tags.optuna.study_name"] == "random_3layer" and child["tags.optuna.trial_number"] in "012"
        assert child["tags.mlflow.parentRunId"] == sweep["parent"]["run_id"]
        assert float(child["tags.tracking.seconds"]) > 0


def test_confusion_table_and_checkpoint_of_a_child_are_usable(sweep, tmp_path):
    client = sweep["client"]
    run_id = sweep["children"].index[0]
    local = Path(client.download_artifacts(run_id, "", str(tmp_path)))
    confusion = json.loads((local / "evaluation/confusion_matrix.json").read_text())
    assert np.sum(confusion["matrix"]) == 300 and confusion["class_names"] == [str(d) for d in range(10)]
    model = nn.load(local / "checkpoint/model")
    assert model.layer_sizes[0] == 784 and model.layer_sizes[-1] == 10
    assert (local / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_only_the_best_child_gets_the_other_figures_and_a_servable_model(sweep, mnist):
    client, children = sweep["client"], sweep["children"]
    best = children["metrics.val/acc"].idxmax()
    assert sweep["parent"]["tags.best_run_id"] == best
    for run_id, child in children.iterrows():
        files = artifact_files(client, run_id)
        if run_id == best:
            assert DETAIL <= files and child["tags.nnscratch.artifacts"] == "full"
            (model,) = logged_models(client, run_id)
        else:
            assert not files & DETAIL and child["tags.nnscratch.artifacts"] == "light"
            assert logged_models(client, run_id) == []
    with using(sweep["uri"]):
        pyfunc = mlflow.pyfunc.load_model(f"models:/{model.model_id}")
    engine = nn.load(Path(client.download_artifacts(best, "checkpoint", str(sweep["dir"] / "best"))) / "model")
    X = mnist.X_test[:50]
    np.testing.assert_array_equal(pyfunc.predict(pd.DataFrame(X))["label"].to_numpy(), engine.predict(X))


def test_commands_give_any_child_the_full_figure_set_and_its_model(sweep, tmp_path, monkeypatch, capsys):
    from nnscratch.figures.__main__ import main as figures_main
    from nnscratch.tracking.model import main as model_main

    client = sweep["client"]
    light = sweep["children"][sweep["children"]["tags.nnscratch.artifacts"] == "light"].index[0]
    monkeypatch.chdir(tmp_path)
    assert figures_main([light, "--missing", "--tracking-uri", sweep["uri"]]) == 0
    assert DETAIL <= artifact_files(client, light) and not list(tmp_path.iterdir())
    assert model_main([light, "--tracking-uri", sweep["uri"]]) == 0
    (model,) = logged_models(client, light)
    assert model_main([light, "--tracking-uri", sweep["uri"]]) == 0  # a second call keeps the one model
    assert [m.model_id for m in logged_models(client, light)] == [model.model_id]
    assert capsys.readouterr().out.split()[-2:] == [f"models:/{model.model_id}"] * 2


def test_a_run_completed_beside_another_process_gets_the_model_from_that_process(sweep, monkeypatch):
    """How the sweep completes its best child: the model is packaged in a second process (spawned
    here; the sweep hands it to a process of its preloaded forkserver) while this one draws."""
    from nnscratch.tracking import model as model_module
    from nnscratch.tracking.completion import complete_run

    def not_here(*args, **kwargs):
        raise AssertionError("the model was packaged in this process")

    client = sweep["client"]
    light = sweep["children"][sweep["children"]["tags.nnscratch.artifacts"] == "light"].index[-1]
    monkeypatch.setattr(model_module, "log_run_model", not_here)
    complete_run(light, sweep["uri"], processes=multiprocessing.get_context("spawn"))
    assert DETAIL <= artifact_files(client, light) and client.get_run(light).data.tags["nnscratch.artifacts"] == "full"
    assert len(logged_models(client, light)) == 1


def test_sweep_artifacts_is_validated():
    from nnscratch.config import ConfigError, validate_config

    with pytest.raises(ConfigError, match="tracking.sweep_artifacts='some' is invalid: must be light or full"):
        validate_config(make("tracking.sweep_artifacts=some"))
