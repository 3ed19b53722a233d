"""``data.data_dir=s3://bucket/prefix``: the IDX files from an S3-compatible store, with the same SHA-256 checks."""
from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest

from nnscratch.data import load_dataset
from nnscratch.data.errors import DataUnavailableError
from nnscratch.data.registry import get_spec

sys.path.insert(0, str(Path(__file__).parent))
from shared_stores import moto_s3, s3_env  # noqa: E402

SPEC = get_spec("fashion_mnist")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    server = moto_s3(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture()
def bucket(s3, monkeypatch):
    import boto3

    for name, value in s3_env(s3.url).items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3")
    name = f"data-{len(client.list_buckets()['Buckets'])}"
    client.create_bucket(Bucket=name)
    return client, name


def upload_fashion_mnist(client, bucket: str, prefix: str, tamper: str | None = None) -> None:
    directory = Path(SPEC.system_dirs[0])
    for file in SPEC.files:
        path = next(p for p in (directory / file.filename, directory / (file.filename + ".gz")) if p.is_file())
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        if file.filename == tamper:
            data = data[:-1] + bytes([data[-1] ^ 1])  # one label changed, same size
        client.put_object(Bucket=bucket, Key=f"{prefix}/{file.filename}", Body=data)


def test_dataset_files_are_read_from_s3_and_verified(bucket, fashion_mnist, tmp_path):
    client, name = bucket
    upload_fashion_mnist(client, name, "datasets/fashion_mnist")
    loaded = load_dataset("fashion_mnist", data_dir=f"s3://{name}/datasets", cache_dir=tmp_path, sources=["local"])
    assert np.array_equal(loaded.X_test, fashion_mnist.X_test) and np.array_equal(loaded.y_train, fashion_mnist.y_train)


def test_a_tampered_object_is_refused_by_its_checksum(bucket, fashion_mnist, tmp_path):
    client, name = bucket
    upload_fashion_mnist(client, name, "fm", tamper="t10k-labels-idx1-ubyte")
    with pytest.raises(DataUnavailableError, match="t10k-labels-idx1-ubyte"):
        load_dataset("fashion_mnist", data_dir=f"s3://{name}/fm", cache_dir=tmp_path, sources=["local"])
    assert not list(tmp_path.rglob("*.npy"))  # nothing cached
