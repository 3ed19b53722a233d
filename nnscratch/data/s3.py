"""The IDX files from an S3-compatible object store: ``data.data_dir=s3://bucket/prefix``.

The files are looked up like in a local directory (raw or ``.gz``, under ``<prefix>/<data set name>/``
or ``<prefix>/`` itself), downloaded into the fetch's scratch directory and then verified against the
registry's SHA-256 like those of every other source, before they reach the cache. boto3 finds the
endpoint and credentials as it always does (``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` for MinIO
and other S3-compatible stores, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or a profile), so one
setting serves the data, MLflow's artifacts and anything else the user points at the store.
Needs boto3 (``pip install "nnscratch[s3]"``).
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from .errors import SourceError
from .registry import DatasetSpec
from .sources import Source

class S3Source(Source):
    """``s3://bucket/prefix`` holding the four files of a data set (see the module docstring)."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"data_dir={url!r}: expected s3://bucket/prefix")
        self.url, self.bucket, self.prefix = url, parsed.netloc, parsed.path.strip("/")

    def describe(self, spec: DatasetSpec) -> str:
        return f"object store {self.url}"

    def fetch(self, spec: DatasetSpec, workdir: Path) -> dict[str, Path]:
        client = _client()
        reasons = []
        for prefix in (f"{self.prefix}/{spec.name}".strip("/"), self.prefix):
            keys = self._keys(client, prefix)
            found, missing = {}, []
            for file in spec.files:
                key = next((k for k in (f"{prefix}/{file.filename}".lstrip("/"),
                                        f"{prefix}/{file.filename}.gz".lstrip("/")) if k in keys), None)
                if key is None:
                    missing.append(f"{file.filename}[.gz]")
                else:
                    found[file.role] = key
            if not missing:
                return {role: self._download(client, key, workdir) for role, key in found.items()}
            reasons.append(f"s3://{self.bucket}/{prefix} lacks {', '.join(missing)}")
        raise SourceError("; ".join(reasons))

    def _keys(self, client, prefix: str) -> set[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix=f"{prefix}/" if prefix else "")
            return {item["Key"] for page in pages for item in page.get("Contents", [])}
        except (BotoCoreError, ClientError) as error:
            raise SourceError(f"cannot list s3://{self.bucket}/{prefix}: {error}") from error

    def _download(self, client, key: str, workdir: Path) -> Path:
        from botocore.exceptions import BotoCoreError, ClientError

        destination = workdir / Path(key).name
        try:
            client.download_file(self.bucket, key, str(destination))
        except (BotoCoreError, ClientError) as error:
            raise SourceError(f"cannot download s3://{self.bucket}/{key}: {error}") from error
        return destination


def _client():
    try:
        import boto3
    except ImportError as error:
        raise SourceError('data_dir=s3://... needs boto3: pip install "nnscratch[s3]"') from error
    return boto3.client("s3")
