"""The official hydra-optuna-sweeper's public behaviour, answered by nnscratch's sweeper.

Expectations come from the official plugin's tests and docs (facebookresearch/hydra:
plugins/hydra_optuna_sweeper/tests/test_optuna_sweeper_plugin.py, website/docs/plugins/optuna_sweeper.md):
its module and class names, the distributions of every override form, the shape returned by
``create_params_from_overrides``, ``+key`` names in ``best_params``, the motpe refusal on Optuna >= 4.
Refusals of bad input must come before any trial: no study file is written.
"""
from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.errors import InstantiationException
from hydra.plugins.sweeper import Sweeper
from hydra.utils import instantiate
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hydra_plugins.hydra_optuna_sweeper import _impl
from hydra_plugins.hydra_optuna_sweeper.config import (
    CmaEsSamplerConfig, Direction, DistributionConfig, DistributionType, GPSamplerConfig, GridSamplerConfig,
    MOTPESamplerConfig, NSGAIISamplerConfig, OptunaSweeperConf, QMCSamplerConfig, RandomSamplerConfig,
    TPESamplerConfig)
from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
from nnscratch.sweeper import factories

sys.path.insert(0, str(Path(__file__).parent))
from sweeper_app.harness import journal, load, run_in_process, sweep_args  # noqa: E402


@pytest.fixture()
def sweep(tmp_path, capfd):
    """``sweep(study, *overrides) -> (exit code, study or None, sweep dir, console output)``, in this process."""

    def _sweep(study: str, *overrides: str):
        directory = tmp_path / "sweep"
        capfd.readouterr()
        code = run_in_process(sweep_args(directory, study, *overrides), cwd=tmp_path)
        out, err = capfd.readouterr()
        path = journal(directory, study)
        return code, (load(path, study) if path.exists() else None), directory, out + err

    return _sweep


# --- modules and names -----------------------------------------------------------------------------
def test_official_modules_and_names_import():
    assert issubclass(_impl.OptunaSweeperImpl, Sweeper)
    assert OptunaSweeper.__name__ in [p.__name__ for p in Plugins.instance().discover(Sweeper)]
    for cls in (OptunaSweeper, _impl.OptunaSweeperImpl):
        assert list(inspect.signature(cls).parameters)[:9] == [
            "sampler", "direction", "storage", "study_name", "n_trials", "n_jobs", "max_failure_rate",
            "custom_search_space", "params"]
    assert [d.name for d in Direction] == ["minimize", "maximize"]
    assert [d.name for d in DistributionType] == ["int", "float", "categorical"]
    targets = {c: c._target_ for c in (TPESamplerConfig, RandomSamplerConfig, CmaEsSamplerConfig,
                                       NSGAIISamplerConfig, GridSamplerConfig, QMCSamplerConfig, GPSamplerConfig)}
    assert all(t == f"optuna.samplers.{c.__name__.replace('Config', '')}" for c, t in targets.items())
    conf = OmegaConf.structured(OptunaSweeperConf)
    assert conf._target_ == "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    assert (conf.direction, conf.n_trials, conf.n_jobs, conf.max_failure_rate) == (Direction.minimize, 20, 2, 0.0)
    assert conf.storage is conf.study_name is conf.params is conf.search_space is conf.custom_search_space is None


@pytest.mark.parametrize(("line", "expected"), [
    ("key=choice(1,2)", CategoricalDistribution([1, 2])),
    ("key=choice(true, false)", CategoricalDistribution([True, False])),
    ("key=choice('hello', 'world')", CategoricalDistribution(["hello", "world"])),
    ("key=shuffle(range(1,3))", CategoricalDistribution((1, 2))),
    ("key=range(1,3)", IntDistribution(1, 3)),
    ("key=interval(1, 5)", FloatDistribution(1, 5)),
    ("key=int(interval(1, 5))", IntDistribution(1, 5)),
    ("key=tag(log, interval(1, 5))", FloatDistribution(1, 5, log=True)),
    ("key=tag(log, int(interval(1, 5)))", IntDistribution(1, 5, log=True)),
    ("key=range(0.5, 5.5, step=1)", FloatDistribution(0.5, 5.5, step=1)),
])
def test_create_optuna_distribution_from_override(line, expected):
    override = OverridesParser.create().parse_overrides([line])[0]
    assert _impl.create_optuna_distribution_from_override(override) == expected


def test_create_optuna_distribution_from_override_gives_fixed_values_as_text():
    override = OverridesParser.create().parse_overrides(["key=5"])[0]
    assert _impl.create_optuna_distribution_from_override(override) == "5"


@pytest.mark.parametrize(("lines", "expected"), [
    (["key=choice(1,2)"], ({"key": CategoricalDistribution([1, 2])}, {}, [])),
    (["key=5"], ({}, {"key": "5"}, [])),
    (["key1=choice(1,2)", "key2=5"], ({"key1": CategoricalDistribution([1, 2])}, {"key2": "5"}, [])),
    (["key1=choice(1,2)", "key2=5", "key3=range(1,3)"],
     ({"key1": CategoricalDistribution([1, 2]), "key3": IntDistribution(1, 3)}, {"key2": "5"}, [])),
    (["~z"], ({}, {}, ["~z"])),
    (["~z=10"], ({}, {}, ["~z=10"])),
    (["+w=choice(1,2)", "+v=3"], ({"+w": CategoricalDistribution([1, 2])}, {"+v": "3"}, [])),
])
def test_create_params_from_overrides(lines, expected):
    assert _impl.create_params_from_overrides(lines) == expected


def test_create_optuna_distribution_from_config_reads_the_deprecated_entries():
    config = OmegaConf.structured(DistributionConfig(type=DistributionType.float, low=1e-4, high=1e-1, log=True))
    assert _impl.create_optuna_distribution_from_config(config) == FloatDistribution(1e-4, 1e-1, log=True)
    assert _impl.create_optuna_distribution_from_config({"type": "int", "low": 1, "high": 9, "step": 2}) == \
        IntDistribution(1, 9, step=2)
    assert _impl.create_optuna_distribution_from_config({"type": "categorical", "choices": ["a", "b"]}) == \
        CategoricalDistribution(["a", "b"])


def test_motpe_sampler_config_raises_the_official_message():
    with pytest.raises(InstantiationException, match="The 'motpe' sampler was removed in Optuna 4.0"):
        instantiate(OmegaConf.structured(MOTPESamplerConfig))


# --- end to end ------------------------------------------------------------------------------------
def test_range_is_sampled_with_its_stop_included(sweep):
    code, study, _, _ = sweep("range", "hydra/sweeper/sampler=random", "x=range(1,3)", "y=0",
                              "hydra.sweeper.n_trials=8")
    assert code == 0 and study.get_trials()[0].distributions["x"] == IntDistribution(1, 3)
    drawn = {t.params["x"] for t in study.get_trials()}
    assert 3 in drawn and drawn <= {1, 2, 3}  # seed 0 draws the stop


def test_plus_keys_stay_param_names_and_best_params(sweep):
    code, study, directory, out = sweep("plus", "+w=choice(1,2)", "hydra.sweeper.n_trials=2")
    assert code == 0 and all("+w" in t.params for t in study.get_trials())
    assert "+w" in OmegaConf.load(directory / "optimization_results.yaml").best_params
    assert "+w=" in out  # the job override


@pytest.mark.parametrize(("overrides", "message"), [
    (["hydra/sweeper/sampler=motpe"], "The 'motpe' sampler was removed in Optuna 4.0. Use 'hydra/sweeper/sampler=tpe'"),
    (["+hydra.sweeper.params.lr={type:float,low:0.001,high:0.1,log:true}"],
     "hydra.sweeper.params.lr is a mapping .* write  lr: tag\\(log, interval\\(0.001, 0.1\\)\\)  under "
     "hydra.sweeper.params, or 'lr=tag\\(log, interval\\(0.001, 0.1\\)\\)' on the command line"),
    (["x=interval(1,0)"], r"search space key 'x' \(x=interval\(1,0\)\): `low <= high` must hold.* Allowed: choice"),
    (["y=tag(log, interval(0,1))"], r"search space key 'y' .*`low > 0` must hold for `log=True`.* Allowed: choice"),
    (["+hydra.sweeper.params.z='interval(2,1)'"], r"search space key 'z' .*`low <= high`"),
    (["+hydra.sweeper.foo=1"], "unknown hydra.sweeper option\\(s\\): foo; allowed: blas_threads, "
                               "custom_search_space, direction, .*, n_trials, params, pruner, sampler, search_space"),
])
def test_bad_sweeps_are_refused_before_any_trial_naming_the_key(sweep, overrides, message):
    code, study, directory, out = sweep("bad", *overrides)
    assert code != 0 and study is None and not (directory / "optuna").exists()
    assert re.search(message, out), out[-2000:]
    assert "Traceback" not in out


@pytest.mark.parametrize(("sampler", "package"), [("cmaes", "cmaes"), ("gp", "torch"), ("qmc", "scipy")])
def test_missing_sampler_packages_are_refused_before_any_trial(sweep, monkeypatch, sampler, package):
    target = {"cmaes": "CmaEsSampler", "gp": "GPSampler", "qmc": "QMCSampler"}[sampler]
    # pretend the package is missing, whatever this machine has installed
    monkeypatch.setitem(factories.REQUIREMENTS, target, {"nnscratch_no_such_module": package})
    code, study, directory, out = sweep("deps", f"hydra/sweeper/sampler={sampler}")
    assert code != 0 and study is None and not (directory / "optuna").exists()
    assert f"{target} needs {package}, which is not installed: pip install {package}" in out


def test_sampler_requirements_are_found_where_installed():
    factories.check_requirements({"_target_": "optuna.samplers.TPESampler"})
    factories.check_requirements({"_target_": "optuna.samplers.QMCSampler"})  # scipy comes with our deps


def test_rerun_of_a_complete_study_says_so_loudly(sweep):
    sweep("done", "hydra.sweeper.n_trials=2")
    code, study, directory, out = sweep("done", "hydra.sweeper.n_trials=2")
    path = journal(directory, "done")
    assert code == 0 and len(study.get_trials()) == 2
    assert f"NOTHING TO RUN: study 'done' in {path} is already complete: 2 of n_trials=2 trials are done " \
           "(2 COMPLETE). To run more, raise hydra.sweeper.n_trials (e.g. hydra.sweeper.n_trials=4). To start " \
           f"afresh, set another hydra.sweeper.study_name or delete {path}." in out


def test_rerun_of_an_exhausted_grid_says_the_grid_is_done(sweep):
    grid = ["hydra/sweeper/sampler=grid", "x=choice(0,1)", "y=0"]
    sweep("grid_done", *grid)
    code, _, _, out = sweep("grid_done", *grid)
    assert code == 0 and "is already complete: its grid of 2 points is exhausted (2 COMPLETE). To start afresh" in out


def test_fixed_params_are_trial_user_attrs_and_custom_search_space_adds_plus_keys(sweep):
    code, study, directory, _ = sweep("custom_plus", "y=0", "hydra.sweeper.n_trials=2",
                                      "hydra.sweeper.custom_search_space=sweeper_app.search_space."
                                      "like_the_official_example")
    assert code == 0 and all(t.user_attrs["y"] == "0" and {"x", "+z", "+w"} <= set(t.params)
                             for t in study.get_trials())
    best = OmegaConf.load(directory / "optimization_results.yaml").best_params
    assert abs(best["x"] - best["+z"]) <= 0.5 and 0 <= best["+w"] <= 1


def test_custom_search_space_may_not_suggest_a_fixed_param(sweep):
    code, study, _, out = sweep("overlap", "y=0", "hydra.sweeper.n_trials=2",
                                "hydra.sweeper.custom_search_space=sweeper_app.search_space.suggests_y")
    assert code != 0 and [t.state.name for t in study.get_trials()] == ["FAIL"]
    assert "Overlapping fixed parameters and search space parameters found!Overlapping parameters: ['y']" in \
        study.get_trials()[0].user_attrs["fail_reason"]


def test_optuna_sweeper_impl_takes_the_official_arguments():
    tpe = OmegaConf.structured(TPESamplerConfig(seed=1))
    impl = _impl.OptunaSweeperImpl(tpe, "maximize", None, "s", 3, 1, 0.0, None, OmegaConf.create({"x": "range(1,3)"}))
    assert isinstance(impl, Sweeper)
    with pytest.raises(ValueError, match="search space key 'x'"):
        _impl.OptunaSweeperImpl(tpe, Direction.minimize, None, "s", 3, 1, 0.0, None, {"x": "interval(1,0)"})


def test_deprecated_search_space_sweeps_and_warns_with_the_official_text(sweep, recwarn):
    code, study, _, _ = sweep("legacy", "+hparams_search=legacy_search_space", "hydra.sweeper.n_trials=2")
    assert code == 0 and study.get_trials()[0].distributions == {"x": FloatDistribution(-2, 2),
                                                                  "epochs": IntDistribution(1, 3)}
    texts = {str(w.message) for w in recwarn}
    assert "`hydra.sweeper.search_space` is deprecated and will be removed in the next major release.\n" \
           "Please configure with `hydra.sweeper.params`.\n" \
           "https://hydra.cc/docs/upgrades/1.1_to_1.2/changes_to_sweeper_config/\n" in texts
