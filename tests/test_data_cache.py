"""Cache: location, store/load round trip, atomic writes, and checking the arrays against the manifest on load."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from nnscratch.data import cache as cache_module
from nnscratch.data import checksums
from nnscratch.data.cache import DatasetCache, atomic_write, resolve_cache_dir
from nnscratch.data.checksums import verify_file
from nnscratch.data.registry import ROLES
from nnscratch.data.testing import fake_arrays, write_fake_dataset


@pytest.fixture
def stored(tmp_path):
    """A tiny data set verified and stored in tmp_path/cache; returns (DatasetCache, CachedArrays, spec)."""
    spec = write_fake_dataset(tmp_path / "files", gz=True)
    files = {f.role: verify_file(tmp_path / "files" / (f.filename + ".gz"), f) for f in spec.files}
    cache = DatasetCache(tmp_path / "cache", spec)
    return cache, cache.store(files, "test source"), spec


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("NNSCRATCH_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_cache_dir() == tmp_path / "home" / ".cache" / "nnscratch"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_cache_dir() == tmp_path / "xdg" / "nnscratch"
    monkeypatch.setenv("NNSCRATCH_CACHE_DIR", str(tmp_path / "env"))
    assert resolve_cache_dir() == tmp_path / "env"
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"


def test_store_writes_npy_raw_copies_and_manifest(stored):
    cache, cached, spec = stored
    expected = fake_arrays()
    for role in ROLES:
        np.testing.assert_array_equal(getattr(cached, role), expected[role])
        assert getattr(cached, role).dtype == np.uint8
    assert sorted(p.name for p in (cache.directory / "raw").iterdir()) == sorted(f.filename + ".gz" for f in spec.files)
    manifest = json.loads(cache.manifest_path.read_text())
    assert manifest["format"] == 2 and manifest["source"] == "test source"
    assert manifest["sha256"] == spec.references
    assert manifest["arrays"]["train_images"]["shape"] == [60, 28, 28]
    assert not list(cache.directory.rglob("*.tmp"))


def test_warm_load_memory_maps_read_only_and_checks_the_array_hashes(stored):
    cache, cached, spec = stored
    loaded = DatasetCache(cache.directory.parent, spec).load()
    assert loaded is not None and loaded.source == "test source" and loaded.sha256 == spec.references
    assert isinstance(loaded.train_images, np.memmap) and not loaded.train_images.flags.writeable
    np.testing.assert_array_equal(loaded.test_labels, fake_arrays()["test_labels"])
    assert loaded.array_sha256 == cached.array_sha256 == {
        role: hashlib.sha256(fake_arrays()[role].tobytes()).hexdigest() for role in ROLES}


@pytest.mark.parametrize("role, offset", [("train_labels", -1), ("test_images", -5)])
def test_array_rewritten_in_place_at_the_same_size_is_refused(stored, role, offset, caplog):
    cache, _, _ = stored
    path = cache.array_path(role)
    size = path.stat().st_size
    with open(path, "r+b") as handle:  # what a bad disk, a stray script or a hostile user does
        handle.seek(size + offset)
        byte = handle.read(1)
        handle.seek(size + offset)
        handle.write(bytes([(byte[0] + 1) % 256]))
    assert path.stat().st_size == size
    with caplog.at_level(logging.WARNING, logger="nnscratch.data.cache"):
        assert cache.load() is None
    assert f"{role}.npy was changed after it was cached" in caplog.text


def test_missing_manifest_means_cold(tmp_path, stored):
    cache, _, spec = stored
    assert DatasetCache(tmp_path / "empty", spec).load() is None
    cache.manifest_path.unlink()
    assert cache.load() is None


@pytest.mark.parametrize("damage", ["bad json", "old format", "format 1", "other hashes", "short npy", "wrong shape",
                                    "no npy"])
def test_damaged_cache_is_ignored_with_a_warning(stored, damage, caplog):
    cache, _, _ = stored
    manifest = json.loads(cache.manifest_path.read_text())
    if damage == "bad json":
        cache.manifest_path.write_text("{not json")
    elif damage == "old format":
        cache.manifest_path.write_text(json.dumps(manifest | {"format": 0}))
    elif damage == "format 1":  # caches written before the array hashes were recorded are rebuilt
        cache.manifest_path.write_text(json.dumps(manifest | {"format": 1}))
    elif damage == "other hashes":
        manifest["sha256"]["train-images-idx3-ubyte"] = "0" * 64
        cache.manifest_path.write_text(json.dumps(manifest))
    elif damage == "short npy":
        path = cache.array_path("train_images")
        path.write_bytes(path.read_bytes()[:-10])
    elif damage == "wrong shape":
        np.save(cache.array_path("test_labels"), np.zeros(21, np.uint8))
        manifest["arrays"]["test_labels"]["bytes"] = cache.array_path("test_labels").stat().st_size
        manifest["arrays"]["test_labels"]["sha256"] = hashlib.sha256(np.zeros(21, np.uint8).tobytes()).hexdigest()
        cache.manifest_path.write_text(json.dumps(manifest))
    else:
        cache.array_path("test_images").unlink()
    with caplog.at_level(logging.WARNING, logger="nnscratch.data.cache"):
        assert cache.load() is None
    assert "ignoring" in caplog.text


def test_atomic_write_leaves_target_untouched_on_failure(tmp_path):
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")

    def crash(handle):
        handle.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, crash)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["file.bin"]
    atomic_write(target, lambda h: h.write(b"new"))
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o644


def test_crash_during_store_never_leaves_a_valid_looking_cache(stored, tmp_path, monkeypatch):
    cache, _, spec = stored
    files = {f.role: verify_file(tmp_path / "files" / (f.filename + ".gz"), f) for f in spec.files}
    calls = []

    def crashing_save(handle, array, allow_pickle):
        calls.append(array.shape)
        if len(calls) == 3:
            handle.write(b"\x93NUMPY partial")
            raise OSError("disk full")
        np.lib.format.write_array(handle, array, allow_pickle=allow_pickle)

    monkeypatch.setattr(cache_module.np, "save", crashing_save)
    with pytest.raises(OSError, match="disk full"):
        cache.store(files, "second attempt")
    assert not cache.manifest_path.exists() and cache.load() is None
    assert not list(cache.directory.rglob("*.tmp"))
    monkeypatch.undo()
    assert cache.store(files, "third attempt").source == "third attempt"
    assert cache.load().source == "third attempt"


def test_raw_copy_replaces_the_other_variant(stored, tmp_path):
    cache, _, spec = stored
    raw_dir = tmp_path / "raw-files"
    write_fake_dataset(raw_dir)  # same content, uncompressed
    files = {f.role: verify_file(raw_dir / f.filename, f) for f in spec.files}
    cache.store(files, "raw source")
    assert sorted(p.name for p in (cache.directory / "raw").iterdir()) == sorted(f.filename for f in spec.files)
    assert all(Path(cache.directory / "raw" / f.filename).read_bytes() == files[f.role].content for f in spec.files)
