"""Search spaces in Hydra override syntax -> Optuna distributions -> job overrides (nnscratch.sweeper.space).

Expected distributions are those the official plugin documents and tests (website/docs/plugins/
optuna_sweeper.md, tests/test_optuna_sweeper_plugin.py of facebookresearch/hydra).
"""
from __future__ import annotations

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from nnscratch.sweeper.space import (SearchSpaceError, encode_value, parse_override, parse_search_space,
                                     sweep_search_space)


def dist(line: str):
    return parse_search_space([line]).params[line.split("=", 1)[0]].distribution


@pytest.mark.parametrize(("line", "expected"), [
    ("x=choice(1, 2.5, a, 'b c', true)", CategoricalDistribution([1, 2.5, "a", "b c", True])),
    ("x=a,b,c", CategoricalDistribution(["a", "b", "c"])),
    ("x=range(1, 3)", IntDistribution(1, 3)),                      # samplers: stop included, as upstream
    ("x=range(1, 9, 2)", IntDistribution(1, 9, step=2)),
    ("x=range(0.5, 5.5, step=1)", FloatDistribution(0.5, 5.5, step=1)),
    ("x=range(0.1, 0.5, 0.1)", FloatDistribution(0.1, 0.5, step=0.1)),
    ("x=range(-5.0, 5.0)", FloatDistribution(-5.0, 5.0, step=1)),
    ("x=range(0, 5, step=0.5)", FloatDistribution(0, 5, step=0.5)),
    ("x=shuffle(range(1, 4))", CategoricalDistribution([1, 2, 3])),
    ("x=interval(0.1, 1)", FloatDistribution(0.1, 1.0)),
    ("x=interval(1, 10)", FloatDistribution(1.0, 10.0)),
    ("x=int(interval(1, 10))", IntDistribution(1, 10)),
    ("x=tag(log, interval(1e-4, 1e-1))", FloatDistribution(1e-4, 1e-1, log=True)),
    ("x=tag(log, int(interval(8, 512)))", IntDistribution(8, 512, log=True)),
    ("+x=choice(1, 2)", CategoricalDistribution([1, 2])),
    ("++x=interval(0, 1)", FloatDistribution(0, 1)),
])
def test_every_override_form_maps_to_its_distribution(line, expected):
    assert dist(line) == expected


def test_list_choices_are_stored_as_text_and_come_back_as_lists():
    space = parse_search_space(["hidden_sizes=choice([128,64],[256,128])", "optimizer=choice(sgd,adam)"])
    param = space.params["hidden_sizes"]
    assert param.distribution == CategoricalDistribution(["[128,64]", "[256,128]"])
    assert param.value("[256,128]") == [256, 128]
    assert space.overrides({"hidden_sizes": "[256,128]", "optimizer": "adam"}) == \
        ["hidden_sizes=[256,128]", "optimizer=adam"]
    assert space.python_values({"hidden_sizes": "[128,64]"}) == {"hidden_sizes": [128, 64]}


def test_plus_keys_keep_their_prefix_as_param_name_and_fixed_lines_stay_verbatim():
    space = parse_search_space(["+lr=tag(log, interval(1e-4, 1e-1))", "+sweep=grid_lr_batch", "~foo", "db=mysql"])
    assert list(space.params) == ["+lr"]
    assert space.overrides({"+lr": 0.001}) == ["+lr=0.001", "+sweep=grid_lr_batch", "~foo", "db=mysql"]
    assert space.fixed_values() == {"+sweep": "grid_lr_batch", "db": "mysql"}
    assert space.delete_overrides() == ["~foo"]


@pytest.mark.parametrize("value", ["adam", "a b", "it's", "true", "1", "null", "", "1e-5", "[1,2]", "x=y",
                                   "back\\slash", 1, -2.5, 1e-05, True, None, [128, 64], {"a": 1, "b": [1, "x y"]}])
def test_encode_value_round_trips_through_hydras_parser(value):
    assert parse_override(f"k={encode_value(value)}").value() == value


def test_last_line_for_a_key_wins_fixed_over_swept_and_swept_over_fixed():
    config_params = ["lr=tag(log, interval(1e-4, 1e-1))", "batch_size=32"]
    space = parse_search_space(config_params + ["lr=0.01", "batch_size=choice(32, 64)"])
    assert "lr" not in space.params and space.fixed["lr"] == "lr=0.01"
    assert "batch_size" not in space.fixed
    assert space.params["batch_size"].distribution == CategoricalDistribution([32, 64])


def test_command_line_arguments_come_after_config_params():
    space = sweep_search_space({"x": "interval(0, 1)", "y": 3}, None, ["x=0.5", "+z=choice(a,b)"])
    assert set(space.params) == {"+z"}
    assert space.fixed == {"y": "y=3", "x": "x=0.5"}


@pytest.mark.filterwarnings("ignore:.*hydra.sweeper.search_space")
def test_legacy_search_space_is_used_only_without_params():
    legacy = {"x": {"type": "float", "low": 0.0, "high": 1.0, "log": False},
              "n": {"type": "int", "low": 1, "high": 9, "step": 2},
              "c": {"type": "categorical", "choices": ["a", "b"]}}
    space = sweep_search_space(None, legacy, ["c=a"])
    assert space.distributions == {"x": FloatDistribution(0.0, 1.0), "n": IntDistribution(1, 9, step=2)}
    assert set(sweep_search_space({"y": "interval(0, 1)"}, legacy, []).params) == {"y"}


@pytest.mark.filterwarnings("ignore:The distribution is specified by")  # Optuna trims range(1, 10, 2) to [1, 9]
def test_grid_visits_hydras_stop_exclusive_range_and_refuses_intervals():
    space = parse_search_space(["a=range(0.0, 1.0, 0.25)", "b=range(2, 8, 3)", "c=choice(x, y)", "d=range(1, 10, 2)",
                                "e=range(-1.0, 1.0, step=1)", "f=int(interval(1, 5))"])
    assert space.grid() == {"a": [0.0, 0.25, 0.5, 0.75], "b": [2, 5], "c": ["x", "y"], "d": [1, 3, 5, 7, 9],
                            "e": [-1.0, 0.0], "f": [1, 2, 3, 4]}  # f: the official rule low, low+step, ... < high
    with pytest.raises(SearchSpaceError, match="lr: interval.*GridSampler only supports discrete"):
        parse_search_space(["lr=interval(0, 1)"]).grid()


def test_unsupported_forms_raise():
    with pytest.raises(SearchSpaceError, match="not supported"):
        parse_search_space(["x=glob(*)"])
    with pytest.raises(SearchSpaceError, match="distinct"):
        parse_search_space(["x=choice('[1,2]', [1,2])"])


@pytest.mark.parametrize(("line", "message"), [
    ("lr=interval(1, 0)", r"key 'lr' \(lr=interval\(1, 0\)\): `low <= high` must hold"),
    ("lr=tag(log, interval(0, 1))", r"key 'lr' .*`low > 0` must hold for `log=True`"),
    ("n=range(5, 1, -2)", r"key 'n' .*step must be > 0"),
    ("n=range(3, 1)", r"key 'n' .*`low <= high` must hold"),
])
def test_invalid_bounds_name_the_key_and_the_allowed_forms(line, message):
    with pytest.raises(SearchSpaceError, match=message) as error:
        parse_search_space([line])
    assert "Allowed: choice(a, b, ...)" in str(error.value) and "0 < low <= high" in str(error.value)


def test_mapping_valued_params_are_refused_with_the_override_syntax():
    params = {"lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True}, "n": {"type": "int", "low": 1, "high": 4}}
    with pytest.raises(SearchSpaceError, match=r"hydra.sweeper.params.lr is a mapping") as error:
        sweep_search_space(params, None, [])
    assert "lr: tag(log, interval(0.0001, 0.1))" in str(error.value)
    assert "'lr=tag(log, interval(0.0001, 0.1))' on the command line" in str(error.value)


def test_search_space_warns_with_the_official_texts():
    legacy = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
    with pytest.warns(UserWarning, match=r"^`hydra.sweeper.search_space` is deprecated and will be removed in the "
                                         r"next major release.\nPlease configure with `hydra.sweeper.params`.\n"
                                         r"https://hydra.cc/docs/upgrades/1.1_to_1.2/changes_to_sweeper_config/"):
        sweep_search_space(None, legacy, [])
    with pytest.warns(UserWarning, match=r"^Both hydra.sweeper.params and hydra.sweeper.search_space are configured."
                                         r"\nHydra will use hydra.sweeper.params for defining search space."):
        assert set(sweep_search_space({"y": "interval(0, 1)"}, legacy, []).params) == {"y"}
