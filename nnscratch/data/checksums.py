"""SHA-256 verification of downloaded or user-supplied IDX files.

A file is accepted when

* it is gzipped and its bytes match the registered ``.gz`` hash (Fashion-MNIST as published), or
* its uncompressed content (gunzipped first when it starts with the gzip magic) matches the registered hash of
  the uncompressed file (MNIST; also re-compressed or raw Fashion-MNIST copies).

Anything else raises :class:`ChecksumError` naming the file, the expected and the found hash.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ChecksumError
from .idx import decompress, is_gzip
from .registry import FileSpec

__all__ = ["sha256_bytes", "sha256_file", "VerifiedFile", "verify_bytes", "verify_file"]

logger = logging.getLogger(__name__)


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class VerifiedFile:
    """A file whose content matched its registered hash.

    Attributes
    ----------
    spec : FileSpec
        What it was checked against.
    data : bytes
        The bytes as supplied (gzipped or not).
    content : bytes
        The uncompressed IDX bytes.
    """

    spec: FileSpec
    data: bytes
    content: bytes

    @property
    def is_gzip(self) -> bool:
        return is_gzip(self.data)


def verify_bytes(data: bytes, spec: FileSpec, *, source: str | os.PathLike) -> VerifiedFile:
    """Check ``data`` (raw or gzipped, read from ``source``) against ``spec``.

    Raises
    ------
    ChecksumError
        Neither the gz hash (when registered) nor the hash of the uncompressed content matches.
    IDXError
        ``data`` looks gzipped but the stream is corrupt.
    """
    gz_hash = sha256_bytes(data) if is_gzip(data) else None
    content = decompress(data, source=source) if gz_hash else data
    if gz_hash is not None and gz_hash == spec.sha256_gz:
        return VerifiedFile(spec, data, content)
    found = sha256_bytes(content)
    if found == spec.sha256:
        if gz_hash is not None and spec.sha256_gz is not None:
            logger.info("%s: re-compressed copy (gz hash %s); its uncompressed content matches", source, gz_hash)
        return VerifiedFile(spec, data, content)
    raise ChecksumError(_mismatch_message(spec, source, found, gz_hash))


def _mismatch_message(spec: FileSpec, source: str | os.PathLike, found: str, gz_hash: str | None) -> str:
    expected = f"{spec.sha256} (uncompressed)"
    if spec.sha256_gz is not None:
        expected += f" or {spec.sha256_gz} (.gz)"
    found_text = f"{found} (uncompressed)" + (f", {gz_hash} (.gz)" if gz_hash else "")
    return (f"SHA-256 mismatch for {spec.filename} read from {source}: expected {expected}, found {found_text}; "
            f"the file is corrupt, truncated or a different data set, and was refused")


def verify_file(path: str | os.PathLike, spec: FileSpec) -> VerifiedFile:
    """Read ``path`` and :func:`verify_bytes` it."""
    return verify_bytes(Path(path).read_bytes(), spec, source=path)
