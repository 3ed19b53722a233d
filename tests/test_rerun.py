"""``python -m nnscratch rerun``: a tracked run (and a sweep child) trained again from its MLflow record.

Runs are real: train.py on 600-image MNIST slices; the sweep child comes from ``train.py -m`` with
the Optuna sweeper in a subprocess, as a user makes it.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from nnscratch import __main__ as cli
from nnscratch.rerun import (RERUN_OF_TAG, VERDICT_TAG, Difference, Rerun, RerunRefused, code_problems,
                             compare_weights)
from nnscratch.tracking.record import RecordError
from tests.mlflow_stores import new_store, template_store, using
from tests.test_config import make

REPO = Path(__file__).resolve().parent.parent
SLICE = ["epochs=1", "data.train_size=600", "data.test_size=300", "progress=none",
         "tracking.log_model=false", "tracking.log_figures=false"]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return template_store(tmp_path_factory)


@pytest.fixture(scope="module")
def recorded(mnist, template, tmp_path_factory):
    """A tracked 1-epoch run on 540 MNIST training images, with its checkpoint: (store URI, run id)."""
    import train

    uri = new_store(template, tmp_path_factory.mktemp("recorded"))
    with using():
        train.run(make(*SLICE, f"tracking.tracking_uri={uri}", "tracking.experiment_name=recorded"))
    (run,) = MlflowClient(uri).search_runs([MlflowClient(uri).get_experiment_by_name("recorded").experiment_id])
    return uri, run.info.run_id


def artifact(uri: str, run_id: str, name: str = "config"):
    """``config/<name>.yaml`` of the run, parsed."""
    with tempfile.TemporaryDirectory() as scratch:
        path = MlflowClient(uri).download_artifacts(run_id, f"config/{name}.yaml", scratch)
        return yaml.safe_load(Path(path).read_text())


def untracked(config: dict) -> dict:
    """The config without ``tracking`` (where a run is logged and what it is called)."""
    return {key: value for key, value in config.items() if key != "tracking"}


def rerun(uri: str, run_id: str, *overrides: str, blas_threads: int | None = None, strict: bool = False):
    with using():
        return Rerun(uri, run_id, overrides, blas_threads).run(strict=strict)


def test_a_rerun_reproduces_weights_bit_for_bit_and_the_metrics(recorded):
    uri, run_id = recorded
    comparison = rerun(uri, run_id)
    assert comparison.weights.identical is True and comparison.metrics_equal and comparison.reproduced
    assert {"val/acc", "test/acc", "train/loss"} <= comparison.metrics.keys()
    assert "epoch_time" not in comparison.metrics  # wall time is not a result
    new = MlflowClient(uri).get_run(comparison.rerun_run_id)
    assert new.data.tags[RERUN_OF_TAG] == run_id and new.data.tags[VERDICT_TAG] == "identical"
    original = MlflowClient(uri).get_run(run_id)
    assert new.info.experiment_id == original.info.experiment_id and new.info.run_id != run_id
    assert untracked(artifact(uri, new.info.run_id)) == untracked(artifact(uri, run_id))
    assert artifact(uri, new.info.run_id)["data"]["train_size"] == 600
    assert new.data.tags["data.sha256"] == original.data.tags["data.sha256"]


def test_a_changed_blas_thread_count_and_dtype_are_reported_before_training(recorded, caplog):
    uri, run_id = recorded
    threads = int(MlflowClient(uri).get_run(run_id).data.tags["blas.threads"])
    other = 1 if threads != 1 else 2
    with caplog.at_level(logging.INFO):
        comparison = rerun(uri, run_id, "dtype=float64", blas_threads=other)
    messages = [record.getMessage() for record in caplog.records]
    reported = [m for m in messages if m.startswith("differs from the record:")]
    assert f"differs from the record: blas.threads: {threads} -> {other}" in reported
    assert "differs from the record: dtype: float32 -> float64" in reported
    assert "differs from the record: model.dtype: float32 -> float64" in reported
    training = next(i for i, m in enumerate(messages) if m.startswith("MLflow run "))
    assert max(messages.index(m) for m in reported) < training  # said before the run started
    assert comparison.weights.identical is False and "float32" in comparison.weights.detail
    assert not comparison.reproduced


def test_strict_stops_before_training_when_the_record_comes_from_a_dirty_tree(recorded, template, tmp_path):
    uri, run_id = recorded
    client = MlflowClient(uri)
    client.set_tag(run_id, "git.dirty", "true")
    try:
        before = len(client.search_runs([client.get_run(run_id).info.experiment_id]))
        with pytest.raises(RerunRefused, match="uncommitted changes"):
            rerun(uri, run_id, strict=True)
        assert len(client.search_runs([client.get_run(run_id).info.experiment_id])) == before
    finally:
        client.set_tag(run_id, "git.dirty", "false")


def test_code_problems_name_the_dirty_tree_and_the_other_commit():
    clean = {"git.commit": "a" * 40, "git.dirty": "false"}
    assert code_problems(clean, clean) == []
    problems = code_problems({"git.commit": "a" * 40, "git.dirty": "true"}, {"git.commit": "b" * 40,
                                                                           "git.dirty": "false"})
    assert len(problems) == 2 and "uncommitted" in problems[0] and "b" * 40 in problems[1]
    assert str(Difference("blas.kernel", None, "Haswell")) == "blas.kernel: not recorded -> Haswell"


def test_weights_are_compared_byte_for_byte():
    import numpy as np

    a = {"W1": np.array([1.0, 2.0], np.float32)}
    assert compare_weights(a, {"W1": a["W1"].copy()}).identical is True
    nudged = {"W1": np.nextafter(a["W1"], np.float32(3))}
    assert compare_weights(a, nudged).identical is False
    assert "2 of 2 values" in compare_weights(a, nudged).detail
    assert compare_weights(a, None).identical is None


def test_the_command_prints_the_comparison_and_refuses_unknown_runs(recorded, capsys):
    uri, run_id = recorded
    with using(), pytest.raises(SystemExit) as done:
        cli.main(["rerun", run_id, "--tracking-uri", uri])
    out = capsys.readouterr().out
    assert done.value.code == 0 and f"of run {run_id}" in out and "weights: bitwise identical" in out
    assert "reproduced: same final metrics" in out
    with using(), pytest.raises(SystemExit) as done:
        cli.main(["rerun", "0" * 32, "--tracking-uri", uri])
    assert done.value.code == 2
    with using(), pytest.raises(RecordError, match="no MLflow run"):
        Rerun(uri, "0" * 32)


def test_a_sweep_child_is_rerun_with_its_swept_values(mnist, template, tmp_path):
    uri = new_store(template, tmp_path / "store")
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    command = [sys.executable, str(REPO / "train.py"), "-m", "hydra/sweeper=optuna", *SLICE,
               "hydra.sweeper.n_trials=1", "hydra.sweeper.study_name=rerun_child",
               "lr=tag(log, interval(0.01, 0.3))", "batch_size=choice(16, 64)",
               f"hydra.sweep.dir={tmp_path}/multirun", "tracking.experiment_name=swept"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("swept").experiment_id
    (child,) = client.search_runs([experiment], "tags.`optuna.trial_number` = '0'")
    comparison = rerun(uri, child.info.run_id)
    assert comparison.reproduced
    swept = dict(o.split("=", 1) for o in artifact(uri, child.info.run_id, "overrides")
                 if o.startswith(("lr=", "batch_size=")))
    config = artifact(uri, comparison.rerun_run_id)
    assert config["lr"] == config["optimizer"]["lr"] == float(swept["lr"])
    assert config["batch_size"] == config["fit"]["batch_size"] == int(swept["batch_size"])
    assert untracked(config) == untracked(artifact(uri, child.info.run_id))
    new = client.get_run(comparison.rerun_run_id)
    assert new.data.tags.get("optuna.trial_number") is None  # a new run, not a trial of the study
    assert new.info.experiment_id == experiment and new.data.tags.get("mlflow.parentRunId") is None
