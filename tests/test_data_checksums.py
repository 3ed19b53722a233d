"""SHA-256 verification: raw hashes, gz hashes, decompressed-content hashes, and clear refusals."""

from __future__ import annotations

import gzip

import pytest

from nnscratch.data.checksums import sha256_bytes, sha256_file, verify_bytes, verify_file
from nnscratch.data.errors import ChecksumError, IDXError
from nnscratch.data.idx import encode_idx
from nnscratch.data.registry import FileSpec
from nnscratch.data.testing import fake_arrays

CONTENT = encode_idx(fake_arrays(n_train=4, n_test=2)["train_labels"])
GZ = gzip.compress(CONTENT, mtime=0)


def spec(gz_reference: bool = False) -> FileSpec:
    return FileSpec("train_labels", "train-labels-idx1-ubyte", sha256_bytes(CONTENT),
                    sha256_bytes(GZ) if gz_reference else None, (4,))


def test_sha256_file_matches_bytes(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(CONTENT * 1000)
    assert sha256_file(path, chunk_size=7) == sha256_bytes(CONTENT * 1000)
    assert sha256_bytes(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_raw_file_verified_against_raw_hash(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(CONTENT)
    verified = verify_file(path, spec())
    assert verified.content == CONTENT and not verified.is_gzip


def test_gzipped_mnist_style_file_verified_by_its_decompressed_bytes():
    verified = verify_bytes(GZ, spec(), source="mirror")
    assert verified.is_gzip and verified.data == GZ and verified.content == CONTENT


def test_fashion_style_gz_reference_hash_accepted():
    verified = verify_bytes(GZ, spec(gz_reference=True), source="debian")
    assert verified.content == CONTENT


def test_recompressed_copy_accepted_through_content_hash():
    recompressed = gzip.compress(CONTENT, compresslevel=1, mtime=12345)
    assert sha256_bytes(recompressed) != sha256_bytes(GZ)
    assert verify_bytes(recompressed, spec(gz_reference=True), source="copy").content == CONTENT


def test_mismatch_refused_with_expected_and_found(tmp_path):
    corrupted = bytearray(CONTENT)
    corrupted[-1] ^= 0xFF
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(bytes(corrupted))
    with pytest.raises(ChecksumError) as info:
        verify_file(path, spec())
    message = str(info.value)
    assert "SHA-256 mismatch for train-labels-idx1-ubyte" in message and str(path) in message
    assert f"expected {sha256_bytes(CONTENT)}" in message and f"found {sha256_bytes(bytes(corrupted))}" in message
    assert "refused" in message


def test_gz_mismatch_names_both_hashes():
    other = gzip.compress(CONTENT + b"x")
    with pytest.raises(ChecksumError, match=r"\(uncompressed\) or [0-9a-f]{64} \(\.gz\), found .*\(\.gz\)"):
        verify_bytes(other, spec(gz_reference=True), source="copy")


def test_corrupt_gzip_is_an_idx_error():
    with pytest.raises(IDXError, match="corrupt or truncated gzip stream"):
        verify_bytes(GZ[:-6], spec(), source="cut.gz")
