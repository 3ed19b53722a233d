"""``python -m nnscratch.data`` on a tiny crafted data set: fetch, info, failures, argument errors."""

from __future__ import annotations

import re

import pytest

from nnscratch.data import registry
from nnscratch.data.__main__ import main
from nnscratch.data.testing import write_fake_dataset


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """Tiny fake 'mnist' in tmp_path/data; returns the common CLI options."""
    monkeypatch.delenv("NNSCRATCH_DATA_DIR", raising=False)
    monkeypatch.setattr(registry, "SPECS", {"mnist": write_fake_dataset(tmp_path / "data")})
    return ["--data-dir", str(tmp_path / "data"), "--cache-dir", str(tmp_path / "cache"), "--sources", "local"]


def test_fetch_prints_one_line_per_stored_data_set(tiny, tmp_path, capsys):
    assert main(["fetch", "mnist", "binary_mnist", *tiny]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"mnist: ok (60 train / 20 test) from local directory {tmp_path / 'data'}, "
                   f"cached in {tmp_path / 'cache' / 'mnist'}"]
    assert (tmp_path / "cache" / "mnist" / "manifest.json").exists()


def test_info_prints_counts_per_class_mean_and_source(tiny, tmp_path, capsys):
    assert main(["info", "mnist", *tiny]) == 0
    out = capsys.readouterr().out
    assert "train        60 images of (28, 28)" in out and "test         20 images" in out
    assert re.search(r"^ 3 3 +6 +2$", out, re.MULTILINE)
    assert f"source       local directory {tmp_path / 'data'}" in out
    assert "mean pixel   12" in out  # uniform random bytes: about 127.5
    assert main(["info", "binary_mnist", "--digits", "4", "2", *tiny]) == 0
    out = capsys.readouterr().out
    assert "train        12 images" in out and re.search(r"^ 0 4 +6 +2$", out, re.MULTILINE)


def test_unavailable_data_reports_sources_and_exit_status(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NNSCRATCH_DATA_DIR", raising=False)
    status = main(["fetch", "mnist", "--cache-dir", str(tmp_path), "--sources", "local"])
    err = capsys.readouterr().err
    assert status == 1 and "1. local directory: no directory given" in err


def test_argument_errors(capsys):
    with pytest.raises(SystemExit):
        main(["fetch", "cifar10"])
    assert "invalid choice: 'cifar10'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["info", "mnist", "--sources", "ftp"])
