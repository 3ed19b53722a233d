"""A full disk while a run logs its results: the run ends FAILED with the reason, no model is left PENDING,
and no checkpoint is half-written (the failure is injected at a named point, deterministic)."""
from __future__ import annotations

import errno
from pathlib import Path

import pytest
from mlflow.entities import LoggedModelStatus
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository
from mlflow.tracking import MlflowClient

from nnscratch.model_uri import ModelNotFoundError, run_model_uri
from tests.mlflow_stores import new_store, runs, template_store, using
from tests.mounts import tmpfs
from tests.test_config import make

QUICK = ["epochs=1", "data.train_size=600", "data.test_size=300", "progress=none", "tracking.log_figures=false",
         "tracking.log_checkpoint=false", "tracking.experiment_name=full"]


REAL_UPLOAD = LocalArtifactRepository.log_artifacts


def is_model_upload(local_dir) -> bool:
    """The pyfunc model's files (the run's other end-of-run files go up in an earlier log_artifacts call)."""
    return (Path(local_dir) / "MLmodel").is_file()


def disk_full_on_model_upload(self, local_dir, artifact_path=None):
    if is_model_upload(local_dir):
        raise OSError(errno.ENOSPC, "No space left on device")
    return REAL_UPLOAD(self, local_dir, artifact_path)


def test_full_disk_while_logging_the_model_ends_the_run_failed_and_the_model_failed(mnist, tmp_path_factory,
                                                                                    monkeypatch):
    import train

    uri = new_store(template_store(tmp_path_factory), tmp_path_factory.mktemp("full") / "store")
    # the model's files are uploaded with log_artifacts: the disk fills up at that point
    monkeypatch.setattr(LocalArtifactRepository, "log_artifacts", disk_full_on_model_upload)
    with using(), pytest.raises(OSError, match="No space left on device"):
        train.run(make(*QUICK, f"tracking.tracking_uri={uri}"))
    (record,) = runs(uri, "full").to_dict("records")
    assert record["status"] == "FAILED" and record["tags.error.type"] == "OSError"
    assert "No space left on device" in record["tags.error.message"]
    client = MlflowClient(tracking_uri=uri)
    models = client.search_logged_models([record["experiment_id"]])
    assert models and all(m.status == LoggedModelStatus.FAILED for m in models)
    with pytest.raises(ModelNotFoundError, match="logged no model"):  # the half-logged model is never used
        run_model_uri(record["run_id"], uri)


@pytest.fixture
def small_disk():
    """A 16 MB tmpfs: a real file system that fills up."""
    with tmpfs("size=16m") as target:
        yield target


def test_really_full_disk_with_the_store_on_it_still_ends_the_run_failed(mnist, tmp_path_factory, small_disk,
                                                                         monkeypatch):
    """Store and artifacts on one disk that fills up during the model upload: SQLite cannot write either, until
    the half-uploaded model's files are removed."""
    import os

    import train

    uri = new_store(template_store(tmp_path_factory), small_disk / "store")
    def fill_the_disk_then_upload(self, local_dir, artifact_path=None):
        if not is_model_upload(local_dir):
            return REAL_UPLOAD(self, local_dir, artifact_path)
        stats = os.statvfs(small_disk)
        with open(small_disk / "ballast", "wb") as ballast:  # leave 200 KB: less than the model's 400+ KB
            ballast.truncate(0)
            ballast.write(bytes(stats.f_bavail * stats.f_frsize - 200 * 1024))
        return REAL_UPLOAD(self, local_dir, artifact_path)

    monkeypatch.setattr(LocalArtifactRepository, "log_artifacts", fill_the_disk_then_upload)
    with using(), pytest.raises(Exception, match="disk is full|No space left"):
        train.run(make(*QUICK, f"tracking.tracking_uri={uri}"))
    (small_disk / "ballast").unlink()
    (record,) = runs(uri, "full").to_dict("records")
    assert record["status"] == "FAILED" and "full" in record["tags.error.message"]
    assert "No space left on device" in record["tags.error.cause"]  # what started it, whatever failed after
    client = MlflowClient(tracking_uri=uri)
    assert [m.status for m in client.search_logged_models([record["experiment_id"]])] == [LoggedModelStatus.FAILED]
