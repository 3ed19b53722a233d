"""Sweeper options, the study they designate, and storage strings (nnscratch.sweeper.settings / .storage)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra.core.utils import setup_globals
from omegaconf import OmegaConf

from nnscratch.sweeper.factories import offset_seed
from nnscratch.sweeper.settings import SweepSettings, normalize_directions, resolve_target, sweep_root
from nnscratch.sweeper.storage import display_storage, is_rdb_url, normalize_storage

TPE = {"_target_": "optuna.samplers.TPESampler"}


def multirun_config(tmp_path: Path, sweep_dir: str):
    setup_globals()  # registers ${now:...}
    return OmegaConf.create({"paths": {"log_dir": "logs"}, "hydra": {
        "sweep": {"dir": sweep_dir}, "job": {"name": "train"}, "runtime": {"cwd": str(tmp_path)}}})


@pytest.mark.parametrize(("given", "expected"), [
    ("maximize", ["maximize"]), (["maximize", "minimize"], ["maximize", "minimize"]),
    ("Direction.minimize", ["minimize"])])
def test_directions_accept_the_official_forms(given, expected):
    assert normalize_directions(given) == expected


@pytest.mark.parametrize(("options", "message"), [
    ({"direction": "up"}, "direction"), ({"n_trials": -1}, "n_trials"), ({"n_jobs": 0}, "n_jobs"),
    ({"max_failure_rate": 1.5}, "max_failure_rate"), ({"timeout": 0}, "timeout"), ({"bogus": 1}, "bogus"),
    ({"pruner": "sometimes"}, "pruner")])
def test_invalid_options_raise_naming_the_option(options, message):
    with pytest.raises(ValueError, match=message):
        SweepSettings.from_options({"sampler": TPE, **options})


def test_pruner_shorthand_and_mapping():
    assert SweepSettings.from_options({"sampler": TPE, "pruner": "median"}).pruner["_target_"] == \
        "optuna.pruners.MedianPruner"
    assert SweepSettings.from_options({"sampler": TPE}).pruner is None


def test_default_study_and_storage_come_from_the_sweep_dir(tmp_path):
    config = multirun_config(tmp_path, "${paths.log_dir}/multiruns/${now:%Y-%m-%d}_${now:%H-%M-%S}")
    root, stamp = sweep_root(config)
    assert root == Path("logs/multiruns") and stamp == str(config.hydra.sweep.dir).rsplit("/", 1)[1]
    target = resolve_target(SweepSettings.from_options({"sampler": TPE}), config)
    assert target.study_name == f"train_{stamp}"
    assert target.storage == str(tmp_path / "logs" / "multiruns" / "optuna" / f"train_{stamp}.journal")


def test_fixed_sweep_dir_and_named_study_resume_the_same_journal(tmp_path):
    config = multirun_config(tmp_path, "sweeps/fixed")
    settings = SweepSettings.from_options({"sampler": TPE, "study_name": "lr search"})
    target = resolve_target(settings, config)
    assert target.study_name == "lr search"
    assert target.storage == str(tmp_path / "sweeps" / "fixed" / "optuna" / "lr-search.journal")
    assert resolve_target(SweepSettings.from_options({"sampler": TPE}), config).study_name == "train"


def test_storage_strings_are_made_absolute_and_passwords_hidden(tmp_path):
    assert normalize_storage("studies/a.journal", tmp_path) == str(tmp_path / "studies" / "a.journal")
    assert normalize_storage("sqlite:///a.db", tmp_path) == f"sqlite:///{tmp_path / 'a.db'}"
    url = normalize_storage("postgresql://me:secret@127.0.0.1:5432/test", tmp_path)
    assert url.startswith("postgresql+psycopg://me:secret@")  # psycopg 3 is the installed driver
    assert display_storage(url) == "postgresql+psycopg://me:***@127.0.0.1:5432/test"
    assert is_rdb_url(url) and not is_rdb_url(str(tmp_path / "a.journal"))


def test_worker_seed_offsets_skip_samplers_whose_seed_orders_their_points():
    assert offset_seed({**TPE, "seed": 42}, 2)["seed"] == 44
    assert offset_seed({"_target_": "optuna.samplers.GridSampler", "seed": 0}, 2)["seed"] == 0
    assert offset_seed({"_target_": "optuna.samplers.QMCSampler", "seed": 3}, 1)["seed"] == 3
    assert offset_seed({**TPE, "seed": None}, 1)["seed"] is None
